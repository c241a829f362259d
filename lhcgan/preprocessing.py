"""Invertible maps between 3-momenta (N, 6, 3) GeV and the network's (N, 18) tensor.

Two parametrisations, both fitted on the training sample, saved with the model,
exactly invertible and written once for numpy arrays and torch tensors:

* `Standardizer`: each momentum component standardised to zero mean, unit variance.
* `DecayParametrisation` (the default): per top, its pT, η, φ, the top and W
  masses and the decay angles of t → W b and W → q q̄′ in helicity frames, each
  then mapped by `QuantileMap` onto a unit logistic distribution. The resonance
  masses are coordinates of their own, so a narrow peak is a narrow marginal for
  the network instead of a cancellation among momenta, and every generated event
  is on its mass shells by construction. In these coordinates tt̄ events are
  nearly independent marginals: only the top's pT, η and the t̄'s η are
  correlated, so the generator's job is small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lhcgan import physics
from lhcgan.errors import ConfigError
from lhcgan.physics import Array, lib
from lhcgan.process import Process, particle_of
from lhcgan.stats import smoothed_quantiles, weighted_mean_std, weighted_quantiles

#: Per-event pole masses {particle: (N,) GeV} ("t" for t and t̄, "W" for both W) where a conditioned
#: model sets them; the process's own poles where absent.
Poles = dict[str, Array]


class Standardizer:
    """Per-coordinate standardisation of flattened momenta.

    Attributes:
        mean: (18,) float64, GeV.
        scale: (18,) float64, GeV, strictly positive.
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.scale = np.asarray(scale, dtype=np.float64).reshape(-1)
        assert self.mean.shape == self.scale.shape and (self.scale > 0).all()

    @classmethod
    def fit(cls, momenta: np.ndarray, weights: np.ndarray | None = None) -> "Standardizer":
        """Fit on training momenta (N, n, 3) GeV, with their (N,) weights where weighted."""
        mean, scale = weighted_mean_std(np.asarray(momenta).reshape(len(momenta), -1), weights)
        return cls(mean, np.where(scale > 0, scale, 1.0))

    def _constants(self, like: Array) -> tuple[Any, Any]:
        if lib(like) is np:
            return self.mean.astype(like.dtype), self.scale.astype(like.dtype)
        torch = lib(like)
        kw = {"dtype": like.dtype, "device": like.device}
        return torch.as_tensor(self.mean, **kw), torch.as_tensor(self.scale, **kw)

    def forward(self, momenta: Array) -> Array:
        """(N, n, 3) GeV → (N, 3n) standardised."""
        flat = momenta.reshape(momenta.shape[0], -1)
        mean, scale = self._constants(flat)
        return (flat - mean) / scale

    def inverse(self, x: Array) -> Array:
        """(N, 3n) standardised → (N, n, 3) GeV."""
        mean, scale = self._constants(x)
        return (x * scale + mean).reshape(x.shape[0], -1, 3)

    def state_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, list[float]]) -> "Standardizer":
        return cls(np.array(state["mean"]), np.array(state["scale"]))


#: scale of the unit-variance logistic distribution: logit(u) · √3/π has variance 1
LOGISTIC = float(np.sqrt(3.0) / np.pi)


