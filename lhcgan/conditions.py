"""Continuous conditions: the physics parameters a model is trained over (m_t, m_W, √s), as data.

A conditioned model (``lhcgan fit A.root B.root … --condition mt``) learns p(event | m_t) from
samples at a few values and generates at any value in between. A `Parameter` says where a
sample's value comes from and what it moves: a pole mass parameter moves the resonance's pole,
and the decay parametrisation measures that resonance's mass from the conditioned pole, so the
peak, the decay kinematics built from it and the m(tt̄) threshold follow the value by construction.
A new parameter is a new entry in `PARAMETERS`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lhcgan.errors import ConfigError, InputError

if TYPE_CHECKING:
    from lhcgan.events import Events
    from lhcgan.process import Process


@dataclass(frozen=True)
class Parameter:
    """One continuous condition.

    Attributes:
        name: the option's name ("mt": ``--condition mt``, ``generate --mt``, ``FILE:mt=172.5``).
        label: LaTeX label for figures.
        unit: "GeV".
        particle: the particle whose pole mass it is ("t" sets t and t̄), or None (√s).
    """

    name: str
    label: str
    unit: str
    particle: str | None = None

    def of(self, events: "Events") -> float | None:
        """The sample's value from its metadata, or None where the file does not record it."""
        if self.particle is not None:
            value = (events.meta.get("masses") or {}).get(self.particle)
        else:
            value = events.meta.get(self.name)
        return None if value is None else float(value)


#: Every parameter a model can be conditioned on, by name.
PARAMETERS: dict[str, Parameter] = {p.name: p for p in (
    Parameter("mt", r"$m_t$", "GeV", particle="t"),
    Parameter("mw", r"$m_W$", "GeV", particle="W"),
    Parameter("ecm", r"$\sqrt{s}$", "GeV"),
)}


def parameter(name: str) -> Parameter:
    if name not in PARAMETERS:
        raise ConfigError(f"unknown condition {name!r}; known are {', '.join(PARAMETERS)}")
    return PARAMETERS[name]


_SPEC = re.compile(r"^(?P<path>.+?)((?::[A-Za-z]\w*=[^:=]+)+)$")


def parse_input(spec: str) -> tuple[str, dict[str, float]]:
    """``"file.lhe:mt=172.5"`` → ("file.lhe", {"mt": 172.5}); a plain path gives no values.

    For files that do not record the value in their metadata.
    """
    m = _SPEC.match(spec)
    if not m:
        return spec, {}
    values = {}
    for item in m.group(2).split(":")[1:]:
        key, _, text = item.partition("=")
        parameter(key)
        try:
            values[key] = float(text)
        except ValueError:
            raise ConfigError(f"{spec!r}: {key}={text!r} is not a number", hint=f"write e.g. {m.group('path')}:{key}=172.5") from None
    return m.group("path"), values


