"""The trained model as one file: weights, preprocessing, process, settings and flavours.

Everything `lhcgan generate` needs is in that file; nothing else is looked up.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lhcgan.atomic import atomic_output
from lhcgan.conditions import Conditioning
from lhcgan.config import FitConfig
from lhcgan.errors import InputError
from lhcgan.events import Events, channel_totals, from_fraction_table, sample_flavours, to_fraction_table
from lhcgan.halves import in_halves
from lhcgan.model import (
    Bridge,
    Generator,
    autocast,
    generates_in_bf16,
    net_slice,
    parametrisation_from_dict,
    parametrisation_to_dict,
)
from lhcgan.preprocessing import Standardizer
from lhcgan.process import Process
from lhcgan.refine import Refiner
from lhcgan.system import refine_features
from lhcgan.variation_model import VariationModel
from lhcgan.version import __version__

#: Events per call of the float64 map back to momenta: its (B, 18) temporaries then stay in the caches
#: (2.2× faster than 175 000 at once on an AMD EPYC with 1 MiB L2 per core and 32 MiB L3; 8192 and 32768 as fast).
BRIDGE_SLICE = 16384

FORMAT = "lhcgan-model/2"  # 2: helicity-frame angles, quantile-mapped coordinates, logistic noise
ENSEMBLE_FORMAT = "lhcgan-ensemble/1"  # a list of lhcgan-model/2 payloads
#: The pretrained tt̄ model shipped in data/, used when no --model is given.
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "data" / "ttbar_model.pt"


@dataclass
class TrainedModel:
    """A generator with everything needed to turn noise into `Events`."""

    generator: Generator
    bridge: Bridge
    process: Process
    config: FitConfig
    flavour_fractions: dict[tuple[int, ...], float]
    meta: dict[str, Any] = field(default_factory=dict)
    #: the parameters (m_t, √s) the model is conditioned on, with its training points; None if none
    conditioning: Conditioning | None = None
    #: the smooth reweighting onto the training sample, applied by rejection (`lhcgan.refine`); None: none
    refiner: Refiner | None = None
    #: the training sample's theory variations as ratios learnt per event (`lhcgan.variation_model`); None: none
    variation_model: VariationModel | None = None

    def save(self, path: str | os.PathLike[str]) -> None:
        with atomic_output(path) as tmp:
            torch.save(self.payload(), tmp)

    def payload(self) -> dict[str, Any]:
        """The model as plain data and tensors, as saved."""
        g = self.generator
        return {
            "format": FORMAT,
            "lhcgan_version": __version__,
            "generator": dict(g.spec),
            "generator_state": {k: v.cpu() for k, v in g.state_dict().items()},
            "bridge_state": {k: v.cpu() for k, v in self.bridge.state_dict().items()},
            "conserve_pt": self.bridge.conserve_pt,
            "disc_masses": self.bridge.disc_masses,
            "disc_coordinates": self.bridge.disc_coordinates,
            "parametrisation": parametrisation_to_dict(self.bridge.param),
            "features": {"mean": self.bridge.mean.tolist(), "scale": self.bridge.scale.tolist()},
            "process": self.process.to_dict(),
            "config": self.config.to_dict(),
            "flavour_fractions": to_fraction_table(self.flavour_fractions),
            "conditioning": self.conditioning.to_dict() if self.conditioning else None,
            "refiner": self.refiner.to_dict() if self.refiner else None,
            "variation_model": self.variation_model.to_dict() if self.variation_model else None,
            "meta": self.meta,
        }

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> "TrainedModel":
        """A single model from its file; an ensemble file is refused (use `load_model`)."""
        model = load_model(path)
        if isinstance(model, Ensemble):
            raise InputError("the file holds an ensemble of models", path=path, hint="load it with load_model")
        return model

    @classmethod
    def from_payload(cls, d: dict[str, Any], path: Path) -> "TrainedModel":
        if d.get("format") != FORMAT:
            raise InputError(f"model format {d.get('format')} is not this lhcgan's {FORMAT}", path=path,
                             hint="retrain it with this version's `lhcgan fit`")
        process = Process.from_dict(d["process"])
        param = parametrisation_from_dict(d["parametrisation"], process)
        feat = Standardizer.from_state_dict(d["features"])
        conditioning = Conditioning.from_dict(d["conditioning"]) if d.get("conditioning") else None
        bs = d["bridge_state"]
        bridge = Bridge(param, feat, process, mass_mean=bs["mass_mean"].numpy(), mass_scale=bs["mass_scale"].numpy(),
                        conserve_pt=d.get("conserve_pt", d["config"].get("conserve_pt")), disc_masses=d["disc_masses"],
                        disc_coordinates=d["disc_coordinates"], conditioning=conditioning)
        bridge.load_state_dict(bs)
        gen = Generator.from_spec(d["generator"])
        gen.load_state_dict(d["generator_state"])
        refiner = Refiner.from_dict(d["refiner"]) if d.get("refiner") else None
        variation_model = VariationModel.from_dict(d["variation_model"]) if d.get("variation_model") else None
        # files of earlier versions kept the decided pT conservation beside a config that says null (auto)
        config = FitConfig.from_dict(d["config"]).replace(conserve_pt=bridge.conserve_pt)
        return cls(gen.eval(), bridge, process, config,
                   from_fraction_table(d["flavour_fractions"]), d["meta"], conditioning, refiner, variation_model)

    # -- sampling ----------------------------------------------------------------------------------

    @torch.no_grad()
    def momenta(self, z: torch.Tensor, pdg: np.ndarray | None = None, values: np.ndarray | None = None) -> np.ndarray:
        """Noise (B, latent) → momenta (B, 6, 3) float64 GeV; the map back to momenta runs in float64.

        ``pdg`` (B, 6), the events' flavours, give the condition (the decay channel) of a model of
        several channels; ``values`` (P,) or (B, P), the parameters (m_t GeV, ...) of a conditioned
        model (`iterate` checks them against the trained range). The network runs in bf16 where the CPU has
        native bf16 and the model's ``cpu_bf16`` is not False (`model.generates_in_bf16`).
        """
        if self.process.n_condition and pdg is None:
            raise InputError("this model covers several channels: give the events' flavours",
                             path=self.meta.get("source"), hint="use iterate() or sample()")
        cond = self.process.condition(pdg) if self.process.n_condition else np.zeros((len(z), 0), np.float32)
        if self.conditioning is not None:
            if values is None:
                raise InputError(f"this model is conditioned on {', '.join(self.conditioning.names)}: give values",
                                 path=self.meta.get("source"), hint="use iterate(parameters=...)")
            rows = np.broadcast_to(np.asarray(values, np.float64).reshape(-1, self.conditioning.n),
                                   (len(z), self.conditioning.n))
            cond = np.concatenate([cond, self.conditioning.to_network(rows)], axis=1)
        cond = torch.as_tensor(cond)
        size = net_slice(self.generator.spec["hidden"])
        bf16 = generates_in_bf16(self.config.cpu_bf16)
        parts = []
        for zb, cb in zip(z.split(BRIDGE_SLICE), cond.split(BRIDGE_SLICE)):
            with autocast(z.device, self.config.bf16, bf16):
                # in slices whose activations stay in the CPU's L2 cache: 1.6× to 3.5× faster than larger ones
                x = torch.cat([self.generator(a, c if c.shape[1] else None).float()
                               for a, c in zip(zb.split(size), cb.split(size))])
            parts.append(self.bridge.to_momenta(x, cb if cb.shape[1] else None))
        return torch.cat(parts).numpy()

    @property
    def channels(self) -> list[str]:
        """The decay channels the model generates (those of its training sample)."""
        return [c.name for c in self.process.channels]

    def channel_fractions(self) -> dict[str, float]:
        """Fraction of the generated events in each channel (of the flavour fractions learnt)."""
        return channel_totals(self.process, self.flavour_fractions)

    def iterate(self, n: int, seed: int = 1, chunk: int = 100_000, shard: int = 0,
                channel: str | None = None, parameters: Mapping[str, float] | None = None) -> Iterator[Events]:
        """Yield exactly n generated events in chunks; ``seed`` (and ``shard``) fix the stream.

        Every event gets the model's exact symmetries (`lhcgan.symmetry`) with random parameters.
        ``channel`` generates one decay channel only (its flavours in their learnt proportions);
        by default the channel mix of the training sample. A refined model (`lhcgan.refine`) emits
        each event w/w_bound times on average (kept with that probability below the bound, copied under
        fresh symmetry transforms above it), from random streams of their own. ``parameters`` ({"mt": 172.5} GeV) are
        the values of a conditioned model, within its trained range; the events' process has
        the pole masses they set and their metadata records them.
        """
        from lhcgan.symmetry import randomise

        # one stream per (seed, shard): distinct seeds for every pair, drawn from numpy's SeedSequence
        states = np.random.SeedSequence([int(seed), int(shard)]).generate_state(5, dtype=np.uint64)
        gen = torch.Generator().manual_seed(int(states[0]))
        rng = np.random.default_rng(int(states[1]))
        rng_sym = np.random.default_rng(int(states[2]))  # a stream of its own: the i-th event's angle never moves
        rng_refine = np.random.default_rng(int(states[3]))
        rng_copies = np.random.default_rng(int(states[4]))  # the transforms of the refiner's copies
        acceptance = self.refiner.acceptance if self.refiner else 1.0
        if acceptance * chunk < 1:
            raise InputError(f"the model's refinement keeps {acceptance:.1e} of its events", path=self.meta.get("source"),
                             hint="the refiner is broken: retrain, or refit with --set refine=false")
        meta = {"source": f"lhcgan generate (seed {seed})", "seed": int(seed),
                **{k: self.meta[k] for k in ("ecm", "cross_section_pb") if self.meta.get(k)}}
        fractions, process = self.flavour_fractions, self.process
        values = None
        if self.conditioning is not None:
            values = self.conditioning.check(parameters or {})
            process = self.conditioning.process_at(process, values)
            meta |= self.conditioning.meta_at(values)
        elif parameters:
            raise InputError(f"the model is not conditioned on {', '.join(parameters)}",
                             hint="train with `lhcgan fit FILES… --condition NAME` for a model that varies it")
        if channel is not None:
            if channel not in self.channels:
                raise InputError(f"the model was trained on {', '.join(self.channels)}, not {channel}",
                                 hint=f"choose --channel from {self.channels}, or train on a sample with {channel}")
            mine = self.process.channel_of(np.array(list(fractions), dtype=np.int64)) == self.channels.index(channel)
            fractions = {k: f for (k, f), keep in zip(fractions.items(), mine) if keep}
            process = process.restrict([channel])
            if meta.get("cross_section_pb"):  # σ of the channel alone
                meta["cross_section_pb"] *= self.channel_fractions()[channel]
        vm = self.variation_model
        transformed = functools.partial(self._transformed, process=process, features=vm is not None)
        done = 0
        while done < n:
            k = min(chunk, n - done if self.refiner is None  # with rejection, enough candidates for the rest
                    else int(np.ceil((n - done) / acceptance * 1.02)) + 16)
            z = self.generator.noise(k, gen)
            pdg = sample_flavours(k, fractions, rng)
            p = self.momenta(z, pdg, values)
            ok = np.isfinite(p).all(axis=(1, 2))  # a NaN from the network is never written: the loop makes up for it
            # pp collisions are symmetric about the beam (and under z → −z): random transforms make those
            # symmetries exact and leave every invariant quantity (pT, masses, ΔR) as generated
            # one row of numbers per event: the i-th event's transforms never move, whatever n or chunk
            u_sym = rng_sym.random((k, len(self.config.symmetries)))
            if not ok.any():
                raise InputError(f"the model made {k} non-finite events in a row", path=self.meta.get("source"),
                                 hint="the model is broken: retrain it")
            # per event alone: the transforms, the slot masses, the tt̄ system's features (once for the
            # refiner and the variation model) and the tilt, on the chunk's two halves at once
            p, masses, system, log_w = in_halves(transformed, p[ok], pdg[ok], u_sym[ok])
            pdg = pdg[ok]
            if self.refiner is not None:
                rows = np.repeat(np.arange(len(p)), self.refiner.copies_from(log_w, rng_refine))
                p, pdg, masses = p[rows], pdg[rows], masses[rows]
                system = {k: v[rows] for k, v in system.items()}
                again = np.flatnonzero(rows[1:] == rows[:-1]) + 1  # an event's copies after its first
                if len(again):  # fresh transforms: the copies share their invariants, not their momenta
                    fresh = iter(rng_copies.random((len(again), len(self.config.symmetries))).T)
                    p[again] = randomise(p[again], self.config.symmetries, lambda _, cols=fresh: next(cols))
                    for k, v in refine_features(p[again], masses[again], process, signed=True).items():
                        system[k][again] = v  # a reflected copy's signed rapidities flip
            p, pdg = p[: n - done], pdg[: n - done]
            done += len(p)
            if len(p):
                ratios = None if vm is None else vm.predict(p, masses[: len(p)], pdg, self.process,
                                                            {k: v[: len(p)] for k, v in system.items()})
                yield Events(p, pdg, None, process, dict(meta), variations=ratios,
                             variation_set=None if vm is None else vm.variations)

    def _transformed(self, p: np.ndarray, pdg: np.ndarray, u: np.ndarray, process: Process, features: bool
                     ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
        """Generated momenta (N, 6, 3) GeV under the model's symmetries with parameters u (N, S) uniform, their
        slot masses (N, 6) GeV, signed `refine_features` (where the refiner or ``features`` asks) and the
        refiner's log weights (N,) (None without one): each event on its own."""
        from lhcgan.symmetry import randomise

        columns = iter(u.T)
        p = randomise(p, self.config.symmetries, lambda _: next(columns))
        masses = process.masses_of(pdg)
        system = refine_features(p, masses, process, signed=True) if features or self.refiner else {}
        log_w = None if self.refiner is None else self.refiner.log_weights_of(p, pdg, process, system)
        return p, masses, system, log_w

    def sample(self, n: int, seed: int = 1, channel: str | None = None,
               parameters: Mapping[str, float] | None = None) -> Events:
        return Events.concatenate(list(self.iterate(n, seed, channel=channel, parameters=parameters)))


