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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lhcgan.stats import effective_size, weighted_quantiles

#: Observables the worth is measured on: pT and η of every particle, the resonance masses and m(tt̄).
PREFIXES = ("pt_", "eta_", "m_")
BINS = 50


def recoils(observables: dict[str, np.ndarray]) -> bool:
    """Whether a sample's tt̄ system recoils: its median pT is above 1 MeV, not storage rounding (~1e-5 GeV)."""
    return float(np.median(observables["pt_ttbar"])) > 1e-3


def worth_names(observables: dict[str, np.ndarray]) -> list[str]:
    """The names among ``observables`` that the worth is measured on (pT, η, masses; no φ, no sums; the tt̄
    system's pT only where it `recoils`)."""
    return [k for k in observables if k.startswith(PREFIXES) and (k != "pt_ttbar" or recoils(observables))]


def _fractions(values: np.ndarray, edges: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Fraction of Σw (or of events) in each bin of ``edges`` (B + 1,); values outside go to the end bins."""
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    h = np.bincount(idx, weights=weights, minlength=len(edges) - 1).astype(np.float64)
    total = h.sum()
    return h / total if total != 0 else h


@dataclass
class WorthReference:
    """Quantile bins and the reference's fractions in them, per observable.

    Attributes:
        edges: name → (B + 1,) bin edges, in the observable's units.
        fractions: name → (B,) fractions of the reference sample in those bins.
        size: the reference's (effective) number of events.
    """

    edges: dict[str, np.ndarray]
    fractions: dict[str, np.ndarray]
    size: float

    @classmethod
    def from_samples(cls, binning: dict[str, np.ndarray], reference: dict[str, np.ndarray], *,
                     names: list[str] | None = None, bins: int = BINS,
                     reference_weights: np.ndarray | None = None,
                     binning_weights: np.ndarray | None = None) -> "WorthReference":
        """Edges from the quantiles of ``binning``, fractions from ``reference`` (observables name → (N,))."""
        names = names or worth_names(reference)
        levels = np.linspace(0, 1, bins + 1)
        edges = {}
        for k in names:
            e = weighted_quantiles(binning[k], levels, binning_weights, magnitude=True)
            e[0], e[-1] = -np.inf, np.inf  # everything falls into a bin
            edges[k] = e
        n = len(next(iter(reference.values())))
        fractions = {k: _fractions(reference[k], edges[k], reference_weights) for k in names}
        return cls(edges, fractions, effective_size(reference_weights, n))

    @classmethod
    def from_truth(cls, truth: dict[str, np.ndarray], *, weights: np.ndarray | None = None, bins: int = BINS,
                   seed: int = 0) -> "WorthReference":
        """Split one truth sample at random: half for the edges, half for the reference."""
        n = len(next(iter(truth.values())))
        perm = np.random.default_rng(seed).permutation(n)
        a, b = perm[: n // 2], perm[n // 2 :]
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        return cls.from_samples({k: v[a] for k, v in truth.items()}, {k: v[b] for k, v in truth.items()},
                                bins=bins, binning_weights=None if w is None else w[a],
                                reference_weights=None if w is None else w[b])

    def measure(self, sample: dict[str, np.ndarray], weights: np.ndarray | None = None, *,
                intrinsic: bool = False) -> dict:
        """The worth of ``sample`` (observables name → (N,)), in truth events.

        With ``intrinsic`` the sample's own expected binomial noise is subtracted too: the
        worth of an unlimited sample from the same generator, for comparing generators.

        Returns a dict: ``worth`` (all observables together), ``worst`` and
        ``worst_observable`` (the single observable worth least), ``per_observable``,
        ``worth_range`` (the worth at ∓1σ of the MSE estimate, bins taken as independent),
        ``mse`` (reference error subtracted), ``reference_events``, ``events`` (the sample's
        effective size). A worth beyond what the reference can resolve is reported as inf.
        """
        n = len(next(iter(sample.values())))
        per, d2_all, pq_all, noise_all = {}, [], [], []
        for k, e in self.edges.items():
            fref = self.fractions[k]
            d2 = (_fractions(sample[k], e, weights) - fref) ** 2
            pq = fref * (1 - fref)
            noise = pq / self.size + (pq / effective_size(weights, n) if intrinsic else 0)
            per[k] = _worth(float(pq.mean()), float(d2.mean() - noise.mean()))
            d2_all.append(d2)
            pq_all.append(pq)
            noise_all.append(noise)
        d2, pq, noise = (np.concatenate(a) for a in (d2_all, pq_all, noise_all))
        mse = float(d2.mean() - noise.mean())
        # each bin's squared difference scatters like a χ² of one degree: variance 2 E[d²]², with E[d²]
        # taken as its observable's mean
        sigma = float(np.sqrt(2 * sum(len(x) * x.mean() ** 2 for x in d2_all)) / len(d2))
        worst = min(per, key=per.get)
        return {
            "worth": _worth(float(pq.mean()), mse),
            "worth_range": [_worth(float(pq.mean()), mse + sigma), _worth(float(pq.mean()), mse - sigma)],
            "worst": per[worst],
            "worst_observable": worst,
            "per_observable": per,
            "mse": mse,
            "inverse_worth": mse / float(pq.mean()),  # 1/worth, and below zero where worth is beyond resolution
            "reference_events": self.size,
            "events": effective_size(weights, n),
        }


def _worth(pq: float, mse: float) -> float:
    return pq / mse if mse > 0 else float("inf")


def worth(sample: dict[str, np.ndarray], truth: dict[str, np.ndarray], *, weights: np.ndarray | None = None,
          truth_weights: np.ndarray | None = None, bins: int = BINS, seed: int = 0) -> dict:
    """`WorthReference.measure` of ``sample`` against one truth sample split in halves (see the module)."""
    ref = WorthReference.from_truth({k: truth[k] for k in worth_names(truth)}, weights=truth_weights, bins=bins,
                                    seed=seed)
    return ref.measure(sample, weights)