@dataclass(frozen=True)
class Conditioning:
    """The continuous conditions of a model: which parameters, and the points it was trained at.

    The network sees each value mapped linearly onto [−1, 1] over the trained range.

    Attributes:
        names: the parameters, in column order.
        points: (K, P) the distinct training points, in the parameters' units.
    """

    names: tuple[str, ...]
    points: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        for n in self.names:
            parameter(n)
        if not self.points or any(len(p) != len(self.names) for p in self.points):
            raise ConfigError("a conditioning needs its training points, one value per parameter")

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return tuple(PARAMETERS[n] for n in self.names)

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def low(self) -> np.ndarray:
        return np.min(self.points, axis=0)

    @property
    def high(self) -> np.ndarray:
        return np.max(self.points, axis=0)

    def range_text(self) -> str:
        return ", ".join(f"{p.name} {lo:g}–{hi:g} {p.unit}" for p, lo, hi in zip(self.parameters, self.low, self.high))

    @property
    def _scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre and half-width (P,) of the trained range."""
        return (self.high + self.low) / 2, np.maximum((self.high - self.low) / 2, 1e-9)

    def to_network(self, values: np.ndarray) -> np.ndarray:
        """Values (N, P) in their units → the network's inputs (N, P) float32 in [−1, 1] over the range."""
        centre, half = self._scale
        return ((np.asarray(values, np.float64) - centre) / half).astype(np.float32)

    def from_network(self, x: Any) -> Any:
        """Inverse of `to_network`, for numpy arrays or torch tensors (N, P), float64."""
        centre, half = self._scale
        if isinstance(x, np.ndarray):
            return x.astype(np.float64) * half + centre
        import torch

        kw = {"dtype": torch.float64, "device": x.device}
        return x.double() * torch.as_tensor(half, **kw) + torch.as_tensor(centre, **kw)

    def check(self, values: Mapping[str, float]) -> np.ndarray:
        """The values (P,) for generation, in column order; refuses missing values and values outside the range."""
        missing = [n for n in self.names if n not in values]
        if missing:
            raise InputError(f"the model is conditioned on {', '.join(self.names)} ({self.range_text()}): "
                             f"give {' '.join('--' + n for n in missing)}", hint="choose a value in the trained range")
        extra = [n for n in values if n not in self.names]
        if extra:
            raise InputError(f"the model is not conditioned on {', '.join(extra)}; it is on {', '.join(self.names)}",
                             hint=f"leave out {' '.join('--' + n for n in extra)}")
        out = np.array([float(values[n]) for n in self.names])
        for p, v, lo, hi in zip(self.parameters, out, self.low, self.high):
            tol = 1e-6 * max(abs(lo), abs(hi), 1.0)
            if not lo - tol <= v <= hi + tol:
                raise InputError(f"{p.name} = {v:g} {p.unit} is outside the trained range {lo:g}–{hi:g} {p.unit} "
                                 f"(trained at {', '.join(f'{q:g}' for q in sorted({pt[self.names.index(p.name)] for pt in self.points}))})",
                                 hint="a generator does not extrapolate: train on samples that bracket the value")
        return out

    def poles(self, values: Any) -> dict[str, Any]:
        """The pole masses per event that the pole-mass parameters set: {particle: (N,)} from values (N, P)."""
        return {p.particle: values[:, k] for k, p in enumerate(self.parameters) if p.particle is not None}

    def mass_shifts(self, values: Any, process: "Process") -> Any:
        """Each event's pole shift per resonance, m₀(event) − m₀(process): (N, R) GeV from values (N, P),
        numpy or torch; zero for resonances whose pole no parameter sets."""
        from lhcgan.physics import lib
        from lhcgan.process import particle_of

        xp = lib(values)
        poles = self.poles(values)
        zero = values[:, 0] * 0
        return xp.stack([poles[particle_of(r.name)] - r.mass if particle_of(r.name) in poles else zero
                         for r in process.resonances], axis=1)

    def values_of(self, events: "Events") -> np.ndarray:
        """The events' parameter values (N, P), in column order."""
        missing = [n for n in self.names if n not in events.parameters]
        if missing:
            raise InputError(f"the events carry no values of {', '.join(missing)}", path=events.meta.get("source"))
        return np.stack([events.parameters[n] for n in self.names], axis=1)

    def process_at(self, process: "Process", values: np.ndarray) -> "Process":
        """The process with the pole masses of one point (P,) values."""
        masses = {p.particle: float(v) for p, v in zip(self.parameters, values) if p.particle is not None}
        return process.with_masses(masses) if masses else process

    def meta_at(self, values: np.ndarray) -> dict[str, Any]:
        """Metadata of events generated at one point: the values by name (and √s as "ecm")."""
        return {p.name: float(v) for p, v in zip(self.parameters, values)}

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "points": [list(p) for p in self.points],
                "range": {n: [float(lo), float(hi)] for n, lo, hi in zip(self.names, self.low, self.high)}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Conditioning":
        return cls(tuple(d["names"]), tuple(tuple(float(v) for v in p) for p in d["points"]))


def join_samples(samples: Sequence["Events"], names: Sequence[str],
                 given: Sequence[Mapping[str, float]] | None = None) -> tuple["Events", Conditioning]:
    """Samples at different parameter values → one sample with per-event values, and its conditioning.

    Each sample's value comes from ``given`` (``FILE:mt=…``) or its metadata. The joined process has
    its pole masses at the middle of the range; the events carry their own in ``parameters``.
    """
    from lhcgan.events import Events

    given = list(given or [{}] * len(samples))
    if not names:
        raise ConfigError("no parameter to condition on", hint="--condition mt")
    check_same_physics(samples, besides=names)
    points = []
    for events, values in zip(samples, given):
        row = []
        for name in names:
            recorded = parameter(name).of(events)
            value = values.get(name, recorded)
            if recorded is not None and value != recorded:
                warnings.warn(f"{events.meta.get('source')} records {name} = {recorded:g}; the given {value:g} is used",
                              stacklevel=2)
            if value is None:
                raise InputError(f"the file does not record its {name}", path=events.meta.get("source"),
                                 hint=f"give it on the command line: FILE:{name}=VALUE")
            row.append(float(value))
        points.append(tuple(row))
    conditioning = Conditioning(tuple(names), tuple(sorted(set(points))))
    if len(conditioning.points) < 2:
        raise ConfigError(f"every sample has {', '.join(f'{n} = {v:g}' for n, v in zip(names, points[0]))}: "
                          "a conditioned model needs samples at two values at least",
                          hint="give samples at several values, or fit without --condition")
    parts = []
    for events, row in zip(samples, points):
        pars = {n: np.full(len(events), v) for n, v in zip(names, row)}
        parts.append(Events(events.momenta, events.pdg, events.weights, events.process, dict(events.meta),
                            parameters=pars))
    joined = Events.pool(parts)
    middle = (conditioning.low + conditioning.high) / 2
    joined = joined.with_process(conditioning.process_at(joined.process, middle))
    joined.meta.pop("masses", None)
    joined.meta["source"] = " ".join(str(s.meta.get("source")) for s in samples)
    return joined, conditioning


def check_same_physics(samples: Sequence["Events"], besides: Sequence[str] = ()) -> None:
    """Refuse to pool samples made at different values of a parameter the model is not conditioned on
    (all of them but ``besides``): that would learn their mixture silently."""
    for p in PARAMETERS.values():
        if p.name in besides:
            continue
        values = {p.of(s) for s in samples} - {None}
        if len(values) > 1:
            raise ConfigError(f"the samples differ in {p.name} ({', '.join(f'{v:g}' for v in sorted(values))} {p.unit}): "
                              "pooled they would be learnt as their mixture",
                              hint=f"--condition {p.name} to learn the dependence, or give samples at one value")
