"""Invertible maps between 3-momenta (N, 6, 3) GeV and the network's (N, 18) tensor.

Two parametrisations, both fitted on the training sample, saved with the model,
exactly invertible and written once for numpy arrays and torch tensors:

* `Standardizer`: each momentum component standardised to zero mean, unit variance.
* `DecayParametrisation` (the default): per top, its pT, η, φ, the top and W
  masses and the decay angles of t → W b and W → q q̄′ in the rest frames, then
  standardised. The resonance masses are coordinates of their own, so a narrow
  peak is a narrow marginal for the network instead of a cancellation among
  momenta, and every generated event is on its mass shells by construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lhcgan import physics
from lhcgan.physics import Array, lib
from lhcgan.process import Process


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

    @property
    def dim(self) -> int:
        return len(self.mean)

    @classmethod
    def fit(cls, momenta: np.ndarray) -> "Standardizer":
        """Fit on training momenta (N, n, 3) GeV."""
        flat = np.asarray(momenta, dtype=np.float64).reshape(len(momenta), -1)
        scale = flat.std(axis=0)
        return cls(flat.mean(axis=0), np.where(scale > 0, scale, 1.0))

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


class DecayParametrisation:
    """Momenta of a two-step cascade (P → W b, W → q q̄′ for each primary resonance P) ↔ (N, 18).

    Coordinates per primary resonance, in this order: log pT, η, φ of P;
    asinh(2 (m − m₀) / Γ) for the masses of P and of W; polar and azimuthal angle
    of W in the rest frame of P; the same for q in the rest frame of W. Rest frames
    are reached from the lab by pure boosts, angles are measured against the lab
    axes. The raw coordinates are then standardised.

    Attributes:
        process: the process; its topology decides which slots form each cascade.
        mean, scale: (18,) standardisation of the raw coordinates.
    """

    per_cascade = 9

    def __init__(self, process: Process, mean: np.ndarray, scale: np.ndarray) -> None:
        self.process = process
        self.std = Standardizer(mean, scale)
        self.cascades = []
        for top in (r for r in process.resonances if r.parent is None):
            w = next(r for r in process.resonances if r.parent == top.name)
            b = next(i for i, s in enumerate(process.slots) if s.parent == top.name)
            q1, q2 = (i for i, s in enumerate(process.slots) if s.parent == w.name)
            self.cascades.append((top, w, b, q1, q2))
        assert len(self.cascades) * self.per_cascade == 3 * process.n_particles

    @property
    def mean(self) -> np.ndarray:
        return self.std.mean

    @property
    def scale(self) -> np.ndarray:
        return self.std.scale

    @classmethod
    def fit(cls, momenta: np.ndarray, process: Process) -> "DecayParametrisation":
        raw = cls(process, np.zeros(3 * process.n_particles), np.ones(3 * process.n_particles)).to_raw(
            np.asarray(momenta, dtype=np.float64))
        fitted = Standardizer.fit(raw.reshape(len(raw), -1, 3))
        return cls(process, fitted.mean, fitted.scale)

    def to_raw(self, p: Array) -> Array:
        """(N, 6, 3) GeV → (N, 18) raw coordinates."""
        xp = lib(p)
        p = physics.to_float64(p)
        m = self.process.masses
        cols = []
        for top, w, b, q1, q2 in self.cascades:
            p4 = {i: physics.to_four_momenta(p[:, i], m[i]) for i in (b, q1, q2)}
            w4 = p4[q1] + p4[q2]
            t4 = p4[b] + w4
            mt = physics.invariant_mass(p[:, [b, q1, q2]], m[[b, q1, q2]])
            mw = physics.invariant_mass(p[:, [q1, q2]], m[[q1, q2]])
            t3 = t4[:, 1:]
            w_star = physics.boost(w4, t4, mt, to_rest=True)[:, 1:]
            q_star = physics.boost(p4[q1], w4, mw, to_rest=True)[:, 1:]
            cols += [xp.log(xp.clip(physics.pt(t3), 1e-6, None)), physics.eta(t3), physics.phi(t3),
                     xp.arcsinh(2 * (mt - top.mass) / top.width), xp.arcsinh(2 * (mw - w.mass) / w.width),
                     _polar(w_star), physics.phi(w_star), _polar(q_star), physics.phi(q_star)]
        return xp.stack(cols, axis=-1)

    def from_raw(self, y: Array, conserve_pt: bool = False) -> Array:
        """(N, 18) raw coordinates → (N, 6, 3) GeV, on all mass shells; balanced in pT if asked."""
        xp = lib(y)
        y = physics.to_float64(y)
        m = self.process.masses
        k = self.per_cascade
        tops = []
        for c, (top, w, b, q1, q2) in enumerate(self.cascades):
            pt, eta, phi = xp.exp(y[:, c * k]), y[:, c * k + 1], y[:, c * k + 2]
            tops.append(physics.from_pt_eta_phi(pt, eta, phi))
        if conserve_pt:
            # the last top recoils against the others: its own pT and φ coordinates are not used, the decay
            # products follow and the masses stay; the network need not learn back-to-back tops
            recoil = -sum(t[:, :2] for t in tops[:-1])
            c = len(tops) - 1
            pz = xp.hypot(recoil[:, 0], recoil[:, 1]) * xp.sinh(y[:, c * k + 1])  # its own η, the recoil's pT
            tops[-1] = xp.concatenate([recoil, pz[:, None]], axis=-1)
        out: list = [None] * self.process.n_particles
        for c, (top, w, b, q1, q2) in enumerate(self.cascades):
            col = y[:, c * k : (c + 1) * k]
            mw = xp.clip(w.mass + 0.5 * w.width * xp.sinh(col[:, 4]), m[q1] + m[q2] + 1e-6, None)
            mt = xp.maximum(top.mass + 0.5 * top.width * xp.sinh(col[:, 3]), mw + m[b] + 1e-6)
            t3 = tops[c]
            t4 = xp.concatenate([xp.sqrt((t3 * t3).sum(-1) + mt * mt)[:, None], t3], axis=-1)
            w_star = _at_rest(physics.two_body_momentum(mt, float(m[b]), mw), mw, col[:, 5], col[:, 6])
            w4 = physics.boost(w_star, t4, mt)
            q_star = _at_rest(physics.two_body_momentum(mw, float(m[q1]), float(m[q2])), float(m[q1]), col[:, 7], col[:, 8])
            q4 = physics.boost(q_star, w4, mw)
            out[b] = t4[:, 1:] - w4[:, 1:]
            out[q1] = q4[:, 1:]
            out[q2] = w4[:, 1:] - q4[:, 1:]
        return xp.stack(out, axis=1)

    def forward(self, momenta: Array) -> Array:
        """(N, 6, 3) GeV → (N, 18) standardised coordinates."""
        raw = self.to_raw(momenta)
        return self.std.forward(raw.reshape(raw.shape[0], -1, 3))

    def inverse(self, x: Array, conserve_pt: bool = False) -> Array:
        """(N, 18) standardised coordinates → (N, 6, 3) GeV."""
        raw = self.std.inverse(x)
        return self.from_raw(raw.reshape(raw.shape[0], -1), conserve_pt)

    def state_dict(self) -> dict[str, list[float]]:
        return self.std.state_dict()

    @classmethod
    def from_state_dict(cls, state: dict[str, list[float]], process: Process) -> "DecayParametrisation":
        return cls(process, np.array(state["mean"]), np.array(state["scale"]))


def _polar(v: Array) -> Array:
    """Polar angle θ of 3-vectors (..., 3) against the z axis."""
    xp = lib(v)
    return xp.arctan2(physics.pt(v), v[..., 2])


def _at_rest(p: Array, mass, theta: Array, phi: Array) -> Array:
    """Four-momentum (N, 4) of a particle of ``mass`` with momentum p in direction (θ, φ)."""
    xp = lib(p)
    st = xp.sin(theta)
    v = xp.stack([p * st * xp.cos(phi), p * st * xp.sin(phi), p * xp.cos(theta)], axis=-1)
    return xp.concatenate([xp.sqrt(p * p + mass * mass)[:, None], v], axis=-1)
