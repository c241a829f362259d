"""The physics process described as data: slots, flavours, masses and resonances.

Nothing else in lhcgan hard-codes which slot is which; it asks a `Process`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fixed b-quark mass in GeV used for every b and b̄ slot.
B_MASS = 4.7

UP_TYPE = (2, 4)
DOWN_TYPE = (1, 3)


@dataclass(frozen=True)
class Slot:
    """One final-state particle of the process.

    Attributes:
        name: short identifier, also used in branch and plot names.
        label: LaTeX label for plots.
        mass: fixed mass in GeV; energies are recomputed from it.
        pdg: the PDG ids the slot accepts.
        parent: name of the resonance that decays into it.
    """

    name: str
    label: str
    mass: float
    pdg: tuple[int, ...]
    parent: str


@dataclass(frozen=True)
class Resonance:
    """An intermediate resonance reconstructed from a group of slots.

    Attributes:
        name: identifier ("W+", "W-", "t", "tbar").
        label: LaTeX label for plots.
        pdg: PDG id.
        mass: nominal pole mass in GeV.
        width: physical width in GeV.
        members: indices of the slots whose sum is the resonance.
        parent: name of the resonance it comes from, or None.
    """

    name: str
    label: str
    pdg: int
    mass: float
    width: float
    members: tuple[int, ...]
    parent: str | None


@dataclass(frozen=True)
class Process:
    """A fixed-multiplicity process: its slots and resonance topology."""

    name: str
    slots: tuple[Slot, ...]
    resonances: tuple[Resonance, ...]

    @property
    def n_particles(self) -> int:
        return len(self.slots)

    @property
    def masses(self) -> np.ndarray:
        """Fixed masses per slot, shape (n_particles,), GeV."""
        return np.array([s.mass for s in self.slots], dtype=np.float64)

    def resonance(self, name: str) -> Resonance:
        for r in self.resonances:
            if r.name == name:
                return r
        raise KeyError(f"{self.name} has no resonance {name!r}")

    def slot_index(self, name: str) -> int:
        for i, s in enumerate(self.slots):
            if s.name == name:
                return i
        raise KeyError(f"{self.name} has no slot {name!r}")

    def to_dict(self) -> dict:
        """Plain-data form, for metadata and model files."""
        return {
            "name": self.name,
            "slots": [vars(s) | {"pdg": list(s.pdg)} for s in self.slots],
            "resonances": [vars(r) | {"members": list(r.members)} for r in self.resonances],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Process":
        slots = tuple(Slot(**(s | {"pdg": tuple(s["pdg"])})) for s in d["slots"])
        res = tuple(Resonance(**(r | {"members": tuple(r["members"])})) for r in d["resonances"])
        return cls(d["name"], slots, res)


#: pp → tt̄ → (b W⁺)(b̄ W⁻) → b q q̄′ b̄ q q̄′. Slot order is part of the file formats.
TTBAR = Process(
    name="ttbar_allhadronic",
    slots=(
        Slot("b", r"$b$", B_MASS, (5,), "t"),
        Slot("q_Wp", r"$q_{W^+}$", 0.0, UP_TYPE, "W+"),
        Slot("qbar_Wp", r"$\bar{q}'_{W^+}$", 0.0, tuple(-i for i in DOWN_TYPE), "W+"),
        Slot("bbar", r"$\bar{b}$", B_MASS, (-5,), "tbar"),
        Slot("q_Wm", r"$q_{W^-}$", 0.0, DOWN_TYPE, "W-"),
        Slot("qbar_Wm", r"$\bar{q}'_{W^-}$", 0.0, tuple(-i for i in UP_TYPE), "W-"),
    ),
    resonances=(
        Resonance("W+", r"$W^+$", 24, 80.4, 2.085, (1, 2), "t"),
        Resonance("W-", r"$W^-$", -24, 80.4, 2.085, (4, 5), "tbar"),
        Resonance("t", r"$t$", 6, 172.5, 1.42, (0, 1, 2), None),
        Resonance("tbar", r"$\bar{t}$", -6, 172.5, 1.42, (3, 4, 5), None),
    ),
)
