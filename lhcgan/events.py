"""`Events`: the one event type that flows reader → model → writer → validation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lhcgan import physics
from lhcgan.errors import LhcganError, NonFiniteError
from lhcgan.process import TTBAR, Process
from lhcgan.stats import row_shares
from lhcgan.variations import VariationSet

if TYPE_CHECKING:
    from lhcgan.reading.report import ReadReport


class InvalidEventsError(LhcganError, ValueError):
    """Arrays that do not form valid `Events` (shapes, flavours)."""


@dataclass
class Events:
    """N events of a fixed-multiplicity process.

    Attributes:
        momenta: 3-momenta (N, 6, 3), float64, GeV, in the slot order of ``process``.
        pdg: PDG ids (N, 6), int32; each must be allowed by its slot.
        weights: event weights (N,), float64, or None for unweighted events.
        process: the process description (slots, masses, resonances).
        meta: free-form provenance: "source", "ecm" (GeV), "cross_section_pb", ...
        report: what the reader read, accepted and skipped, when it came from a file.
        parameters: per-event values (N,) of the physics parameters a conditioned model learns over,
            by name (``{"mt": ...}`` GeV; see `lhcgan.conditions`); empty for a sample at one point.
        variations: the theory variations of each event as ratios to its nominal weight (N, K) float64,
            w_k / w_0 (NanoAOD's convention), or None without; ``variation_set`` names the K columns.
        variation_set: the `VariationSet` describing ``variations`` (ids, kinds, texts, header).

    Energies are not stored: they follow from the slot masses, fixed by each event's flavours
    (a τ has its mass, other leptons and light quarks none), so every particle is exactly on its
    mass shell.
    """

    momenta: np.ndarray
    pdg: np.ndarray
    weights: np.ndarray | None = None
    process: Process = TTBAR
    meta: dict[str, Any] = field(default_factory=dict)
    report: "ReadReport | None" = None
    parameters: dict[str, np.ndarray] = field(default_factory=dict)
    variations: np.ndarray | None = None
    variation_set: VariationSet | None = None

    def __post_init__(self) -> None:
        self.momenta = np.asarray(self.momenta, dtype=np.float64)
        self.pdg = np.asarray(self.pdg, dtype=np.int32)
        k = self.process.n_particles
        if self.momenta.ndim != 3 or self.momenta.shape[1:] != (k, 3):
            raise InvalidEventsError(f"momenta must have shape (N, {k}, 3), got {self.momenta.shape}")
        if self.pdg.shape != self.momenta.shape[:2]:
            raise InvalidEventsError(f"pdg must have shape {self.momenta.shape[:2]}, got {self.pdg.shape}")
        if self.weights is not None:
            self.weights = np.asarray(self.weights, dtype=np.float64)
            if self.weights.shape != (len(self.momenta),):
                raise InvalidEventsError(f"weights must have shape ({len(self.momenta)},), got {self.weights.shape}")
        self.parameters = {k: np.asarray(v, dtype=np.float64) for k, v in self.parameters.items()}
        for name, v in self.parameters.items():
            if v.shape != (len(self.momenta),):
                raise InvalidEventsError(f"parameter {name} must have shape ({len(self.momenta)},), got {v.shape}")
        if (self.variations is None) != (self.variation_set is None):
            raise InvalidEventsError("variations and variation_set come together")
        if self.variations is not None:
            self.variations = np.asarray(self.variations, dtype=np.float64)
            if self.variations.shape != (len(self.momenta), len(self.variation_set)):
                raise InvalidEventsError(f"variations must have shape ({len(self.momenta)}, {len(self.variation_set)}), "
                                         f"got {self.variations.shape}")
        bad = ~np.isfinite(self.momenta).all(axis=(1, 2))
        if bad.any():
            raise NonFiniteError(
                "NaN or infinite momentum", event=int(np.argmax(bad)), hint="drop or fix such events before use"
            )
        for i, slot in enumerate(self.process.slots):
            wrong = ~np.isin(self.pdg[:, i], slot.pdg)
            if wrong.any():
                j = int(np.argmax(wrong))
                raise InvalidEventsError(
                    f"slot {i} ({slot.name}) holds PDG id {self.pdg[j, i]}, allowed are {slot.pdg}", event=j
                )
        if self.process.channels:
            none = self.channel_index() < 0
            if none.any():
                j = int(np.argmax(none))
                raise InvalidEventsError(f"PDG ids {self.pdg[j].tolist()} form no channel of {self.process.name} "
                                         f"({', '.join(c.name for c in self.process.channels)})", event=j)

    def __len__(self) -> int:
        return len(self.momenta)

    def __getitem__(self, index: Any) -> "Events":
        """A subset (slice, mask or index array) as new `Events`, sharing metadata."""
        if isinstance(index, (int, np.integer)):
            index = slice(index, index + 1 if index != -1 else None)
        w = None if self.weights is None else self.weights[index]
        v = None if self.variations is None else self.variations[index]
        fields: dict[str, Any] = {
            "momenta": self.momenta[index], "pdg": self.pdg[index], "weights": w, "process": self.process,
            "meta": dict(self.meta), "parameters": {k: v[index] for k, v in self.parameters.items()},
            "variations": v, "variation_set": self.variation_set}
        if fields["momenta"].shape[1:] == self.momenta.shape[1:]:  # rows of checked events (else the check refuses)
            return Events._of_checked(fields)
        return Events(**fields)

    @classmethod
    def _of_checked(cls, fields: dict[str, Any]) -> "Events":
        """Events of every field but ``report``, its arrays rows of checked Events of ``fields["process"]`` or
        such rows joined: built without checking them again (a chunk's check costs as much as writing it)."""
        events = object.__new__(cls)
        events.__dict__.update({"report": None, **fields})
        return events

    def __repr__(self) -> str:
        return f"<Events {len(self)} × {self.process.name}>"

    @classmethod
    def concatenate(cls, parts: Sequence["Events"]) -> "Events":
        """Join events of the same process; metadata of the first part is kept."""
        if not parts:
            raise InvalidEventsError("cannot concatenate an empty list of Events")
        first = parts[0]
        if any(set(p.parameters) != set(first.parameters) for p in parts):
            raise InvalidEventsError("cannot concatenate events with different parameters "
                                     f"({sorted(first.parameters)} and others)")
        weights = None
        if any(p.weights is not None for p in parts):
            weights = np.concatenate([p.weights if p.weights is not None else np.ones(len(p)) for p in parts])
        if any(p.variation_set != first.variation_set for p in parts):
            raise InvalidEventsError("cannot join samples with different variation weights "
                                     f"({first.variation_set.summary() if first.variation_set else 'none'} and others)",
                                     hint="join samples that carry the same variations, or drop them (Events.without_variations)")
        variations = None if first.variations is None else np.concatenate([p.variations for p in parts])
        fields: dict[str, Any] = {
            "momenta": np.concatenate([p.momenta for p in parts]), "pdg": np.concatenate([p.pdg for p in parts]),
            "weights": weights, "process": first.process, "meta": dict(first.meta),
            "parameters": {k: np.concatenate([p.parameters[k] for p in parts]) for k in first.parameters},
            "variations": variations, "variation_set": first.variation_set}
        if all(p.process == first.process for p in parts):  # checked parts of one process
            return cls._of_checked(fields)
        return cls(**fields)

    @classmethod
    def pool(cls, parts: Sequence["Events"]) -> "Events":
        """Samples of one process, whatever channels each holds, as one: concatenated under the process
        with every channel, then restricted to the channels present. Metadata of the first part is kept."""
        every = [p.with_process(p.process.restrict([c.name for c in p.process.channels + p.process.excluded]))
                 for p in parts]
        return cls.concatenate(every).present()

    def channel_index(self) -> np.ndarray:
        """Each event's channel, (N,) int indices into ``process.channels``."""
        return self.process.channel_of(self.pdg)

    def channel_counts(self) -> Counter[str]:
        """Events per channel name, in the process's order (channels without events left out)."""
        counts = np.bincount(self.channel_index(), minlength=len(self.process.channels))
        return Counter({c.name: int(k) for c, k in zip(self.process.channels, counts) if k})

    def channel_fractions(self) -> dict[str, float]:
        """Fraction of the events (of Σw where weighted, negative sums as 0) in each channel."""
        w = np.ones(len(self)) if self.weights is None else self.weights
        sums = np.clip(np.bincount(self.channel_index(), weights=w, minlength=len(self.process.channels)), 0, None)
        total = sums.sum() or 1.0
        return {c.name: float(v / total) for c, v in zip(self.process.channels, sums) if v > 0}

    def channel(self, name: str) -> "Events":
        """The events of one channel, with the process restricted to it."""
        known = [c.name for c in self.process.channels]
        if name not in known:
            raise InvalidEventsError(f"no channel {name!r} in {self.process.name}; it has {known}")
        return self[self.channel_index() == known.index(name)].with_process(self.process.restrict([name]))

    def present(self) -> "Events":
        """The same events, with the process restricted to the channels they hold (all of them if none)."""
        names = list(self.channel_counts())
        if not names or len(names) == len(self.process.channels):
            return self
        out = self.with_process(self.process.restrict(names))
        out.report = self.report
        return out

    def with_process(self, process: Process) -> "Events":
        """The same arrays under another description of the process (e.g. restricted to channels)."""
        return Events(self.momenta, self.pdg, self.weights, process, dict(self.meta), parameters=self.parameters,
                      variations=self.variations, variation_set=self.variation_set)

    def without_variations(self) -> "Events":
        """The same events without their variation weights."""
        return Events(self.momenta, self.pdg, self.weights, self.process, dict(self.meta), parameters=self.parameters)

    def variation_weights(self) -> np.ndarray:
        """The absolute variation weights (N, K): each event's weight (1 where unweighted) times its ratios."""
        if self.variations is None:
            raise InvalidEventsError("these events carry no variation weights")
        w = np.ones(len(self)) if self.weights is None else self.weights
        return w[:, None] * self.variations

    @property
    def masses(self) -> np.ndarray:
        """Each event's slot masses, shape (N, 6), GeV: from the modes its flavours form."""
        return self.process.masses_of(self.pdg)

    def to_four_momenta(self) -> np.ndarray:
        """Four-momenta (N, 6, 4) = (E, px, py, pz), GeV, with E from the slot masses."""
        return physics.to_four_momenta(self.momenta, self.masses)

    @classmethod
    def from_four_momenta(
        cls, p4: np.ndarray, pdg: np.ndarray, weights: np.ndarray | None = None, process: Process = TTBAR
    ) -> "Events":
        """Build events from (N, 6, 4) four-momenta; the energies are dropped and recomputed."""
        return cls(physics.from_four_momenta(np.asarray(p4)), pdg, weights, process)

    def resonance_masses(self) -> np.ndarray:
        """Masses of the process's resonances, shape (N, n_resonances), float64 GeV."""
        return physics.resonance_masses(self.momenta, self.process, self.masses)

    def flavour_counts(self) -> Counter[tuple[int, ...]]:
        """Number of events of each flavour combination (a tuple of 6 PDG ids)."""
        keys, combos = _flavour_keys(self.pdg)
        counts = np.bincount(np.searchsorted(combos, keys), minlength=len(combos))
        return Counter({tuple(int(i) for i in _unpack(c, self.pdg.shape[1])): int(n) for c, n in zip(combos, counts)})

    def flavour_fractions(self) -> dict[tuple[int, ...], float]:
        """Fractions of each flavour combination (a tuple of 6 PDG ids), summing to 1: of the events, or of
        Σw for weighted events (a combination whose signed sum is negative gets 0)."""
        if self.weights is None:
            return counts_to_fractions(self.flavour_counts())
        combos, shares = row_shares(self.pdg, self.weights)
        return {tuple(int(i) for i in c): float(v) for c, v in zip(combos, shares) if v > 0}


_ID_BITS, _ID_OFFSET = 8, 128  # a PDG id of the slots (|id| ≤ 40) in one byte of a row's key


def _flavour_keys(pdg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of PDG ids (N, k ≤ 8) packed into one int64 (N,), and the distinct keys, sorted: a 1-D
    unique is ten times faster than ``np.unique(axis=0)``, which generation pays for every chunk written."""
    shifted = (np.asarray(pdg, np.int64) + _ID_OFFSET) << (_ID_BITS * np.arange(pdg.shape[1], dtype=np.int64))
    keys = np.bitwise_or.reduce(shifted, axis=1) if pdg.shape[1] else np.zeros(len(pdg), np.int64)
    return keys, np.unique(keys)


def _unpack(key: int, k: int) -> list[int]:
    return [int((int(key) >> (_ID_BITS * j)) & ((1 << _ID_BITS) - 1)) - _ID_OFFSET for j in range(k)]


def channel_totals(process: Process, table: Mapping[tuple[int, ...], float]) -> dict[str, float]:
    """A per-flavour-combination table (counts or fractions) summed over each combination's channel,
    in the process's channel order (channels without entries left out)."""
    if not table:
        return {}
    channel = process.channel_of(np.array(list(table), dtype=np.int64))
    sums = np.bincount(channel, weights=np.fromiter(table.values(), float, len(table)),
                       minlength=len(process.channels))
    return {c.name: float(v) for c, v in zip(process.channels, sums) if v}


def counts_to_fractions(counts: Mapping[tuple[int, ...], int]) -> dict[tuple[int, ...], float]:
    """Flavour counts → fractions summing to 1."""
    total = sum(counts.values())
    return {k: n / total for k, n in counts.items()}


def sample_flavours(
    n: int, fractions: Mapping[tuple[int, ...], float], rng: np.random.Generator
) -> np.ndarray:
    """Draw n flavour combinations (n, 6) int32 with the given fractions."""
    combos = np.array(list(fractions.keys()), dtype=np.int32)
    p = np.array(list(fractions.values()), dtype=np.float64)
    return combos[rng.choice(len(combos), size=n, p=p / p.sum())]


def to_fraction_table(fractions: Mapping[tuple[int, ...], float]) -> dict[str, float]:
    """Flavour fractions with string keys ("5,2,-1,-5,1,-2"), for JSON."""
    return {",".join(map(str, k)): v for k, v in fractions.items()}


def from_fraction_table(table: Mapping[str, float]) -> dict[tuple[int, ...], float]:
    """Inverse of `to_fraction_table`."""
    return {tuple(int(i) for i in k.split(",")): float(v) for k, v in table.items()}
