"""How many truth events a sample is worth (GANplifying: Butter et al., SciPost Phys. 10, 139).

A truth sample of n events misses the true fraction p of a bin by p(1 − p)/n in
mean square. The worth of any sample, generated or not, is the n that would miss
by as much: the mean binomial variance over bins divided by the sample's mean
squared error. Measured against an independent reference sample, whose own
expected error is subtracted, so the figure is unbiased for truth samples.

Bins are quantiles (50 per observable by default), their edges fixed on one
sample and the reference fractions taken from another: `lhcgan validate` splits
its truth sample in halves, `lhcgan fit` takes the edges from its training events
and the reference from its held-out events. φ is left out: the random azimuth
makes it exact. Weights enter everywhere: fractions are Σw per bin over Σw, and a
weighted sample counts with its effective size (Σw)²/Σw².

Three kinds of worth, each an aggregate over its bins and the least of its members:

* marginal: the partons' pT and η, the resonance masses and m(tt̄) (50 quantile bins each);
* system: the tt̄-system observables analyses publish: each top's pT and rapidity, m(tt̄), |Δy|, and
  pT(tt̄) where the sample recoils (50 bins each);
* pairwise: pairs of them, on 10 × 10 cells of their quantiles, which measures correlations that every
  marginal misses (a sample with two observables shuffled against each other is exact in both).

The 1σ range of a worth follows from the covariance of all its bins' fractions, estimated from the
reference and the sample event by event: the bins of different observables are filled by the same
events and fluctuate together, so counting them as independent would make the range far too narrow.

Where the binning sample is itself truth of known worth (`lhcgan fit`'s training events beside its
held-out reference), it is measured against the reference too (``control``): a small reference's own
error in one draw differs from its expectation by several σ of a worth far above its size, and the
control shows that error as it fell, so it is subtracted instead of its expectation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from lhcgan.stats import effective_size, weighted_quantiles
from lhcgan.system import RECOIL

#: Observables the marginal worth is measured on: pT and η of every particle, the resonance masses and m(tt̄).
PREFIXES = ("pt_", "eta_", "m_")
BINS = 50
PAIR_BINS = 10  # per axis of a pair: 10 × 10 cells
PAIR = "×"  # joins a pair's names: "pt_t×y_t"
KINDS = ("marginal", "system", "pairwise")

#: The tt̄ system's observables (named after TTBAR's primaries t and t̄, as `metrics.observables` names them).
SYSTEM = ("pt_t", "pt_tbar", "y_t", "y_tbar", "m_ttbar", "absdy_ttbar", "pt_ttbar")
#: Pairs whose correlations analyses rely on: the tt̄ system's, a top's decay, the b quarks'.
PAIRS = (("m_ttbar", "absdy_ttbar"), ("pt_t", "pt_tbar"), ("pt_t", "y_t"), ("y_t", "y_tbar"),
         ("m_ttbar", "pt_t"), ("m_t", "m_W+"), ("pt_b", "pt_q_Wp"), ("eta_b", "eta_bbar"))
_SYSTEM_ONLY = ("pt_t", "pt_tbar", "y_t", "y_tbar", "absdy_ttbar")


def recoils(observables: dict[str, np.ndarray]) -> bool:
    """Whether a sample's tt̄ system recoils: its median pT is above `system.RECOIL`, not storage rounding."""
    return float(np.median(observables["pt_ttbar"])) > RECOIL


def worth_names(observables: dict[str, np.ndarray], kind: str = "marginal") -> list[str]:
    """The names among ``observables`` that the ``kind`` of worth is measured on (see the module): for
    "pairwise", pair keys "a×b". No φ, no sums; the tt̄ system's pT only where it `recoils`."""
    keep = [k for k in observables if k != "pt_ttbar" or recoils(observables)]
    if kind == "marginal":
        return [k for k in keep if k.startswith(PREFIXES) and k not in _SYSTEM_ONLY]
    if kind == "system":
        return [k for k in SYSTEM if k in keep]
    if kind == "pairwise":
        return [a + PAIR + b for a, b in PAIRS if a in keep and b in keep]
    raise ValueError(f"unknown kind of worth {kind!r}; known are {KINDS}")


