"""The physics process described as data: slots, masses, the decay cascade, its modes and channels.

Readers, the decay parametrisation, the writers, `simulate`, validation and messages take
what they need from a `Process`: which slot is which, which resonance decays into which
slots, which decays carry colour, which channels exist and how Pythia makes them.
A new channel is a new `Channel` (and, if needed, `Mode`) here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lhcgan.errors import LhcganError

#: Fixed b-quark mass in GeV used for every b and b̄ slot. Light quarks, e, μ and neutrinos are
#: massless, as in MadGraph's default model: m_μ²/E² < 1e-5 for any W daughter.
B_MASS = 4.7
#: The τ mass in GeV (PDG). At parton level a τ is a final-state lepton of fixed mass; the shower decays it.
TAU_MASS = 1.77686

UP_TYPE = (2, 4)
DOWN_TYPE = (1, 3)
#: (neutrino, charged lepton) of the massless generations, W → e ν and μ ν: the "leptonic" mode
LEPTON_PAIRS = ((12, 11), (14, 13))
#: (neutrino, charged lepton) of W → τ ν: the "tau" mode, whose charged lepton has `TAU_MASS`
TAU_PAIR = (16, 15)
_MAX_ID = 40  # |PDG id| of the partons a mode may hold (quarks, leptons, gauge bosons)


class MassError(LhcganError, ValueError):
    """One set of slot masses asked of a process whose channels' masses differ."""


@dataclass(frozen=True)
class Slot:
    """One final-state particle of the process.

    Attributes:
        name: short identifier, also used in observable and plot names.
        label: LaTeX label for plots.
        mass: fixed mass in GeV; energies are recomputed from it.
        pdg: the PDG ids the slot accepts (every mode of its parent together).
        parent: name of the resonance that decays into it.
    """

    name: str
    label: str
    mass: float
    pdg: tuple[int, ...]
    parent: str


