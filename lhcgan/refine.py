"""Refinement that keeps events unweighted: a smooth reweighting of generated events onto the
training sample, applied by rejection.

A GAN learns the bulk of a small sample well and the far tails of the system's kinematics
(m(tt̄), the tops' rapidity gap and pT) poorly: they are extrapolations from a few hundred events.
At 25 000 training events the far m(tt̄) tail of single fits came out 0.68 to 1.18 times truth.
The refiner corrects the generated distribution by an exponential tilt

    w(x) = exp(Σ_F f_F(u_F(x)) + Σ_FG f_FG(u_F(x), u_G(x))) / Z,

one piecewise-linear function f_F per system feature F (m of the primaries together, their
rapidity gap, each primary's pT, the system's rapidity, its pT where it recoils, each primary's
rapidity where asked) and one bilinear f_FG on the grid of two features' knots per pair asked
for (a correlation no sum of single terms can move). The knots of
each f_F sit at fixed quantiles of the generated feature (Gaussian z from −3 to 3), so the tails
get knots of their own. The tilt is the maximum-entropy density ratio: it maximises
Σ_i w_i log w(x_i) over the training events under a smoothness penalty (second differences of
each f_F, P-splines) whose strength, in events, is fixed, so it fades as the sample grows. At its
optimum the generated sample, reweighted, has the training sample's smoothed marginals in every
feature. Few parameters (7 × 13, and 13 × 13 per pair) can import little of the training sample's
noise; they cannot memorise events. The objective is convex: Newton's method finds its minimum. (DCTR, arXiv:2009.03796, refines with a classifier's D/(1 − D); this is the same
ratio with an additive, smooth log.)

Rejection sampling keeps the output unweighted: an event of weight w is emitted ⌊w/w_bound⌋ times and
once more with probability of the remainder, so on average w/w_bound times, exactly, for any w; an
event below the bound is kept with probability w/w_bound. w_bound is the `BOUND_QUANTILE` quantile of
the weights of the generated events the refiner was fitted on (at least 100 000), and the expected
yield per network event is 1/w_bound. The weights' tail is long and thin (the shipped model's reach
2.84 w_bound, where 95 % are below w_bound): bounding at their largest kept 57 % of the network's
events, the 95 % quantile keeps 90 % (the 99 % quantile, 0.4's first, 81 %), and the copies of the 5 %
above it make 0.4 % of the output (E[c²]/E[c] = 1.008 over all events). Each copy gets
fresh random symmetry transforms (a new azimuth, a new z reflection), under which the weight, a function
of invariants, does not change: copies share their invariants (masses, pT, |y|) and nothing else.
A model without the azimuthal symmetry is bounded at the largest weight instead (no copies but the
rare event above it).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lhcgan.errors import ConfigError, InputError
from lhcgan.events import Events
from lhcgan.process import Process
from lhcgan.stats import effective_size
from lhcgan.symmetry import z_odd
from lhcgan.system import recoils, refine_features, to_unsigned

if TYPE_CHECKING:
    from lhcgan.config import FitConfig
    from lhcgan.modelfile import TrainedModel

#: Knots of every feature's function: quantiles of the generated sample at these Gaussian z.
KNOT_Z = np.linspace(-3.0, 3.0, 13)
#: Smoothness penalty in events: λ/N_eff × Σ(Δ²f)² against the mean log-likelihood per event.
STRENGTH = 100.0  # the `refine_strength` default
#: Generated events a refiner is fitted on: 10 per training event, within these bounds.
PER_EVENT, MIN_GENERATED, MAX_GENERATED = 10, 100_000, 4_000_000
#: The generated stream it is fitted on: far from the streams `generate` and its shards use.
SHARD = 2**20
#: Tiny ridge on the knot values: each f_F's constant is shared with the normalisation.
RIDGE = 1e-3
#: the fit's Newton steps: at most this many, the Hessian on at most this many generated events, until
#: the Newton decrement (twice the objective's distance to its minimum, nats per event) is below this
MAX_NEWTON, HESSIAN_EVENTS, NEWTON_TOLERANCE = 50, 200_000, 1e-12
#: The weights' quantile (on the generated events fitted on) that bounds them: above it events are copied.
BOUND_QUANTILE = 0.95  # 0.99 kept 81 % of the shipped model's events, 0.95 keeps 90 %; copies 0.1 % → 0.4 %

def _locate(x: np.ndarray, knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knot interval index (N,) and position in it (N,) ∈ [0, 1] of x (N,) on increasing knots (K,);
    beyond the ends the end knot's value holds (index 0, 0 or K − 2, 1)."""
    i = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, len(knots) - 2)
    width = knots[i + 1] - knots[i]
    t = np.clip(np.where(width > 0, (x - knots[i]) / np.where(width > 0, width, 1.0), 0.0), 0.0, 1.0)
    return i, t