def _cells(values: dict[str, np.ndarray], name: str, edges: tuple[np.ndarray, ...]) -> np.ndarray:
    """Each event's bin (N,) of observable ``name``, or for a pair "a×b" its cell (row-major)."""
    idx: Any = 0
    for axis, e in zip(name.split(PAIR), edges):
        i = np.clip(np.searchsorted(e, values[axis], side="right") - 1, 0, len(e) - 2)
        idx = idx * (len(e) - 1) + i
    return np.asarray(idx, dtype=np.int64)


def _fractions(cells: np.ndarray, n_cells: int, weights: np.ndarray | None) -> np.ndarray:
    """Fraction of Σw (or of events) in each of ``n_cells`` cells, given each event's cell."""
    h = np.bincount(cells, weights=weights, minlength=n_cells).astype(np.float64)
    total = h.sum()
    return h / total if total != 0 else h


def _covariance(cells: list[np.ndarray], sizes: list[int], weights: np.ndarray | None) -> np.ndarray:
    """The covariance (K, K) of the K = Σ sizes fractions of one sample, from its events' cells in each
    binning: Σ_i w_i² (1_a(i) − f_a)(1_b(i) − f_b) / (Σw)², the multinomial one where unweighted."""
    n = len(cells[0])
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    w2, total = w * w, w.sum()
    offsets = np.cumsum([0, *sizes])
    f = np.concatenate([_fractions(c, k, weights) for c, k in zip(cells, sizes)])
    s1 = np.concatenate([np.bincount(c, weights=w2, minlength=k) for c, k in zip(cells, sizes)])
    joint = np.zeros((offsets[-1], offsets[-1]))
    for a, (ca, ka) in enumerate(zip(cells, sizes)):
        for b in range(a, len(cells)):
            kb = sizes[b]
            block = np.bincount(ca * kb + cells[b], weights=w2, minlength=ka * kb).reshape(ka, kb)
            joint[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]] = block
            joint[offsets[b]:offsets[b + 1], offsets[a]:offsets[a + 1]] = block.T
    cov = joint - np.outer(s1, f) - np.outer(f, s1) + w2.sum() * np.outer(f, f)
    return cov / total**2 if total != 0 else cov


#: events of a large sample the covariance is estimated from (it scales as 1/N; its shape needs no more)
COVARIANCE_EVENTS = 200_000