class QuantileMap:
    """Per-coordinate monotone map of (N, D) values onto a unit-variance logistic distribution.

    y = logit(F(x)) · √3/π with F the training sample's CDF, piecewise linear between
    quantile knots; the inverse interpolates back. Outside the outermost knots values
    are clamped to them: generated coordinates stay within the training range.

    Attributes:
        levels: (K,) strictly increasing CDF levels in (0, 1), shared by all coordinates.
        knots: (D, K) strictly increasing quantiles per coordinate, in the coordinate's units.
    """

    def __init__(self, levels: np.ndarray, knots: np.ndarray) -> None:
        self.levels = np.asarray(levels, dtype=np.float64)
        self.knots = np.asarray(knots, dtype=np.float64)
        assert self.knots.ndim == 2 and self.knots.shape[1] == len(self.levels)
        assert (np.diff(self.knots, axis=1) > 0).all() and (np.diff(self.levels) > 0).all()
        self._cache: tuple | None = None  # (device, knots, levels) as torch tensors, made on first use
        # levels evenly spaced in logit(u) (as `fit` makes them) let the inverse find its interval by
        # arithmetic instead of a binary search
        logit = np.log(self.levels / (1 - self.levels))
        step = np.diff(logit)
        self._even = (float(logit[0]), float(step.mean())) if np.allclose(step, step.mean(), rtol=1e-9) else None

    @classmethod
    def fit(cls, x: np.ndarray, n_knots: int = 2048, tie: list[list[int]] | None = None,
            weights: np.ndarray | None = None, smooth: list[int] | None = None) -> "QuantileMap":
        """Fit on training values (N, D); knots are denser in the tails (even steps in logit(u)).

        ``tie``: groups of columns that share one distribution (e.g. the t and t̄ masses); each group's
        knots are fitted on its columns' values pooled, so the fit sees all of them.
        ``weights``: (N,) event weights, signed allowed: the knots are quantiles of the weighted CDF.
        ``smooth``: columns whose knots are quantiles of the sample's `smoothed_cdf` instead of its
        empirical one, so that the map does not carry the sample's fluctuations (see `smoothed_quantiles`).
        """
        x = np.asarray(x, dtype=np.float64)
        edge = np.log(2.0 * len(x))  # logit of the outermost level 1/(2N)
        levels = 1.0 / (1.0 + np.exp(-np.linspace(-edge, edge, n_knots)))
        knots = weighted_quantiles(x, levels, weights).T.copy()
        for c in smooth or []:
            knots[c] = smoothed_quantiles(x[:, c], levels, weights)
        # the whole training range inverts exactly (a smoothed map reaches a little beyond it)
        knots[:, 0], knots[:, -1] = np.minimum(knots[:, 0], x.min(axis=0)), np.maximum(knots[:, -1], x.max(axis=0))
        for group in tie or []:
            pooled = x[:, group].reshape(-1)
            pooled_w = None if weights is None else np.tile(np.asarray(weights)[:, None], (1, len(group))).reshape(-1)
            knots[group] = weighted_quantiles(pooled[:, None], levels, pooled_w)[:, 0]
            knots[group, 0], knots[group, -1] = pooled.min(), pooled.max()
        # ties (a repeated value) would make the inverse ambiguous: spread them by a hair
        span = knots[:, -1:] - knots[:, :1]
        knots = knots + np.arange(n_knots) * (1e-12 * np.where(span > 0, span, 1.0))
        knots = np.maximum.accumulate(knots, axis=1)
        return cls(levels, knots)

    @property
    def bounds(self) -> tuple[float, float]:
        """The logistic coordinates of the outermost knots: the range the inverse covers."""
        lo, hi = self.levels[0], self.levels[-1]
        return float(np.log(lo / (1 - lo)) * LOGISTIC), float(np.log(hi / (1 - hi)) * LOGISTIC)

    def forward(self, x: Array, columns: list[int] | None = None) -> Array:
        """(N, D) values → (N, D) logistic coordinates; with ``columns``, x holds only those."""
        xp = lib(x)
        u = _interp(x, *self._constants(x, columns))
        return xp.log(u / (1 - u)) * LOGISTIC

    def inverse(self, y: Array, columns: list[int] | None = None) -> Array:
        """(N, D) logistic coordinates → (N, D) values, within the outermost knots; ``columns`` as in forward."""
        knots, levels = self._constants(y, columns)
        xp = lib(y)
        u = 1 / (1 + xp.exp(-y / LOGISTIC))
        if self._even is None:
            return _interp(u, levels, knots)
        start, step = self._even
        if xp is np:  # 2.5× faster than np.interp's binary search over 2048 knots
            idx = np.clip(np.floor((y.T / LOGISTIC - start) / step), 0, len(self.levels) - 2).astype(np.intp)
        else:
            with xp.no_grad():
                idx = ((y / LOGISTIC - start) / step).floor_().clamp_(0, len(self.levels) - 2).long().T.contiguous()
        return _interp(u, levels, knots, idx + 1)

    def _constants(self, like: Array, columns: list[int] | None = None) -> tuple[Any, Any]:
        """Knots (D, K) and levels broadcast to (D, K), as arrays of ``like``'s kind."""
        levels = np.broadcast_to(self.levels, self.knots.shape)
        if lib(like) is np:
            knots = self.knots
        else:
            torch = lib(like)
            kw = {"dtype": torch.float64, "device": like.device}
            if self._cache is None or self._cache[0] != like.device:
                self._cache = (like.device, torch.as_tensor(self.knots, **kw), torch.as_tensor(levels.copy(), **kw))
            knots, levels = self._cache[1], self._cache[2]
        return (knots, levels) if columns is None else (knots[columns], levels[columns])

    def state_dict(self) -> dict[str, list]:
        return {"levels": self.levels.tolist(), "knots": self.knots.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "QuantileMap":
        return cls(np.array(state["levels"]), np.array(state["knots"]))


def _interp(x: Array, xk: Array, yk: Array, idx: Array | None = None) -> Array:
    """Piecewise-linear interpolation of each column of x (N, D) on knots xk → yk (D, K), clamped.

    ``idx`` (D, N), if known, is each value's interval: the index of its upper knot.
    """
    xp = lib(x)
    if xp is np:
        if idx is None:
            return np.stack([np.interp(x[:, d], xk[d], yk[d]) for d in range(x.shape[1])], axis=-1)
        xc, take = x.T, np.take_along_axis
    else:
        xc, take = x.to(xk.dtype).T.contiguous(), xp.take_along_dim
        if idx is None:
            idx = xp.searchsorted(xk, xc).clamp(1, xk.shape[1] - 1)
    x0, x1 = take(xk, idx - 1, 1), take(xk, idx, 1)
    y0, y1 = take(yk, idx - 1, 1), take(yk, idx, 1)
    t = xp.clip((xc - x0) / (x1 - x0), 0, 1)
    return (y0 + t * (y1 - y0)).T


class DecayParametrisation:
    """Momenta of a two-step cascade (P → W b, W → q q̄′ for each primary resonance P) ↔ (N, 18).

    Coordinates per primary resonance, in this order: log pT, η, φ of P;
    asinh(2 (m − m₀) / Γ) for the masses of P and of W, with m₀ the event's pole (``poles``, for
    a model conditioned on a pole mass) or the process's; polar and azimuthal angle
    of W in the rest frame of P, against P's flight direction (azimuth from the
    plane of P and the beam); the same for q in the rest frame of W, reached
    through P's, against W's flight there (azimuth from the plane of W and P). The raw coordinates are then mapped by a
    `QuantileMap` fitted on the training sample.

    Attributes:
        process: the process; its topology decides which slots form each cascade.
        marginals: the `QuantileMap` of the 18 raw coordinates.
    """

    per_cascade = 9

    def __init__(self, process: Process, marginals: QuantileMap | None = None) -> None:
        self.process = process
        self.marginals = marginals
        self.cascades = []
        for top in process.primaries:
            ws = [r for r in process.resonances if r.parent == top.name]
            bs = [i for i, s in enumerate(process.slots) if s.parent == top.name]
            pair = [i for i, s in enumerate(process.slots) if ws and s.parent == ws[0].name]
            if len(ws) != 1 or len(bs) != 1 or len(pair) != 2:
                raise ConfigError(f"the decay parametrisation needs each primary resonance to decay into one slot and "
                                  f"one resonance of two slots (t → b W, W → f f̄′); {process.name}'s {top.name} does not",
                                  hint="use --set parametrisation=momenta")
            self.cascades.append((top, ws[0], bs[0], pair[0], pair[1]))
        if len(self.cascades) * self.per_cascade != 3 * process.n_particles:
            raise ConfigError(f"the decay parametrisation does not cover every slot of {process.name}",
                              hint="use --set parametrisation=momenta")
        # per-cascade constants as (C, 1) columns: from_raw works on all cascades at once, arrays (C, N, ...)
        col = lambda v: np.asarray(v, dtype=np.float64)[:, None]  # noqa: E731
        self._top = (col([c[0].mass for c in self.cascades]), col([c[0].width for c in self.cascades]))
        self._w = (col([c[1].mass for c in self.cascades]), col([c[1].width for c in self.cascades]))
        #: the slots of each cascade's b, q and q̄′, (C,) each: their masses are the events' (a τ) or fixed
        self._daughter = {key: [c[j] for c in self.cascades] for j, key in ((2, "b"), (3, "q1"), (4, "q2"))}
        # slot order of the stacked (b, q1, q2) of every cascade
        self._slots = np.argsort([c[j] for c in self.cascades for j in (2, 3, 4)])

    def _daughter_masses(self, masses: Array | None, like: Array) -> tuple[Array, Array, Array]:
        """The b, q and q̄′ masses of every cascade: (C, 1) from slot masses (6,), or (C, N) from the events'
        slot masses ``masses`` (N, 6) GeV, as arrays of ``like``'s kind and dtype."""
        # None: the process's fixed masses, which it refuses where its channels differ (pass each event's)
        m = physics.as_masses(self.process.masses if masses is None else masses, like)
        if m.ndim == 1:
            return tuple(m[idx][:, None] for idx in self._daughter.values())
        return tuple(m[:, idx].T for idx in self._daughter.values())

    @classmethod
    def fit(cls, momenta: np.ndarray, process: Process, weights: np.ndarray | None = None,
            poles: Poles | None = None, masses: np.ndarray | None = None,
            smooth: bool = False) -> "DecayParametrisation":
        """Fit the quantile maps on momenta (N, 6, 3) GeV, with their (N,) weights where weighted and
        their (N,) pole masses where conditioned: the mass maps are then of m − m₀, pooled over the poles.
        ``masses`` (N, 6) GeV are the events' slot masses, where the process does not fix them (τ).

        A particle and its antiparticle have one line shape (CPT), so the mass coordinates of
        cascades whose resonances agree in |PDG id| (t and t̄, W⁺ and W⁻) share one quantile map,
        fitted on both: twice the events for each peak.

        ``smooth``: the maps of each primary's log pT and η are fitted on the sample smoothed
        (`QuantileMap.fit`'s ``smooth``): a generator that starts from the identity then starts from
        smooth marginals of the observables analyses publish, not from the sample's fluctuations in them.
        """
        param = cls(process)
        raw = param.to_raw(np.asarray(momenta, dtype=np.float64), poles, masses)
        return cls(process, QuantileMap.fit(raw, tie=param.tied_columns(), weights=weights,
                                            smooth=param.smoothed_columns() if smooth else None))

    def smoothed_columns(self) -> list[int]:
        """The raw columns a smoothed fit smooths: each primary's log pT and η, unbounded and smooth in any
        sample (the masses' peaks, the bounded angles and the flat azimuths keep their empirical maps)."""
        return [c * self.per_cascade + j for c in range(len(self.cascades)) for j in (0, 1)]

    def tied_columns(self) -> list[list[int]]:
        """Groups of raw columns with one distribution: the mass coordinates of conjugate cascades."""
        groups: dict[tuple, list[int]] = {}
        for c, (top, w, *_) in enumerate(self.cascades):
            for j, res in ((3, top), (4, w)):
                groups.setdefault((j, abs(res.pdg), res.mass, res.width), []).append(c * self.per_cascade + j)
        return [g for g in groups.values() if len(g) > 1]

    def _poles(self, poles: Poles | None, like: Array) -> tuple[Array, Array, Array, Array]:
        """The top and W poles and widths per cascade: (C, 1) from the process, or (C, N) where ``poles``
        sets them; a moved pole's width follows it (`Process.width_at`), so the line shapes in these
        coordinates are the same at every pole."""
        xp = lib(like)

        def pole_and_width(j: int, m0: np.ndarray, g0: np.ndarray) -> tuple[Array, Array]:
            name = self.cascades[0][j].name  # every cascade's resonance j is one particle (t and t̄, W⁺ and W⁻)
            key = particle_of(name)
            if poles is None or key not in poles:
                return _like(m0, like), _like(g0, like)
            v = physics.to_float64(poles[key]) if xp is not np else np.asarray(poles[key], np.float64)
            v = xp.stack([v] * len(self.cascades))
            return v, self.process.width_at(name, v)

        (mt0, gt), (mw0, gw) = pole_and_width(0, *self._top), pole_and_width(1, *self._w)
        return mt0, mw0, gt, gw

    def to_raw(self, p: Array, poles: Poles | None = None, masses: Array | None = None) -> Array:
        """(N, 6, 3) GeV → (N, 18) raw coordinates; ``poles`` per event where conditioned; ``masses`` (N, 6)
        GeV the events' slot masses where the process does not fix them."""
        xp = lib(p)
        p = physics.to_float64(p)
        m = physics.as_masses(self.process.masses if masses is None else masses, p)
        mt0, mw0, gt, gw = self._poles(poles, p[:, 0, 0])
        cols = []
        for c, (_top, _w, b, q1, q2) in enumerate(self.cascades):
            p4 = {i: physics.to_four_momenta(p[:, i], m[..., i]) for i in (b, q1, q2)}
            w4 = p4[q1] + p4[q2]
            t4 = p4[b] + w4
            mt = physics.invariant_mass(p[:, [b, q1, q2]], m[..., [b, q1, q2]])
            mw = physics.invariant_mass(p[:, [q1, q2]], m[..., [q1, q2]])
            t3 = t4[:, 1:]
            # helicity frames: W in the top's rest frame against the top's flight direction, q in the W's
            # rest frame (reached through the top's) against the W's flight there; the azimuths are
            # measured from the planes with the beam and with the top, so W polarisation and spin
            # effects become marginals instead of correlations among lab-axis angles
            w_t = physics.boost(w4, t4, mt, to_rest=True)
            q_t = physics.boost(p4[q1], t4, mt, to_rest=True)
            q_w = physics.boost(q_t, w_t, mw, to_rest=True)[:, 1:]
            w_t = w_t[:, 1:]
            th_w, ph_w = _angles(w_t, t3, _beam(t3))
            th_q, ph_q = _angles(q_w, w_t, t3)
            cols += [xp.log(xp.clip(physics.pt(t3), 1e-6, None)), physics.eta(t3), physics.phi(t3),
                     xp.arcsinh(2 * (mt - mt0[c]) / gt[c]), xp.arcsinh(2 * (mw - mw0[c]) / gw[c]),
                     th_w, ph_w, th_q, ph_q]
        return xp.stack(cols, axis=-1)

    def from_raw(self, y: Array, conserve_pt: bool = False, poles: Poles | None = None,
                 masses: Array | None = None) -> Array:
        """(N, 18) raw coordinates → (N, 6, 3) GeV, on all mass shells (the slots' ``masses`` (N, 6) GeV, where
        the process does not fix them); balanced in pT if asked."""
        xp = lib(y)
        y = physics.to_float64(y)
        n, k = y.shape[0], self.per_cascade
        mb, mq1, mq2 = self._daughter_masses(masses, y)
        col = xp.moveaxis(y.reshape(n, -1, k), 1, 0)  # (C, N, 9): every cascade at once
        t3 = physics.from_pt_eta_phi(xp.exp(col[..., 0]), col[..., 1], col[..., 2])
        if conserve_pt:
            # the last top recoils against the others: its own pT and φ coordinates are not used, the decay
            # products follow and the masses stay; the network need not learn back-to-back tops
            recoil = -t3[:-1, :, :2].sum(0)
            pz = xp.hypot(recoil[:, 0], recoil[:, 1]) * xp.sinh(col[-1, :, 1])  # its own η, the recoil's pT
            t3 = xp.concatenate([t3[:-1], xp.concatenate([recoil, pz[:, None]], axis=-1)[None]], axis=0)
        mt, mw = self._masses(col[..., 3], col[..., 4], poles, (mb, mq1, mq2))
        t4 = xp.concatenate([xp.sqrt(physics.dot(t3, t3) + mt * mt)[..., None], t3], axis=-1)
        w_t = _at_rest(physics.two_body_momentum(mt, mb, mw), mw, col[..., 5], col[..., 6], t3, _beam(t3))
        w4 = physics.boost(w_t, t4, mt)
        q_w = _at_rest(physics.two_body_momentum(mw, mq1, mq2), mq1, col[..., 7], col[..., 8], w_t[..., 1:], t3)
        q4 = physics.boost(physics.boost(q_w, w_t, mw), t4, mt)
        q1 = q4[..., 1:]
        out = xp.stack([t4[..., 1:] - w4[..., 1:], q1, w4[..., 1:] - q1], axis=1)  # (C, 3, N, 3): b, q, q̄′
        return xp.moveaxis(out.reshape(-1, n, 3)[self._slots], 0, 1)

    def _masses(self, a_top: Array, a_w: Array, poles: Poles | None,
                daughters: tuple[Array, Array, Array]) -> tuple[Array, Array]:
        """Top and W masses (C, N) GeV from their raw coordinates asinh(2 (m − m₀) / Γ) (C, N).

        Each is kept above its decay threshold (``daughters``: the b, q, q̄′ masses of `_daughter_masses`),
        so the two-body decays exist.
        """
        xp = lib(a_top)
        mt0, mw0, gt, gw = self._poles(poles, a_top[0])
        mb, mq1, mq2 = daughters
        mw = xp.maximum(mw0 + 0.5 * gw * xp.sinh(a_w), mq1 + mq2 + 1e-6)
        mt = xp.maximum(mt0 + 0.5 * gt * xp.sinh(a_top), mw + mb + 1e-6)
        return mt, mw

    def forward(self, momenta: Array, poles: Poles | None = None, masses: Array | None = None) -> Array:
        """(N, 6, 3) GeV → (N, 18) network coordinates (unit logistic marginals); ``masses`` (N, 6) GeV
        where the process does not fix them."""
        assert self.marginals is not None, "fit() the parametrisation first"
        return self.marginals.forward(self.to_raw(momenta, poles, masses))

    def inverse(self, x: Array, conserve_pt: bool = False, poles: Poles | None = None,
                masses: Array | None = None) -> Array:
        """(N, 18) network coordinates → (N, 6, 3) GeV; ``masses`` (N, 6) GeV where the process does not fix them."""
        assert self.marginals is not None, "fit() the parametrisation first"
        return self.from_raw(self.marginals.inverse(physics.to_float64(x)), conserve_pt, poles, masses)

    def realised(self, x: Array, conserve_pt: bool = False, poles: Poles | None = None,
                 masses: Array | None = None) -> Array:
        """The coordinates (N, 18) of the event that ``inverse(x, conserve_pt)`` builds.

        Equal to ``forward(inverse(x, conserve_pt))`` without the round trip through
        momenta: x clamped to the map's range, the resonance masses clipped to their
        decay thresholds as ``from_raw`` does and, with ``conserve_pt``, the last top's
        pT and φ replaced by its recoil's. Differentiable like the round trip.
        """
        assert self.marginals is not None, "fit() the parametrisation first"
        xp = lib(x)
        x = physics.to_float64(x)
        x = xp.clip(x, *self.marginals.bounds)
        k = self.per_cascade
        cols = [c * k + j for c in range(len(self.cascades)) for j in (0, 2, 3, 4)]
        # (C, N, 4): log pT, φ and the two mass coordinates of every cascade
        raw = xp.moveaxis(self.marginals.inverse(x[:, cols], cols).reshape(x.shape[0], -1, 4), 1, 0)
        log_pt, phi = raw[..., 0], raw[..., 1]
        mt, mw = self._masses(raw[..., 2], raw[..., 3], poles, self._daughter_masses(masses, x))
        mt0, mw0, gt, gw = self._poles(poles, x[:, 0])
        a_top, a_w = xp.arcsinh(2 * (mt - mt0) / gt), xp.arcsinh(2 * (mw - mw0) / gw)
        if conserve_pt:
            pt = xp.exp(log_pt[:-1])
            px, py = -(pt * xp.cos(phi[:-1])).sum(0), -(pt * xp.sin(phi[:-1])).sum(0)
            log_pt = xp.concatenate([log_pt[:-1], xp.log(xp.clip(xp.hypot(px, py), 1e-6, None))[None]], axis=0)
            phi = xp.concatenate([phi[:-1], xp.arctan2(py, px)[None]], axis=0)
        new = xp.moveaxis(xp.stack([log_pt, phi, a_top, a_w], axis=-1), 0, 1).reshape(x.shape[0], -1)
        y = self.marginals.forward(new, cols)
        keep = [j for j in range(x.shape[1]) if j not in cols]
        order = np.argsort(keep + cols)
        return xp.concatenate([x[:, keep], y], axis=-1)[:, order]

    def rotated(self, x: Array, angle: Array) -> Array:
        """Coordinates (N, 18) of the events of ``x`` rotated about the beam by ``angle`` (N,) rad.

        The helicity angles are measured from planes that contain the beam, so only the
        primaries' φ change: each moves by the angle.
        """
        assert self.marginals is not None, "fit() the parametrisation first"
        xp = lib(x)
        cols = [c * self.per_cascade + 2 for c in range(len(self.cascades))]
        phi = self.marginals.inverse(physics.to_float64(x[:, cols]), cols) + angle[:, None]
        phi = xp.arctan2(xp.sin(phi), xp.cos(phi))
        out = x.clone() if xp is not np else x.copy()
        out[:, cols] = self.marginals.forward(phi, cols).to(x.dtype) if xp is not np else self.marginals.forward(phi, cols)
        return out

    def state_dict(self) -> dict[str, Any]:
        assert self.marginals is not None
        return self.marginals.state_dict()

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], process: Process) -> "DecayParametrisation":
        return cls(process, QuantileMap.from_state_dict(state))