@dataclass(frozen=True)
class Mode:
    """One two-body decay mode of a resonance into its two daughter slots.

    Attributes:
        name: "hadronic", "leptonic", ...
        pairs: the allowed (first slot, second slot) PDG ids.
        coloured: whether the daughters carry colour (a colour line of their own in LHE).
        pythia: Pythia's decay channels for the mode: the daughters' |PDG ids| as `onIfAny` takes them.
        masses: the fixed masses (GeV) of its (first slot, second slot) daughters: a slot's mass
            follows from its parent's mode, so a τ slot has `TAU_MASS` and its ν_τ none.
    """

    name: str
    pairs: tuple[tuple[int, int], ...]
    coloured: bool
    pythia: tuple[int, ...] = ()
    masses: tuple[float, float] = (0.0, 0.0)


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
        modes: its decay modes into two slots; empty where it decays into a slot and a resonance.
    """

    name: str
    label: str
    pdg: int
    mass: float
    width: float
    members: tuple[int, ...]
    parent: str | None
    modes: tuple[Mode, ...] = ()


@dataclass(frozen=True)
class Channel:
    """A decay channel: which mode each resonance with modes decays in.

    Attributes:
        name: "allhad", "ljets", "dilep".
        label: for plots and reports.
        modes: the combinations it covers, each one mode name per resonance with modes (in the
            process's order): ``(("leptonic", "hadronic"), ("hadronic", "leptonic"))`` for ℓ+jets.
    """

    name: str
    label: str
    modes: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Process:
    """A fixed-multiplicity process: its slots, resonance cascade, decay modes and channels."""

    name: str
    slots: tuple[Slot, ...]
    resonances: tuple[Resonance, ...]
    channels: tuple[Channel, ...] = ()
    #: channels of the full process left out by `restrict` (readers name them when they skip events)
    excluded: tuple[Channel, ...] = ()

    @property
    def n_particles(self) -> int:
        return len(self.slots)

    @property
    def masses(self) -> np.ndarray:
        """The fixed masses per slot, shape (n_particles,), GeV, where every channel has the same.

        A process whose channels' slots differ in mass (a τ beside an e or μ) has none: its events'
        masses follow their modes (`masses_of`), and asking for one set raises `MassError`.
        """
        base, delta = self.condition_masses()
        if not self.fixed_masses:
            raise MassError(f"{self.name}'s slot masses differ between its channels (τ beside e, μ or quarks)",
                            hint="take each event's masses from its flavours: Events.masses or Process.masses_of(pdg)")
        return base

    @property
    def fixed_masses(self) -> bool:
        """Whether every channel of the process gives each slot the same mass (none has a τ beside another)."""
        return not self._condition_masses[1].any()

    def masses_of_modes(self, modes: np.ndarray) -> np.ndarray:
        """Per-event slot masses (N, n_particles) float64 GeV from the events' `modes_of` (N, n_decaying).

        A slot whose parent has modes takes its mass from the event's mode; the others (b, b̄) their own.
        Where an event's mode is unknown (−1) its daughters get the slot's own mass.
        """
        modes = np.asarray(modes)
        out = np.broadcast_to(np.array([s.mass for s in self.slots], np.float64), (len(modes), self.n_particles)).copy()
        for k, r in enumerate(self.decaying):
            table = np.array([m.masses for m in r.modes] + [[self.slots[i].mass for i in r.members]], np.float64)
            out[:, list(r.members)] = table[modes[:, k]]  # −1 picks the last row: the slots' own
        return out

    def masses_of(self, pdg: np.ndarray) -> np.ndarray:
        """Per-event slot masses (N, n_particles) float64 GeV from the events' PDG ids (N, n_particles)."""
        return self.masses_of_modes(self.modes_of(pdg))

    def condition_masses(self) -> tuple[np.ndarray, np.ndarray]:
        """The slot masses as a linear function of the `condition` columns: (base (n,), delta (n_condition, n)) GeV,
        so that masses = base + condition @ delta, in numpy or torch alike (each column is one mode's 0/1).

        ``base`` holds, for each decaying resonance, the masses of the first mode the channels use.
        """
        base, delta = self._condition_masses
        return base.copy(), delta.copy()

    @functools.cached_property
    def _condition_masses(self) -> tuple[np.ndarray, np.ndarray]:
        """`condition_masses`, computed once per process (the map to momenta asks for it every batch)."""
        base = np.array([s.mass for s in self.slots], np.float64)
        rows = []
        variable = dict(self.variable_modes())
        for k, (r, used) in enumerate(zip(self.decaying, self.used_modes())):
            names = [m.name for m in r.modes]
            first = r.modes[min(names.index(u) for u in used)] if used else None
            if first is not None:
                base[list(r.members)] = first.masses
            for j in variable.get(k, []):
                row = np.zeros(self.n_particles)
                row[list(r.members)] = np.subtract(r.modes[j].masses, first.masses)
                rows.append(row)
        return base, np.array(rows, np.float64).reshape(len(rows), self.n_particles)

    @property
    def primaries(self) -> tuple[Resonance, ...]:
        """The resonances produced in the hard process (no parent)."""
        return tuple(r for r in self.resonances if r.parent is None)

    @property
    def decaying(self) -> tuple[Resonance, ...]:
        """The resonances that decay in one of several modes into two slots (the W bosons)."""
        return tuple(r for r in self.resonances if r.modes)

    def resonance(self, name: str) -> Resonance:
        for r in self.resonances:
            if r.name == name:
                return r
        raise KeyError(f"{self.name} has no resonance {name!r}")

    def channel(self, name: str) -> Channel:
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no channel {name!r}; it has {[c.name for c in self.channels]}")

    def possible_ids(self, index: int) -> tuple[int, ...]:
        """The PDG ids slot ``index`` can hold in any channel, the channels left out by `restrict` included."""
        return _slot_ids(self.resonances, index, self.slots[index])

    # -- modes and channels of events --------------------------------------------------------------

    def modes_of(self, pdg: np.ndarray) -> np.ndarray:
        """Mode index of every decaying resonance per event: (N, n_decaying) int, −1 where none fits.

        Args:
            pdg: PDG ids (N, n_particles) in slot order.
        """
        pdg = np.asarray(pdg)
        out = np.full((len(pdg), len(self.decaying)), -1, dtype=np.int64)
        for k, (r, table) in enumerate(zip(self.decaying, self._mode_tables)):
            a, b = pdg[:, r.members[0]], pdg[:, r.members[1]]
            inside = (np.abs(a) <= _MAX_ID) & (np.abs(b) <= _MAX_ID)
            # one lookup per event: (a, b) → mode index in a small table, generated ids are small
            out[inside, k] = table[a[inside] + _MAX_ID, b[inside] + _MAX_ID]
        return out

    @functools.cached_property
    def _mode_tables(self) -> list[np.ndarray]:
        """Per decaying resonance, (2·MAX+1)² table of (first id, second id) → mode index, −1 for none."""
        tables = []
        for r in self.decaying:
            t = np.full((2 * _MAX_ID + 1, 2 * _MAX_ID + 1), -1, dtype=np.int64)
            for j, mode in reversed(list(enumerate(r.modes))):  # the first mode wins where two share a pair
                for a, b in mode.pairs:
                    t[a + _MAX_ID, b + _MAX_ID] = j
            tables.append(t)
        return tables

    def channel_of(self, pdg: np.ndarray, channels: tuple[Channel, ...] | None = None) -> np.ndarray:
        """Index into ``channels`` (default: the process's) of each event (N,), −1 for a combination none covers."""
        return self.channel_of_modes(self.modes_of(pdg), channels)

    def channel_of_modes(self, modes: np.ndarray, channels: tuple[Channel, ...] | None = None) -> np.ndarray:
        """`channel_of` from the events' `modes_of` (N, n_decaying), where they are known already."""
        out = np.full(len(modes), -1, dtype=np.int64)
        for c, channel in enumerate(self.channels if channels is None else channels):
            for combo in channel.modes:
                want = [[m.name for m in r.modes].index(name) for r, name in zip(self.decaying, combo)]
                out[(modes == np.asarray(want)).all(axis=1) & (out < 0)] = c
        return out

    def used_modes(self, channels: tuple[Channel, ...] | None = None) -> list[set[str]]:
        """Per decaying resonance, the names of its modes that ``channels`` (default: the process's) use."""
        channels = self.channels if channels is None else channels
        return [{combo[k] for c in channels for combo in c.modes} for k in range(len(self.decaying))]

    @property
    def has_neutrinos(self) -> bool:
        """Whether some channel of the process has a colourless (leptonic, ℓν) decay: missing pT."""
        return any(not m.coloured for r, used in zip(self.decaying, self.used_modes()) for m in r.modes if m.name in used)

    def variable_modes(self) -> list[tuple[int, list[int]]]:
        """For each decaying resonance whose mode differs between the process's channels: its index in
        ``decaying`` and the indices of its modes after the first that occur (one condition column each)."""
        out = []
        for k, (r, names) in enumerate(zip(self.decaying, self.used_modes())):
            used = sorted([m.name for m in r.modes].index(name) for name in names)
            if len(used) > 1:
                out.append((k, used[1:]))
        return out

    @property
    def n_condition(self) -> int:
        """Columns of `condition`: 0 for a single channel (one mode per resonance)."""
        return sum(len(cols) for _, cols in self.variable_modes())

    def condition(self, pdg: np.ndarray) -> np.ndarray:
        """What the generator is conditioned on: the decay modes, (N, n_condition) float32 of 0 and 1."""
        modes = self.modes_of(pdg)
        cols = [(modes[:, k] == j) for k, used in self.variable_modes() for j in used]
        return np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((len(modes), 0), np.float32)

    # -- derived processes -------------------------------------------------------------------------

    def restrict(self, channels: list[str] | tuple[str, ...]) -> "Process":
        """The same process with only the named channels: its slots accept only their PDG ids; the
        resonances keep every mode, so readers still recognise (and count) the channels left out."""
        every = self.channels + self.excluded
        names = [c.name for c in every]
        unknown = [c for c in channels if c not in names]
        if unknown:
            raise KeyError(f"{self.name} has no channel {unknown[0]!r}; it has {names}")
        keep = tuple(c for c in every if c.name in channels)
        used = self.used_modes(keep)
        slots = tuple(replace(s, pdg=_slot_ids(self.resonances, i, s, used)) for i, s in enumerate(self.slots))
        base = self.name.split(":")[0]
        name = base if len(keep) == len(every) else f"{base}:{'+'.join(c.name for c in keep)}"
        return Process(name, slots, self.resonances, keep, tuple(c for c in every if c.name not in channels))

    def with_masses(self, masses: dict[str, float]) -> "Process":
        """The same process with other pole masses, e.g. {"t": 173.0, "W": 80.385}: a name matches
        a resonance and, with its charge dropped, its antiparticle ("t" sets t and tbar, "W" both W)."""
        res = tuple(replace(r, mass=float(masses[particle_of(r.name)])) if particle_of(r.name) in masses else r
                    for r in self.resonances)
        return replace(self, resonances=res)

    def width_at(self, name: str, mass: Any) -> Any:
        """Resonance ``name``'s width (GeV) at other pole masses ``mass`` (array or float, GeV), its
        nominal width scaled as the leading-order two-body width: Γ ∝ m³ for W → f f̄′ (massless
        daughters) and Γ ∝ m³ (1 − x)² (1 + 2x), x = m_W²/m², for t → W b (as Pythia's top width
        follows m_t: its half-width grows 13 % from 169.5 to 175.5 GeV, the formula says 13 %).
        """
        r = self.resonance(name)
        child = next((d for d in self.resonances if d.parent == r.name), None)

        def shape(m: Any) -> Any:
            if child is None:
                return m ** 3
            x = (child.mass / m) ** 2
            return m ** 3 * (1 - x) ** 2 * (1 + 2 * x)

        return r.width * shape(mass) / shape(r.mass)

    def pole_masses(self) -> dict[str, float]:
        """{"t": m_t, "W": m_W}: the pole masses by particle, as `with_masses` takes them."""
        return {particle_of(r.name): r.mass for r in self.resonances}

    # -- plain data --------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Plain-data form, for metadata and model files."""
        def mode(m: Mode) -> dict:
            return {"name": m.name, "pairs": [list(p) for p in m.pairs], "coloured": m.coloured,
                    "pythia": list(m.pythia), "masses": list(m.masses)}

        return {
            "name": self.name,
            "slots": [vars(s) | {"pdg": list(s.pdg)} for s in self.slots],
            "resonances": [vars(r) | {"members": list(r.members), "modes": [mode(m) for m in r.modes]}
                           for r in self.resonances],
            "channels": [_channel_dict(c) for c in self.channels],
            "excluded": [_channel_dict(c) for c in self.excluded],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Process":
        if "channels" not in d:  # model files before channels: the all-hadronic tt̄ process
            masses = {r["name"]: r["mass"] for r in d["resonances"]}
            legacy = TTBAR.restrict(["allhad"])
            return replace(legacy, resonances=tuple(replace(r, mass=masses.get(r.name, r.mass))
                                                    for r in legacy.resonances))
        slots = tuple(Slot(**(s | {"pdg": tuple(s["pdg"])})) for s in d["slots"])
        res = tuple(Resonance(**(r | {"members": tuple(r["members"]), "modes": tuple(
            Mode(m["name"], tuple(tuple(p) for p in m["pairs"]), m["coloured"], tuple(m.get("pythia", ())),
                 tuple(m.get("masses", (0.0, 0.0))))
            for m in r.get("modes", ()))})) for r in d["resonances"])
        def channels(key: str) -> tuple[Channel, ...]:
            return tuple(Channel(c["name"], c["label"], tuple(tuple(x) for x in c["modes"])) for c in d.get(key, ()))

        return cls(d["name"], slots, res, channels("channels"), channels("excluded"))


def particle_of(name: str) -> str:
    """A resonance's name without charge or bar: "W+" → "W", "tbar" → "t" (particle and antiparticle share a mass)."""
    return name.rstrip("+-").removesuffix("bar")


def _channel_dict(c: Channel) -> dict:
    return {"name": c.name, "label": c.label, "modes": [list(x) for x in c.modes]}


def _slot_ids(resonances: tuple[Resonance, ...], index: int, slot: Slot,
              used: list[set[str]] | None = None) -> tuple[int, ...]:
    """The PDG ids a slot accepts: from its parent's modes (those in ``used``, per decaying resonance,
    where given), or its own where the parent has none."""
    parent = next(r for r in resonances if r.name == slot.parent)
    if not parent.modes:
        return slot.pdg
    modes = parent.modes
    if used is not None:
        k = [r for r in resonances if r.modes].index(parent)
        modes = tuple(m for m in modes if m.name in used[k])
    pos = parent.members.index(index)
    return tuple(dict.fromkeys(p[pos] for m in modes for p in m.pairs))


def _w_modes(sign: int) -> tuple[Mode, ...]:
    """W⁺ (sign +1) → (up-type, down-type antiparticle), ν ℓ⁺; W⁻ (−1) → (down-type, up-type antiparticle),
    ℓ⁻ ν̄: isospin order, so the charged lepton sits where the down-type quark does."""
    nu, tau = TAU_PAIR
    if sign > 0:
        had = tuple((u, -d) for u in UP_TYPE for d in DOWN_TYPE)
        lep = tuple((nu, -lep) for nu, lep in LEPTON_PAIRS)
        taus, tau_masses = ((nu, -tau),), (0.0, TAU_MASS)
    else:
        had = tuple((d, -u) for d in DOWN_TYPE for u in UP_TYPE)
        lep = tuple((lep, -nu) for nu, lep in LEPTON_PAIRS)
        taus, tau_masses = ((tau, -nu),), (TAU_MASS, 0.0)
    return (Mode("hadronic", had, True, (1, 2, 3, 4)), Mode("leptonic", lep, False, (11, 13)),
            Mode("tau", taus, False, (tau,), tau_masses))


def _build_ttbar() -> Process:
    w_plus, w_minus = _w_modes(+1), _w_modes(-1)
    res = (
        Resonance("W+", r"$W^+$", 24, 80.4, 2.085, (1, 2), "t", w_plus),
        Resonance("W-", r"$W^-$", -24, 80.4, 2.085, (4, 5), "tbar", w_minus),
        Resonance("t", r"$t$", 6, 172.5, 1.42, (0, 1, 2), None),
        Resonance("tbar", r"$\bar{t}$", -6, 172.5, 1.42, (3, 4, 5), None),
    )
    slots: tuple[Slot, ...] = (
        Slot("b", r"$b$", B_MASS, (5,), "t"),
        Slot("q_Wp", r"$u_{W^+}$ / $\nu$", 0.0, (), "W+"),
        Slot("qbar_Wp", r"$\bar{d}_{W^+}$ / $\ell^+$", 0.0, (), "W+"),
        Slot("bbar", r"$\bar{b}$", B_MASS, (-5,), "tbar"),
        Slot("q_Wm", r"$d_{W^-}$ / $\ell^-$", 0.0, (), "W-"),
        Slot("qbar_Wm", r"$\bar{u}_{W^-}$ / $\bar{\nu}$", 0.0, (), "W-"),
    )
    slots = tuple(replace(s, pdg=_slot_ids(res, i, s)) for i, s in enumerate(slots))
    channels = (
        Channel("allhad", "all-hadronic", (("hadronic", "hadronic"),)),
        Channel("ljets", r"$\ell$+jets", (("leptonic", "hadronic"), ("hadronic", "leptonic"))),
        Channel("dilep", "dilepton", (("leptonic", "leptonic"),)),
        # τ channels are their own: the τ's mass makes them another mode, and analyses select them apart
        Channel("taujets", r"$\tau$+jets", (("tau", "hadronic"), ("hadronic", "tau"))),
        Channel("taudilep", r"dilepton with $\tau$", (("tau", "leptonic"), ("leptonic", "tau"), ("tau", "tau"))),
    )
    return Process("ttbar", slots, res, channels)


#: pp → tt̄ → (b W⁺)(b̄ W⁻), each W → q q̄′ or ℓν (ℓ = e, μ, τ). Slot order is part of the file formats:
#: b, W⁺'s (u or ν), W⁺'s (d̄ or ℓ⁺), b̄, W⁻'s (d or ℓ⁻), W⁻'s (ū or ν̄).
TTBAR = _build_ttbar()
#: The all-hadronic channel alone.
TTBAR_ALLHAD = TTBAR.restrict(["allhad"])
CHANNELS = tuple(c.name for c in TTBAR.channels)