@dataclass
class Ensemble:
    """K generators trained on one sample with different seeds, sampled as an equal mixture.

    The spread of the members is the model's uncertainty (`lhcgan validate` draws it as a
    band); the mixture is usually better than any one member.
    """

    members: list[TrainedModel]

    @property
    def process(self) -> Process:
        return self.members[0].process

    @property
    def config(self) -> FitConfig:
        return self.members[0].config

    @property
    def meta(self) -> dict[str, Any]:
        return self.members[0].meta | {"ensemble": len(self.members),
                                       "seeds": [m.meta.get("seed") for m in self.members]}

    def save(self, path: str | os.PathLike[str]) -> None:
        with atomic_output(path) as tmp:
            torch.save({"format": ENSEMBLE_FORMAT, "members": [m.payload() for m in self.members]}, tmp)

    @property
    def channels(self) -> list[str]:
        return self.members[0].channels

    @property
    def conditioning(self) -> Conditioning | None:
        return self.members[0].conditioning

    def iterate(self, n: int, seed: int = 1, chunk: int = 100_000, shard: int = 0,
                channel: str | None = None, parameters: Mapping[str, float] | None = None) -> Iterator[Events]:
        """Exactly n events, each chunk an equal, shuffled mixture of every member's events."""
        k = len(self.members)
        counts = [n // k + (i < n % k) for i in range(k)]
        per = -(-chunk // k)
        streams = [m.iterate(c, seed=seed, chunk=per, shard=shard * k + i, channel=channel, parameters=parameters)
                   for i, (m, c) in
                   enumerate(zip(self.members, counts))]
        rng = np.random.default_rng([int(seed), int(shard), k])
        while streams:
            pulled = [(s, next(s, None)) for s in streams]
            streams = [s for s, part in pulled if part is not None]
            parts = [part for _, part in pulled if part is not None]
            if parts:
                events = Events.concatenate(parts)
                yield events[rng.permutation(len(events))]

    def sample(self, n: int, seed: int = 1, channel: str | None = None,
               parameters: Mapping[str, float] | None = None) -> Events:
        return Events.concatenate(list(self.iterate(n, seed, channel=channel, parameters=parameters)))

    def member_samples(self, n: int, seed: int = 1, parameters: Mapping[str, float] | None = None) -> list[Events]:
        """n events from every member alone, for the spread between them."""
        return [m.sample(n, seed=seed * 1000 + i, parameters=parameters) for i, m in enumerate(self.members)]


def load_model(path: str | os.PathLike[str] | None = None) -> TrainedModel | Ensemble:
    """A model file written by `lhcgan fit`: one model, or an ensemble (``fit --ensemble K``)."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        raise InputError("no such model file", path=path, hint="train one with `lhcgan fit` or give --model")
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise InputError(f"cannot load the model ({type(exc).__name__})", path=path,
                         hint="the file is damaged or not an lhcgan model") from exc
    if not isinstance(d, dict) or not str(d.get("format", "")).startswith(("lhcgan-model/", "lhcgan-ensemble/")):
        raise InputError("not an lhcgan model file", path=path, hint="give a model.pt written by `lhcgan fit`")
    if d["format"] == ENSEMBLE_FORMAT:
        return Ensemble([TrainedModel.from_payload(m, path) for m in d["members"]])
    return TrainedModel.from_payload(d, path)