def _like(a: np.ndarray, like: Array) -> Array:
    """A numpy constant as an array of ``like``'s kind, dtype and device."""
    if lib(like) is np:
        return a
    return lib(like).as_tensor(a, dtype=like.dtype, device=like.device)


def _beam(like: Array) -> Array:
    """The beam axis ẑ, broadcast like 3-vectors (..., 3)."""
    return lib(like).zeros_like(like) + _like(np.array([0.0, 0.0, 1.0]), like)


def _frame(axis: Array, ref: Array) -> tuple[Array, Array, Array]:
    """Orthonormal axes (x, y, z), each (..., 3): z along ``axis``, x in the plane of ``axis`` and ``ref``.

    Where ``ref`` is (nearly) parallel to ``axis`` the plane is undefined and x falls back to a lab axis.
    """
    xp = lib(axis)
    dot = physics.dot
    z = axis / xp.sqrt(dot(axis, axis))[..., None]
    x = ref - dot(ref, z)[..., None] * z
    norm = xp.sqrt(dot(x, x))[..., None]
    bad = norm < 1e-9 * xp.sqrt(dot(ref, ref))[..., None]
    if bool(bad.any()):
        x = xp.where(bad, _like(np.array([1.0, 0.0, 0.0]), z) - z[..., :1] * z, x)
        norm = xp.sqrt(dot(x, x))[..., None]
    x = x / norm
    y = xp.stack([z[..., 1] * x[..., 2] - z[..., 2] * x[..., 1], z[..., 2] * x[..., 0] - z[..., 0] * x[..., 2],
                  z[..., 0] * x[..., 1] - z[..., 1] * x[..., 0]], axis=-1)
    return x, y, z