@dataclass
class Refiner:
    """An additive, piecewise-linear log weight on the system features, and its bound.

    Attributes:
        names: the features it uses (F,), from `system_features`.
        knots: (F, K) knot positions in each feature's units.
        values: (F, K) log-weight values at the knots (before normalisation).
        log_norm: log of the generated sample's mean weight exp(f): w = exp(f − log_norm) has mean 1.
        log_bound: log w_bound: the `BOUND_QUANTILE` quantile of log w on the generated events it was fitted
            on (files before 0.4: their largest).
        signed: whether the rapidity features keep their signs.
        training_events: the effective number of training events it was fitted on.
    """

    names: tuple[str, ...]
    knots: np.ndarray
    values: np.ndarray
    log_norm: float
    log_bound: float
    signed: bool = False
    training_events: float = 0.0
    #: per decay channel, log of the tilt's mean on the generator's events of that channel: divided out, so
    #: rejection keeps every channel at the same rate and the sample's channel fractions stay as drawn
    channel_log_norms: dict[str, float] = dataclasses.field(default_factory=dict)
    #: pairs of `names` with a joint term f_FG(u_F, u_G) of their own, bilinear on the two features' knots
    pairs: tuple[tuple[str, str], ...] = ()
    #: (P, K, K) the joint terms' values at the knots' grid, pair by pair
    pair_values: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0, 0)))

    def log_weights(self, events: Events) -> np.ndarray:
        """log w (N,) of events, normalised so that w has mean 1 on the generator's events of each channel."""
        return self.log_weights_of(events.momenta, events.pdg, events.process)

    def log_weights_of(self, momenta: np.ndarray, pdg: np.ndarray, process: Process,
                       features: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """log w (N,) of momenta (N, n, 3) GeV and PDG ids (N, n) of ``process`` (their slot masses and channels);
        ``features``: their signed `refine_features`, where already computed."""
        if features is None:
            features = refine_features(momenta, process.masses_of(pdg), process, self.signed)
        elif not self.signed:
            features = to_unsigned(features, process)
        f = self._tilt(features) - self.log_norm
        if self.channel_log_norms:
            shifts = np.array([self.channel_log_norms.get(c.name, 0.0) for c in process.channels] + [0.0])
            f -= shifts[process.channel_of(pdg)]
        return f

    def _tilt(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """Σ_F f_F + Σ_FG f_FG (N,) of `refine_features` (signed as the refiner is): the tilt's log, unnormalised."""
        f = np.zeros(len(feats[self.names[0]]))
        located = {}
        for k, name in enumerate(self.names):
            i, t = located[name] = _locate(feats[name], self.knots[k])
            f += (1 - t) * self.values[k, i] + t * self.values[k, i + 1]
        for v, (a, b) in zip(self.pair_values, self.pairs):
            (i, s), (j, t) = located[a], located[b]
            f += ((1 - s) * ((1 - t) * v[i, j] + t * v[i, j + 1]) + s * ((1 - t) * v[i + 1, j] + t * v[i + 1, j + 1]))
        return f

    @property
    def acceptance(self) -> float:
        """The expected number of output events per generated event: 1/w_bound (the weights have mean 1)."""
        return float(np.exp(-self.log_bound))

    def largest(self) -> str:
        """Where the tilt weighs most, in words: the feature, its knot and the factor against the mean."""
        v = self.values - self.values.mean(axis=1, keepdims=True)
        k, i = np.unravel_index(np.argmax(np.abs(v)), v.shape)
        return f"{self.names[k]} ≈ {self.knots[k, i]:.3g} (×{np.exp(v[k, i]):.2f})"

    def copies(self, events: Events, rng: np.random.Generator) -> np.ndarray:
        """How many times (N,) int each event is emitted: ⌊w/w_bound⌋, plus one with probability the remainder;
        one uniform each. Most are 0 or 1 (rejection); on average exactly w/w_bound."""
        return self.copies_of(events.momenta, events.pdg, events.process, rng)

    def copies_of(self, momenta: np.ndarray, pdg: np.ndarray, process: Process, rng: np.random.Generator,
                  features: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """`copies` for momenta (N, n, 3) GeV and PDG ids (N, n) of ``process``, before they become `Events`;
        ``features`` as in `log_weights_of`."""
        log_weights = self.log_weights_of(momenta, pdg, process, features)
        return self.copies_from(log_weights, rng.random(len(log_weights)))

    def copies_from(self, log_weights: np.ndarray, u: np.ndarray) -> np.ndarray:
        """`copies` of events with these `log_weights_of` (N,), given one uniform in [0, 1) each (N,)."""
        r = np.exp(log_weights - self.log_bound)
        whole = np.floor(r)
        return (whole + (u < r - whole)).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "knots": self.knots.tolist(), "values": self.values.tolist(),
                "log_norm": self.log_norm, "log_bound": self.log_bound, "signed": self.signed, "training_events": self.training_events,
                "channel_log_norms": dict(self.channel_log_norms), "pairs": [list(p) for p in self.pairs],
                "pair_values": self.pair_values.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Refiner":
        knots = np.asarray(d["knots"], np.float64)
        n_knots = knots.shape[1]
        return cls(tuple(d["names"]), knots, np.asarray(d["values"], np.float64),
                   float(d["log_norm"]), float(d["log_bound"]), bool(d.get("signed", False)), float(d.get("training_events", 0.0)),
                   {k: float(v) for k, v in (d.get("channel_log_norms") or {}).items()},
                   tuple((str(a), str(b)) for a, b in d.get("pairs") or ()),  # files before 0.4: none
                   np.asarray(d.get("pair_values") or [], np.float64).reshape(-1, n_knots, n_knots))

    @classmethod
    def fit(cls, training: Events, generated: Events, *, strength: float = STRENGTH, signed: bool = False,
            recoil: bool | None = None, knot_z: np.ndarray = KNOT_Z, extra: tuple[str, ...] = (),
            pairs: tuple[tuple[str, str], ...] = (), bound_quantile: float = BOUND_QUANTILE) -> "Refiner":
        """The tilt of ``generated`` (unweighted) that best matches ``training`` (weights, signed, allowed).

        ``recoil`` adds the system's pT as a feature (by default where the training sample recoils;
        a balanced sample's system pT is float rounding); ``extra`` names more features of `refine_features`
        (each top's rapidity, ``y_t``, ``y_tbar``); ``pairs`` of them get a joint term each, bilinear on the
        grid of their knots (a feature a pair names joins the features). The penalty is ``strength``/N_eff on
        the sum of squared second differences of the knot values (a joint term's along both of its axes),
        N_eff = (Σw)²/Σw² of the training events. The bound is the ``bound_quantile`` quantile of the
        generated events' weights (1: their largest).
        """

        ft = refine_features(training.momenta, training.masses, training.process, signed)
        fg = refine_features(generated.momenta, generated.masses, generated.process, signed)
        if recoil is None:
            recoil = recoils(ft)
        optional = {f"y_{r.name}" for r in training.process.primaries}  # only where ``extra`` names them
        names = tuple(k for k in ft if k not in optional and (k != "pt_system" or recoil)) + tuple(extra)
        unknown = sorted({k for pair in pairs for k in pair} - set(ft))
        if unknown:
            raise ConfigError(f"unknown refine_pairs features {unknown}; known are {list(ft)}")
        names += tuple(dict.fromkeys(k for pair in pairs for k in pair if k not in names))
        levels = _normal_cdf(knot_z)
        knots = np.stack([np.quantile(fg[k], levels) for k in names])
        knots = np.maximum.accumulate(knots, axis=1)  # ties (a feature with an atom) stay ordered

        w = np.ones(len(training)) if training.weights is None else np.asarray(training.weights, np.float64)
        n_eff = effective_size(training.weights, len(training))

        n_knots = knots.shape[1]
        n_single = len(names) * n_knots
        column = {k: j for j, k in enumerate(names)}

        def design(feats: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            """Per event, the parameters its log weight interpolates and their coefficients, (N, M) each:
            two per feature, four per pair."""
            loc = [_locate(feats[k], knots[j]) for j, k in enumerate(names)]
            idx = [i + j * n_knots + o for j, (i, _) in enumerate(loc) for o in (0, 1)]
            coef = [c for _, t in loc for c in (1 - t, t)]
            for p, (a, b) in enumerate(pairs):
                (i, s), (j, t) = loc[column[a]], loc[column[b]]
                base = n_single + p * n_knots**2 + i * n_knots + j
                idx += [base, base + 1, base + n_knots, base + n_knots + 1]
                coef += [(1 - s) * (1 - t), (1 - s) * t, s * (1 - t), s * t]
            return np.stack(idx, 1), np.stack(coef, 1)

        it, ct = design(ft)
        ig, cg = design(fg)
        n_par = n_single + len(pairs) * n_knots**2
        # the training sample enters only through its mean coefficients: the objective's linear term
        moment = np.bincount(it.ravel(), (ct * (w / w.sum())[:, None]).ravel(), n_par)
        quadratic = (strength * _smoothness(len(names), n_knots, len(pairs)) + RIDGE * np.eye(n_par)) / n_eff
        theta = _minimise(moment, quadratic, ig, cg)
        values = theta[:n_single].reshape(len(names), n_knots)
        pair_values = theta[n_single:].reshape(len(pairs), n_knots, n_knots)
        f = (theta[ig] * cg).sum(1)
        log_norm = float(_log_mean_exp(f))
        # each channel's tilt has mean 1 on its own generated events: rejection then keeps the channels' shares
        channel = generated.process.channel_of(generated.pdg)
        shifts = {c.name: float(_log_mean_exp(f[channel == k]) - log_norm)
                  for k, c in enumerate(generated.process.channels) if (channel == k).any()}
        if len(shifts) < 2:
            shifts = {}
        per_event = np.array([shifts.get(c.name, 0.0) for c in generated.process.channels] + [0.0])[channel]
        log_bound = float(np.quantile(f - log_norm - per_event, bound_quantile))
        return cls(names, knots, values, log_norm, log_bound, signed, n_eff, shifts, tuple(pairs), pair_values)


def _smoothness(n_features: int, n_knots: int, n_pairs: int) -> np.ndarray:
    """(M, M) DᵀD of the second differences D of the knot values: along each feature's knots, and along
    both axes of each joint term's grid (M = n_features·n_knots + n_pairs·n_knots²)."""
    d = np.diff(np.eye(n_knots), 2, axis=0)  # (n_knots − 2, n_knots)
    blocks = [d.T @ d] * n_features
    eye = np.eye(n_knots)
    joint = np.kron(d.T @ d, eye) + np.kron(eye, d.T @ d)  # row-major (i, j) grid: along i, then along j
    blocks += [joint] * n_pairs
    out = np.zeros((sum(len(b) for b in blocks),) * 2)
    k = 0
    for b in blocks:
        out[k:k + len(b), k:k + len(b)] = b
        k += len(b)
    return out


def _minimise(moment: np.ndarray, quadratic: np.ndarray, idx: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """θ (M,) minimising −θ·moment + log mean_n exp(f_n) + θᵀ quadratic θ, f_n = Σ_m θ[idx_nm] coef_nm
    ((N, M) each): Newton's method, the log-mean-exp's Hessian taken on at most `HESSIAN_EVENTS` of the
    N events (its exact gradient on all), a backtracking line search. Convex, so the minimum is unique."""
    n_par = len(moment)
    sub = slice(0, min(len(idx), HESSIAN_EVENTS))
    theta = np.zeros(n_par)

    def value(th: np.ndarray) -> tuple[float, np.ndarray]:
        f = (th[idx] * coef).sum(1)
        return -th @ moment + _log_mean_exp(f) + th @ quadratic @ th, f

    obj, f = value(theta)
    for _ in range(MAX_NEWTON):
        p = np.exp(f - f.max())
        p /= p.sum()
        grad = np.bincount(idx.ravel(), (coef * p[:, None]).ravel(), n_par) - moment + 2 * quadratic @ theta
        step = np.linalg.solve(_hessian(idx[sub], coef[sub], f[sub], n_par) + 2 * quadratic, grad)
        decrement = float(grad @ step)
        if decrement < NEWTON_TOLERANCE:
            break
        t = 1.0
        while True:  # Armijo: a descent direction, the Hessian positive definite
            trial, f_trial = value(theta - t * step)
            if trial <= obj - 0.25 * t * decrement or t < 1e-6:
                break
            t /= 2
        theta, obj, f = theta - t * step, trial, f_trial
    else:  # not seen: with the default penalty it converges in 5 steps, unpenalised in 12–24
        warnings.warn(f"the refinement's fit stopped after {MAX_NEWTON} Newton steps, {decrement:.1e} nats per event "
                      "short of its optimum", stacklevel=3)
    return theta


def _hessian(idx: np.ndarray, coef: np.ndarray, f: np.ndarray, n_par: int) -> np.ndarray:
    """(M, M) Hessian of log Σ_n exp(f_n) in θ on events with parameters ``idx`` and coefficients ``coef``
    ((N, M) each): Σ_n p_n c_n c_nᵀ − ḡḡᵀ, p the events' softmax, ḡ = Σ_n p_n c_n (scattered to θ's slots)."""
    p = np.exp(f - f.max())
    p /= p.sum()
    h = np.zeros(n_par * n_par)
    for s in range(0, len(idx), 20_000):  # (chunk, M, M) keys: bounded memory
        i, c, q = idx[s:s + 20_000], coef[s:s + 20_000], p[s:s + 20_000]
        keys = (i[:, :, None] * n_par + i[:, None, :]).ravel()
        h += np.bincount(keys, (q[:, None, None] * c[:, :, None] * c[:, None, :]).ravel(), n_par * n_par)
    g = np.bincount(idx.ravel(), (coef * p[:, None]).ravel(), n_par)
    return h.reshape(n_par, n_par) - np.outer(g, g)


def _log_mean_exp(f: np.ndarray) -> float:
    """log of the mean of exp(f) (N,), computed without overflow."""
    top = float(f.max())
    return top + float(np.log(np.mean(np.exp(f - top))))


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    from math import erf, sqrt

    return np.array([0.5 * (1 + erf(v / sqrt(2))) for v in np.atleast_1d(z)])


def bound_quantile(symmetries: list[str] | tuple[str, ...]) -> float:
    """The weights' quantile that bounds a model with these symmetries: copies need a continuous symmetry
    (the azimuth) to differ by; without one, the largest weight (1)."""
    return BOUND_QUANTILE if "azimuth" in symmetries else 1.0


def check_refinable(model: "TrainedModel") -> None:
    """Refuse a model conditioned on m_t or √s: one tilt cannot follow a system that moves with the value."""
    if model.conditioning is not None:
        raise ConfigError(f"a model conditioned on {', '.join(model.conditioning.names)} is not refined: one "
                          "tilt of the tt̄ system cannot follow a system that moves with the value")


def refine(model: "TrainedModel", training: Events) -> "TrainedModel":
    """``model`` with a `Refiner` fitted on ``training``, the events it was trained on (not its held-out ones),
    with the model's ``refine_strength``; what `lhcgan fit` does at its end.

    The generated events come from a stream of their own (shard `SHARD` of the model's seed). A model
    conditioned on m_t or √s is refused: one tilt cannot follow a system that moves with the value.
    """
    check_refinable(model)
    n = fitted_size(len(training))
    refiner = Refiner.fit(training, fitted_stream(model, n), **fit_arguments(model.config))
    cfg = model.config
    return dataclasses.replace(model, refiner=refiner, config=cfg.replace(refine=True),
                               meta=model.meta | {"refine_acceptance": refiner.acceptance, "refine_generated": n})


def fit_arguments(config: "FitConfig") -> dict[str, Any]:
    """The `Refiner.fit` keywords a model's settings give: its strength, extra features and pairs, whether the
    rapidities keep their signs (not under z → −z), and the bound its symmetries allow."""
    return {"strength": config.refine_strength, "signed": not z_odd(config.symmetries),
            "extra": tuple(config.refine_extra), "pairs": tuple((a, b) for a, b in config.refine_pairs),
            "bound_quantile": bound_quantile(config.symmetries)}


def fitted_size(training: int) -> int:
    """How many generated events a refiner of ``training`` training events is fitted on."""
    return int(min(max(PER_EVENT * training, MIN_GENERATED), MAX_GENERATED))


def rebound(model: "TrainedModel") -> "TrainedModel":
    """``model`` with its refiner's bound recomputed under today's rule (`BOUND_QUANTILE` of the weights on
    the stream it was fitted on: for files before 0.4's block stream, one like it), the tilt untouched:
    files before 0.4 bounded at the largest weight and kept 57 % where the quantile keeps 90 %."""
    if model.refiner is None:
        raise ConfigError("the model is not refined: there is no bound to recompute")
    refiner = model.refiner
    log_w = refiner.log_weights(fitted_stream(model, int(model.meta.get("refine_generated") or MIN_GENERATED)))
    bounded = dataclasses.replace(refiner, log_bound=float(np.quantile(log_w, bound_quantile(model.config.symmetries))))
    return dataclasses.replace(model, refiner=bounded, meta=model.meta | {"refine_acceptance": bounded.acceptance})


def fitted_stream(model: "TrainedModel", n: int) -> Events:
    """The n unrefined events a refiner of ``model`` is fitted on: shard `SHARD` of the model's seed."""
    plain = dataclasses.replace(model, refiner=None)
    return Events.concatenate(list(plain.iterate(n, seed=model.config.seed, shard=SHARD)))


def training_events(model: "TrainedModel", sample: Events) -> Events:
    """The events of ``sample`` that ``model`` was trained on: its held-out split undone with the model's
    split seed. Refused where the sample is not the one the model learnt (its sizes differ)."""
    from lhcgan.sample import split_holdout

    check_refinable(model)
    sample = sample.present()
    meta = model.meta
    if meta.get("split_seed") is None or meta.get("training_events") is None:
        raise InputError("the model file does not record how its sample was split", path=meta.get("source"),
                         hint="refine models written by `lhcgan fit`")
    train, held = split_holdout(sample, model.config.holdout, int(meta["split_seed"]))
    if (len(train), len(held)) != (meta["training_events"], meta.get("heldout_events", 0)):
        raise InputError(f"the model learnt {meta['training_events']} events and held out "
                         f"{meta.get('heldout_events', 0)}; this sample splits into {len(train)} and {len(held)}",
                         path=sample.meta.get("source"), hint="give the sample the model was trained on")
    return train
