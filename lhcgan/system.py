"""The tt̄ system's kinematics, under one set of names: a leaf that the refiner, the sample checks and
validation all use.

The system is the sum of the primary resonances (t and t̄); its features are the observables tt̄
analyses publish: m(tt̄), the tops' rapidity gap and pT, the system's rapidity and, where the sample
recoils against radiation, its pT.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lhcgan import physics
from lhcgan.process import Process

#: Median system pT (GeV) above which a sample recoils; a balanced sample's is float rounding.
RECOIL = 1e-3


def recoils(features: dict[str, np.ndarray]) -> bool:
    """Whether events with these `system_features` recoil: their median system pT is above `RECOIL`."""
    return float(np.median(features["pt_system"])) > RECOIL


def primaries(momenta: np.ndarray, masses: Any, process: Process) -> list[np.ndarray]:
    """The four-momenta (N, 4) GeV (E, px, py, pz) of the process's primary resonances (t, t̄), each the sum
    of its decay products; momenta (N, n, 3) GeV with slot masses (n,) or (N, n) GeV."""
    p4 = physics.to_four_momenta(np.asarray(momenta, np.float64), np.asarray(masses, np.float64))
    return [p4[:, list(r.members)].sum(axis=1) for r in process.primaries]


def primary_observables(momenta: np.ndarray, masses: Any, process: Process) -> dict[str, np.ndarray]:
    """Each primary's pT (GeV) and rapidity, ``pt_<name>`` and ``y_<name>`` (N,), and the absolute rapidity
    gap between them, ``absdy_ttbar``: the top observables tt̄ analyses unfold."""
    out = {}
    prim = primaries(momenta, masses, process)
    for r, q in zip(process.primaries, prim):
        out[f"pt_{r.name}"] = np.hypot(q[:, 1], q[:, 2])
        out[f"y_{r.name}"] = physics.rapidity(q)
    out["absdy_ttbar"] = np.abs(out[f"y_{process.primaries[0].name}"] - out[f"y_{process.primaries[1].name}"])
    return out


def refine_features(momenta: np.ndarray, masses: Any, process: Process, signed: bool = False) -> dict[str, np.ndarray]:
    """`system_features` and each primary's rapidity ``y_<name>`` (absolute unless ``signed``): what a
    refiner may tilt on."""
    out, rapidities = _system_of(primaries(momenta, masses, process), process)
    for r, y in zip(process.primaries, rapidities):
        out[f"y_{r.name}"] = y
    return out if signed else to_unsigned(out, process)


def to_unsigned(features: dict[str, np.ndarray], process: Process) -> dict[str, np.ndarray]:
    """Signed `refine_features` (or `system_features`) → the same with every z-odd one (rapidity gap, the
    system's and each primary's rapidity) as its absolute value: what ``signed=False`` gives."""
    odd = {"dy_primaries", "y_system"} | {f"y_{r.name}" for r in process.primaries}
    return {k: np.abs(v) if k in odd else v for k, v in features.items()}


def system_features(momenta: np.ndarray, masses: Any, process: Process, signed: bool = False) -> dict[str, np.ndarray]:
    """The tt̄ system's features, name → (N,), of events' momenta (N, n, 3) GeV with their slot masses
    ((n,) or per event (N, n) GeV, as `Events.masses`): the invariant mass (GeV) of the primary resonances
    together, their rapidity gap, each one's pT (GeV), the system's rapidity and pT (GeV).

    ``signed`` keeps the signs of the rapidity gap and the system's rapidity; by default their absolute
    values, the invariants of z → −z (a sample learnt with that symmetry is symmetric by construction).
    """
    out = _system_of(primaries(momenta, masses, process), process)[0]
    return out if signed else to_unsigned(out, process)


def _system_of(prim: list[np.ndarray], process: Process) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """Signed `system_features` of the primaries' four-momenta, and the primaries' rapidities (N,) it used."""
    system = np.sum(prim, axis=0)
    rapidities = [physics.rapidity(q) for q in prim]
    out = {"m_system": np.sqrt(np.clip(system[:, 0] ** 2 - (system[:, 1:] ** 2).sum(-1), 0, None)),
           "dy_primaries": rapidities[0] - rapidities[1],
           "y_system": physics.rapidity(system)}
    for r, q in zip(process.primaries, prim):
        out[f"pt_{r.name}"] = np.hypot(q[:, 1], q[:, 2])
    out["pt_system"] = np.hypot(system[:, 1], system[:, 2])
    return out, rapidities