@dataclass
class WorthReference:
    """Quantile bins and the reference's fractions in them, per observable or pair.

    Attributes:
        edges: name → one (B + 1,) array of bin edges per axis (one for an observable, two for a pair
            "a×b"), in the observables' units.
        fractions: name → (B,) fractions of the reference sample in those bins (B × B cells of a pair).
        size: the reference's (effective) number of events.
        reference_cells, reference_weights: the reference's cells (N,) for each binning, and its weights: what
            the covariance of the fractions is estimated from (None: ranges count bins as independent).
        control: name → the binning sample's fractions in the same bins, where that sample is truth of known
            worth, its (effective) size ``control_size``: measured against the reference too, it shows the
            reference's own error as it fell, which `measure` subtracts in place of its expectation (a control
            variate; see `from_samples`). None: the expectation is subtracted.
    """

    edges: dict[str, tuple[np.ndarray, ...]]
    fractions: dict[str, np.ndarray]
    size: float
    reference_cells: dict[str, np.ndarray] | None = None
    reference_weights: np.ndarray | None = None
    control: dict[str, np.ndarray] | None = None
    control_size: float | None = None

    @classmethod
    def from_samples(cls, binning: dict[str, np.ndarray], reference: dict[str, np.ndarray], *,
                     names: list[str] | None = None, bins: int = BINS, pair_bins: int = PAIR_BINS,
                     reference_weights: np.ndarray | None = None, binning_weights: np.ndarray | None = None,
                     control: bool = False) -> "WorthReference":
        """Edges from the quantiles of ``binning``, fractions from ``reference`` (observables name → (N,));
        ``names`` may hold pair keys "a×b" (default: the marginal `worth_names`).

        ``control``: ``binning`` is itself a truth sample (`lhcgan fit`'s training events, beside its held-out
        reference), worth its effective size. A small reference misses the truth by more or less than its
        expected p(1 − p)/n in any one draw (several σ of a worth beyond the reference's size); measuring
        the binning sample against it as well shows that miss, and `measure` subtracts it instead of its
        expectation. The estimate stays unbiased (the reference is independent of both samples) and its σ
        shrinks 2–2.6× on tt̄ events with a reference a ninth of the binning sample.
        """
        names = names or worth_names(reference)
        cache: dict[tuple[str, int], np.ndarray] = {}

        def quantile_edges(k: str, b: int) -> np.ndarray:
            if (k, b) not in cache:
                e = weighted_quantiles(binning[k], np.linspace(0, 1, b + 1), binning_weights, magnitude=True)
                e[0], e[-1] = -np.inf, np.inf  # everything falls into a bin
                cache[k, b] = e
            return cache[k, b]

        edges = {k: tuple(quantile_edges(a, pair_bins if PAIR in k else bins) for a in k.split(PAIR)) for k in names}
        cells = {k: _cells(reference, k, e).astype(np.int32) for k, e in edges.items()}
        fractions = {k: _fractions(cells[k], _size(edges[k]), reference_weights) for k in names}
        n = len(next(iter(reference.values())))
        w = None if reference_weights is None else np.asarray(reference_weights, dtype=np.float64)
        keep = None
        if n > COVARIANCE_EVENTS:  # a random subset estimates the covariance's shape
            keep = np.sort(np.random.default_rng(0).choice(n, COVARIANCE_EVENTS, replace=False))
        fb = cs = None
        if control:
            fb = {k: _fractions(_cells(binning, k, e), _size(e), binning_weights) for k, e in edges.items()}
            cs = effective_size(binning_weights, len(next(iter(binning.values()))))
        return cls(edges, fractions, effective_size(w, n),
                   {k: c if keep is None else c[keep] for k, c in cells.items()},
                   None if w is None else (w if keep is None else w[keep]), fb, cs)

    @classmethod
    def from_truth(cls, truth: dict[str, np.ndarray], *, weights: np.ndarray | None = None, bins: int = BINS,
                   names: list[str] | None = None, seed: int = 0) -> "WorthReference":
        """Split one truth sample at random: half for the edges, half for the reference."""
        n = len(next(iter(truth.values())))
        perm = np.random.default_rng(seed).permutation(n)
        a, b = perm[: n // 2], perm[n // 2 :]
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        return cls.from_samples({k: v[a] for k, v in truth.items()}, {k: v[b] for k, v in truth.items()},
                                names=names, bins=bins, binning_weights=None if w is None else w[a],
                                reference_weights=None if w is None else w[b])

    def subset(self, names: list[str]) -> "WorthReference":
        """This reference restricted to ``names``."""
        pick = {k: v for k, v in self.edges.items() if k in names}
        cells = None if self.reference_cells is None else {k: self.reference_cells[k] for k in pick}
        control = None if self.control is None else {k: self.control[k] for k in pick}
        return WorthReference(pick, {k: self.fractions[k] for k in pick}, self.size, cells, self.reference_weights,
                              control, self.control_size)

    def measure(self, sample: dict[str, np.ndarray], weights: np.ndarray | None = None, *,
                intrinsic: bool = False, uncertainty: bool = True) -> dict:
        """The worth of ``sample`` (observables name → (N,)), in truth events.

        With ``intrinsic`` the sample's own expected binomial noise is subtracted too: the
        worth of an unlimited sample from the same generator, for comparing generators.

        Returns a dict: ``worth`` (all observables together), ``model_worth`` and ``model_worth_range``
        (the worth of unlimited events from the same generator: the sample's own noise subtracted too;
        a finite sample is worth less than its generator, at most its own size), ``worst`` and
        ``worst_observable`` (the single observable or pair worth least), ``per_observable``,
        ``worth_range`` (the worth at ∓1σ of the MSE estimate, σ from the covariance of all bins of
        reference and sample where ``uncertainty`` is on and the reference kept its cells, else
        counting bins as independent), ``mse`` (reference error subtracted: as the ``control`` measured it,
        where the reference has one, else its expectation), ``reference_events``,
        ``events`` (the sample's effective size). A worth beyond what the reference can resolve is
        reported as inf.
        """
        n = len(next(iter(sample.values())))
        n_eff = effective_size(weights, n)
        per, d_all, d2_all, pq_all, noise_all, cells_all, dc_all = {}, [], [], [], [], [], []
        for k, e in self.edges.items():
            fref = self.fractions[k]
            cells = _cells(sample, k, e)
            d = _fractions(cells, len(fref), weights) - fref
            pq = fref * (1 - fref)
            if self.control is not None and self.control_size:
                # the reference's error as it fell: the control's squared difference, less the control's own
                dc = self.control[k] - fref
                dc_all.append(dc)
                noise = dc * dc - pq / self.control_size
            else:
                noise = pq / self.size
            noise = noise + (pq / n_eff if intrinsic else 0)
            per[k] = _worth(float(pq.mean()), float((d * d).mean() - noise.mean()))
            d_all.append(d)
            d2_all.append(d * d)
            pq_all.append(pq)
            noise_all.append(noise)
            cells_all.append(cells)
        d, d2, pq, noise = (np.concatenate(a) for a in (d_all, d2_all, pq_all, noise_all))
        mse = float(d2.mean() - noise.mean())
        if uncertainty and self.reference_cells is not None:
            sigma = self._sigma(d, cells_all, weights, n_eff, np.concatenate(dc_all) if dc_all else None)
        else:
            # each bin's squared difference scatters like a χ² of one degree: variance 2 E[d²]², with E[d²]
            # taken as its observable's mean, bins taken as independent
            sigma = float(np.sqrt(2 * sum(len(x) * x.mean() ** 2 for x in d2_all)) / len(d2))
        worst = min(per, key=per.get)
        # the generator's worth: the sample's own expected binomial noise subtracted as well (as ``intrinsic``)
        own = 0.0 if intrinsic else float(pq.mean()) / n_eff
        return {
            "worth": _worth(float(pq.mean()), mse),
            "model_worth": _worth(float(pq.mean()), mse - own),
            "model_worth_range": [_worth(float(pq.mean()), mse - own + sigma), _worth(float(pq.mean()), mse - own - sigma)],
            "worth_range": [_worth(float(pq.mean()), mse + sigma), _worth(float(pq.mean()), mse - sigma)],
            "worst": per[worst],
            "worst_observable": worst,
            "per_observable": per,
            "mse": mse,
            "inverse_worth": mse / float(pq.mean()),  # 1/worth, and below zero where worth is beyond resolution
            "reference_events": self.size,
            "events": n_eff,
        }

    @functools.cached_property
    def _reference_covariance(self) -> np.ndarray:
        """The covariance (K, K) of the reference's fractions, from its kept cells, scaled to its whole size;
        the same for every sample measured against it."""
        sizes = [len(f) for f in self.fractions.values()]
        cov = _covariance(list(self.reference_cells.values()), sizes, self.reference_weights)
        n_kept = len(next(iter(self.reference_cells.values())))
        # a subset's covariance, scaled to the whole reference
        return cov * effective_size(self.reference_weights, n_kept) / self.size

    def _sigma(self, d: np.ndarray, sample_cells: list[np.ndarray], weights: np.ndarray | None,
               n_eff: float, dc: np.ndarray | None = None) -> float:
        """σ of the mean squared difference over all K bins: for Gaussian differences d ~ N(δ, Σ),
        Var Σd² = 2 tr Σ² + 4 δᵀΣδ, with Σ the reference's covariance plus the sample's, δᵀΣδ estimated
        as dᵀΣd − tr Σ².

        With the control's differences ``dc`` (K,) the reference's noise c enters Σd² − Σdc² only linearly,
        as −2(d − dc)·c, where d − dc is the sample less the control and holds no c: Var = 4 (d − dc)ᵀΣ_r(d − dc)
        for the reference (Σ_r), 2 tr(Σ_c + Σ_s)² for the control's and the sample's own noise (Σ_c: the
        reference's covariance scaled to the control's size), 4 (dᵀΣ_s d − tr Σ_sΣ) for the sample's linear one."""
        sizes = [len(f) for f in self.fractions.values()]
        cov = self._reference_covariance.copy()
        n = len(sample_cells[0])
        keep: Any = slice(None)
        if n > COVARIANCE_EVENTS:
            keep = np.sort(np.random.default_rng(1).choice(n, COVARIANCE_EVENTS, replace=False))
        w = None if weights is None else np.asarray(weights, dtype=np.float64)[keep]
        sub = [c[keep] for c in sample_cells]
        cov_s = _covariance(sub, sizes, w) * effective_size(w, len(sub[0])) / n_eff
        if dc is not None and self.control_size:
            own = cov_s + cov * (self.size / self.control_size)
            dg = d - dc
            linear = float(d @ cov_s @ d) - float(np.sum(cov_s * (cov + cov_s)))
            var = 2 * float(np.sum(own * own)) + 4 * float(dg @ cov @ dg) + 4 * max(linear, 0.0)
            return float(np.sqrt(var)) / len(d)
        cov += cov_s
        tr2 = float(np.sum(cov * cov))
        dsd = float(d @ cov @ d)
        var = 2 * tr2 + 4 * max(dsd - tr2, 0.0)
        return float(np.sqrt(var)) / len(d)


def _size(edges: tuple[np.ndarray, ...]) -> int:
    return int(np.prod([len(e) - 1 for e in edges]))


def _worth(pq: float, mse: float) -> float:
    return pq / mse if mse > 0 else float("inf")


def worth(sample: dict[str, np.ndarray], truth: dict[str, np.ndarray], *, weights: np.ndarray | None = None,
          truth_weights: np.ndarray | None = None, bins: int = BINS, seed: int = 0, kind: str = "marginal") -> dict:
    """`WorthReference.measure` of ``sample`` against one truth sample split in halves (see the module)."""
    names = worth_names(truth, kind)
    columns = {a for k in names for a in k.split(PAIR)}
    ref = WorthReference.from_truth({k: truth[k] for k in columns}, weights=truth_weights, bins=bins, names=names,
                                    seed=seed)
    return ref.measure(sample, weights)


def worth_by_kind(sample: dict[str, np.ndarray], reference: WorthReference, weights: np.ndarray | None = None
                  ) -> dict[str, dict]:
    """The marginal, system and pairwise worth of ``sample`` against ``reference`` (which holds the
    names of all three kinds), kind → `WorthReference.measure`'s dict; kinds the reference lacks are left out."""
    out = {}
    for kind in KINDS:
        names = [k for k in worth_names(sample, kind) if k in reference.edges]
        if names:
            out[kind] = reference.subset(names).measure(sample, weights)
    return out


def all_names(observables: dict[str, np.ndarray]) -> list[str]:
    """The names of all three kinds of worth among ``observables``, each once."""
    return list(dict.fromkeys(k for kind in KINDS for k in worth_names(observables, kind)))