def _angles(v: Array, axis: Array, ref: Array) -> tuple[Array, Array]:
    """Polar and azimuthal angle (...,) of 3-vectors v (..., 3) in the frame of `_frame` (axis, ref)."""
    xp = lib(v)
    x, y, z = _frame(axis, ref)
    vx, vy, vz = physics.dot(v, x), physics.dot(v, y), physics.dot(v, z)
    return xp.arctan2(xp.hypot(vx, vy), vz), xp.arctan2(vy, vx)


def _at_rest(p: Array, mass, theta: Array, phi: Array, axis: Array, ref: Array) -> Array:
    """Four-momentum (..., 4) of a particle of ``mass`` with momentum p at (θ, φ) in the frame (axis, ref)."""
    xp = lib(p)
    x, y, z = _frame(axis, ref)
    st = xp.sin(theta)
    v = (p * st * xp.cos(phi))[..., None] * x + (p * st * xp.sin(phi))[..., None] * y + (p * xp.cos(theta))[..., None] * z
    return xp.concatenate([xp.sqrt(p * p + mass * mass)[..., None], v], axis=-1)


Parametrisation = Standardizer | DecayParametrisation


@dataclass(frozen=True)
class ParametrisationKind:
    """One kind of generator parametrisation: how to fit it on a sample and load it from a model file.

    Attributes:
        name: the setting's value ("decay", "momenta").
        cls: its class.
        fit: (momenta (N, n, 3) GeV, process, weights (N,) or None, poles or None, slot masses (N, n) GeV or None)
            → a fitted parametrisation.
        load: (state dict, process) → the parametrisation.
    """

    name: str
    cls: type
    fit: Callable[[np.ndarray, Process, np.ndarray | None, Poles | None, np.ndarray | None, bool], Parametrisation]
    load: Callable[[dict, Process], Parametrisation]


#: Every parametrisation by name; `FitConfig` and model files accept exactly these.
PARAMETRISATIONS: dict[str, ParametrisationKind] = {k.name: k for k in (
    ParametrisationKind("decay", DecayParametrisation, DecayParametrisation.fit,
                        DecayParametrisation.from_state_dict),
    ParametrisationKind("momenta", Standardizer, lambda p, process, w, poles, masses, smooth: Standardizer.fit(p, w),
                        lambda state, process: Standardizer.from_state_dict(state)),
)}


def _kind(name: str) -> ParametrisationKind:
    if name not in PARAMETRISATIONS:
        raise ConfigError(f"unknown parametrisation {name!r}; known are {sorted(PARAMETRISATIONS)}")
    return PARAMETRISATIONS[name]


def make_parametrisation(kind: str, momenta: np.ndarray, process: Process,
                         weights: np.ndarray | None = None, poles: Poles | None = None,
                         masses: np.ndarray | None = None, smooth: bool = False) -> Parametrisation:
    """Fit the generator's parametrisation ``kind`` (see `PARAMETRISATIONS`) on (N, 6, 3) momenta, their
    weights, for a model conditioned on a pole mass their (N,) poles, and their slot masses (N, 6) GeV
    where the process does not fix them (τ); ``smooth``: the primaries' marginals smoothed, where the
    parametrisation has them (`DecayParametrisation.fit`)."""
    return _kind(kind).fit(momenta, process, weights, poles, masses, smooth)


def parametrisation_to_dict(param: Parametrisation) -> dict:
    kind = next(k.name for k in PARAMETRISATIONS.values() if type(param) is k.cls)
    return {"kind": kind, "state": param.state_dict()}


def parametrisation_from_dict(d: dict, process: Process) -> Parametrisation:
    return _kind(d["kind"]).load(d["state"], process)
