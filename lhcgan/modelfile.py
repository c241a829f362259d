"""The trained model as one file: weights, preprocessing, process, settings and flavours.

Everything `lhcgan generate` needs is in that file; nothing else is looked up.
"""

from __future__ import annotations

import collections.abc
import contextlib
import functools
import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lhcgan import cpu, torchfile
from lhcgan.atomic import atomic_output
from lhcgan.conditions import Conditioning
from lhcgan.config import FitConfig
from lhcgan.decoder import Decoder
from lhcgan.errors import InputError
from lhcgan.events import Events, channel_totals, from_fraction_table, sample_flavours, to_fraction_table
from lhcgan.halves import in_halves
from lhcgan.numpynet import GeneratorNet, logistic_noise
from lhcgan.preprocessing import Parametrisation, Standardizer, parametrisation_from_dict, parametrisation_to_dict
from lhcgan.process import Process
from lhcgan.refine import Refiner
from lhcgan.system import refine_features
from lhcgan.variation_model import VariationModel
from lhcgan.version import __version__

if TYPE_CHECKING:
    from lhcgan.model import Bridge, Generator

#: Events per call of the float64 map back to momenta: its (B, 18) temporaries then stay in the caches
#: (2.2× faster than 175 000 at once on an AMD EPYC with 1 MiB L2 per core and 32 MiB L3; 8192 and 32768 as fast).
BRIDGE_SLICE = 16384

#: The `model.Bridge`'s buffers: the discriminator's feature standardisation, saved with the model
BRIDGE_BUFFERS = ("mean", "scale", "mass_mean", "mass_scale")

#: Candidates per block of the generated stream (`TrainedModel.iterate`): each block draws its random numbers
#: from SeedSequence([seed, shard, block]). Part of what a seed means: another size gives other events.
STREAM_BLOCK = 4096
#: blocks per process below which generation stays in one process (forking costs more than it saves)
PARALLEL_BLOCKS = 8
#: blocks per task of generation at most: a task's per-event passes (symmetries, refinement, variations) then work
#: on arrays that stay in the caches. On a 2-core AMD EPYC (32 MiB L3) one process made 60–68k events/s in tasks of
#: 1–16 blocks, 47k in tasks of 49 (a 200k chunk); the parent joins the tasks into chunks.
TASK_BLOCKS = 4

FORMAT = "lhcgan-model/2"  # 2: helicity-frame angles, quantile-mapped coordinates, logistic noise
ENSEMBLE_FORMAT = "lhcgan-ensemble/1"  # a list of lhcgan-model/2 payloads
#: The pretrained tt̄ model shipped in data/, used when no --model is given.
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "data" / "ttbar_model.pt"


@dataclass
class TrainedModel:
    """A generator with everything needed to turn noise into `Events`.

    The networks are held as weights and run in numpy (`lhcgan.numpynet`), so loading and generating need no
    torch; `generator` and `bridge` rebuild the torch modules where training, bf16 generation or a test asks.
    """

    #: the generator's spec and weights
    network: GeneratorNet
    #: the map between momenta and the network's coordinates
    param: Parametrisation
    #: whether generated events are balanced in pT
    conserve_pt: bool
    #: the discriminator's side of the `model.Bridge`: its buffers as arrays (`BRIDGE_BUFFERS`) and its flags
    #: ("disc_masses", "disc_coordinates"); saved, not used in generation
    discriminator_inputs: dict[str, Any]
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

    @classmethod
    def from_networks(cls, generator: "Generator", bridge: "Bridge", process: Process, config: FitConfig,
                      flavour_fractions: dict[tuple[int, ...], float], meta: dict[str, Any] | None = None,
                      conditioning: Conditioning | None = None, refiner: Refiner | None = None,
                      variation_model: VariationModel | None = None) -> "TrainedModel":
        """The model of trained torch modules (their weights copied)."""
        state = {k: v.detach().cpu().numpy().copy() for k, v in generator.state_dict().items()}
        buffers = {k: v.detach().cpu().numpy().copy() for k, v in bridge.state_dict().items()}
        return cls(GeneratorNet(dict(generator.spec), state), bridge.param, bool(bridge.conserve_pt),
                   buffers | {"disc_masses": bridge.disc_masses, "disc_coordinates": bridge.disc_coordinates},
                   process, config, flavour_fractions, meta or {}, conditioning, refiner, variation_model)

    @functools.cached_property
    def decoder(self) -> Decoder:
        """Network coordinates → momenta, numpy or torch."""
        return Decoder(self.param, self.process, self.conserve_pt, self.conditioning)

    @functools.cached_property
    def generator(self) -> "Generator":
        """The torch generator of these weights (imports torch)."""
        import torch

        from lhcgan.model import Generator

        gen = Generator.from_spec(self.network.spec)
        gen.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.network.state.items()})
        return gen.eval()

    @functools.cached_property
    def bridge(self) -> "Bridge":
        """The torch `model.Bridge` of the model (imports torch)."""
        import torch

        from lhcgan.model import Bridge

        d = self.discriminator_inputs
        feat = Standardizer(np.asarray(d["mean"], np.float64), np.asarray(d["scale"], np.float64))
        bridge = Bridge(self.param, feat, self.process, mass_mean=np.asarray(d["mass_mean"]),
                        mass_scale=np.asarray(d["mass_scale"]), conserve_pt=self.conserve_pt,
                        disc_masses=bool(d["disc_masses"]), disc_coordinates=bool(d["disc_coordinates"]),
                        conditioning=self.conditioning)
        bridge.load_state_dict({k: torch.as_tensor(np.asarray(d[k])) for k in BRIDGE_BUFFERS})
        return bridge

    def save(self, path: str | os.PathLike[str]) -> None:
        save_payload(self.payload(), path)

    def payload(self) -> dict[str, Any]:
        """The model as plain data and arrays, as saved (the arrays as tensors)."""
        d = self.discriminator_inputs
        buffers = {k: np.asarray(d[k]) for k in BRIDGE_BUFFERS}
        return {
            "format": FORMAT,
            "lhcgan_version": __version__,
            "generator": dict(self.network.spec),
            "generator_state": dict(self.network.state),
            "bridge_state": buffers,
            "conserve_pt": self.conserve_pt,
            "disc_masses": bool(d["disc_masses"]),
            "disc_coordinates": bool(d["disc_coordinates"]),
            "parametrisation": parametrisation_to_dict(self.param),
            "features": {"mean": buffers["mean"].tolist(), "scale": buffers["scale"].tolist()},
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
        """The model of a saved payload (its tensors as numpy arrays or tensors)."""
        if d.get("format") != FORMAT:
            raise InputError(f"model format {d.get('format')} is not this lhcgan's {FORMAT}", path=path,
                             hint="retrain it with this version's `lhcgan fit`")
        process = Process.from_dict(d["process"])
        param = parametrisation_from_dict(d["parametrisation"], process)
        conditioning = Conditioning.from_dict(d["conditioning"]) if d.get("conditioning") else None
        bs = {k: np.asarray(v) for k, v in d["bridge_state"].items()}
        network = GeneratorNet(dict(d["generator"]), {k: np.asarray(v) for k, v in d["generator_state"].items()})
        refiner = Refiner.from_dict(d["refiner"]) if d.get("refiner") else None
        variation_model = VariationModel.from_dict(d["variation_model"]) if d.get("variation_model") else None
        conserve_pt = bool(d.get("conserve_pt", d["config"].get("conserve_pt")))
        # files of earlier versions kept the decided pT conservation beside a config that says null (auto)
        config = FitConfig.from_dict(d["config"]).replace(conserve_pt=conserve_pt)
        inputs = bs | {"disc_masses": bool(d["disc_masses"]), "disc_coordinates": bool(d["disc_coordinates"])}
        return cls(network, param, conserve_pt, inputs, process, config, from_fraction_table(d["flavour_fractions"]),
                   d["meta"], conditioning, refiner, variation_model)

    # -- sampling ----------------------------------------------------------------------------------

    def momenta(self, z: Any, pdg: np.ndarray | None = None, values: np.ndarray | None = None) -> np.ndarray:
        """Noise (B, latent), numpy or torch → momenta (B, 6, 3) float64 GeV; the map back runs in float64.

        ``pdg`` (B, 6), the events' flavours, give the condition (the decay channel) of a model of
        several channels; ``values`` (P,) or (B, P), the parameters (m_t GeV, ...) of a conditioned
        model (`iterate` checks them against the trained range). The network runs in numpy, float32, unless the
        CPU has native bf16 and the model's ``cpu_bf16`` is not False (`cpu.generates_in_bf16`): then in torch
        under bf16 autocast.
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
        if cpu.generates_in_bf16(self.config.cpu_bf16):
            return self._momenta_bf16(z, cond)
        z = np.asarray(z, np.float32)
        parts = []
        for i in range(0, len(z), BRIDGE_SLICE):  # the map back's (B, 18) temporaries stay in the caches
            zb, cb = z[i: i + BRIDGE_SLICE], cond[i: i + BRIDGE_SLICE]
            c = cb if cb.shape[1] else None
            parts.append(self.decoder.to_momenta(self.network(zb, c), c))
        return np.concatenate(parts) if parts else np.zeros((0, self.process.n_particles, 3))

    def _momenta_bf16(self, z: Any, cond: np.ndarray) -> np.ndarray:
        """`momenta` with the torch generator under bf16 autocast and the map back in torch."""
        import torch

        from lhcgan.model import autocast

        z, condition = torch.as_tensor(np.asarray(z, np.float32)), torch.as_tensor(cond)
        size = cpu.net_slice(self.network.spec["hidden"], torch.get_num_threads())
        parts = []
        with torch.no_grad():
            for zb, cb in zip(z.split(BRIDGE_SLICE), condition.split(BRIDGE_SLICE)):
                with autocast(zb.device, self.config.bf16, True):
                    # in slices whose activations stay in the CPU's L2 cache: 1.6× to 3.5× faster than larger ones
                    x = torch.cat([self.generator(a, c if c.shape[1] else None).float()
                                   for a, c in zip(zb.split(size), cb.split(size))])
                parts.append(self.decoder.to_momenta(x, cb if cb.shape[1] else None))
        return torch.cat(parts).numpy()

    @property
    def channels(self) -> list[str]:
        """The decay channels the model generates (those of its training sample)."""
        return [c.name for c in self.process.channels]

    def channel_fractions(self) -> dict[str, float]:
        """Fraction of the generated events in each channel (of the flavour fractions learnt)."""
        return channel_totals(self.process, self.flavour_fractions)

    def iterate(self, n: int, seed: int = 1, chunk: int = 100_000, shard: int = 0,
                channel: str | None = None, parameters: Mapping[str, float] | None = None,
                processes: int | None = None, cores: int | None = None
                ) -> collections.abc.Generator[Events, None, None]:
        """Yield exactly n generated events in chunks; ``seed`` (and ``shard``) fix the stream.

        Every event gets the model's exact symmetries (`lhcgan.symmetry`) with random parameters.
        ``channel`` generates one decay channel only (its flavours in their learnt proportions);
        by default the channel mix of the training sample. A refined model (`lhcgan.refine`) emits
        each event w/w_bound times on average (kept with that probability below the bound, copied under
        fresh symmetry transforms above it). ``parameters`` ({"mt": 172.5} GeV) are
        the values of a conditioned model, within its trained range; the events' process has
        the pole masses they set and their metadata records them.

        The stream is a sequence of blocks of `STREAM_BLOCK` candidates, each with random numbers of its
        own, so the events are the same for any n (a prefix), any ``chunk`` (about that many candidates
        per yielded chunk, ⌈chunk / STREAM_BLOCK⌉ blocks' worth) and any number of ``processes``: forked workers,
        one thread each (`lhcgan.workers`; default: one per core where that pays, `PARALLEL_BLOCKS`, of ``cores``
        or all usable ones), each task at most `TASK_BLOCKS` blocks, joined here into the chunks.
        """
        from lhcgan.workers import ordered_map, usable_processes

        stream = self._stream(seed, shard, channel, parameters)
        if n <= 0:
            return
        acceptance = self.refiner.acceptance if self.refiner else 1.0
        if acceptance * STREAM_BLOCK < 1:
            raise InputError(f"the model's refinement keeps {acceptance:.1e} of its events", path=self.meta.get("source"),
                             hint="the refiner is broken: retrain, or refit with --set refine=false")
        per_chunk = max(1, -(-chunk // STREAM_BLOCK))  # blocks per yielded chunk
        per_task = min(per_chunk, TASK_BLOCKS)
        expected = int(np.ceil(n / acceptance * 1.02 / STREAM_BLOCK))  # blocks that n needs, on average (+2 %)

        def tasks() -> Iterator[tuple[int, int]]:
            first = 0
            while True:  # tasks within each chunk up to the expected blocks, then one block at a time until n are made
                size = min(per_task, per_chunk - first % per_chunk, expected - first) if first < expected else 1
                yield first, size
                first += size

        if processes is None:
            cores = min(cores, usable_processes()) if cores else usable_processes()
            processes = cores if expected >= PARALLEL_BLOCKS * cores else 1
        work, vm = functools.partial(self._sized_blocks, stream), self.variation_model
        if processes > 1 and cpu.generates_in_bf16(self.config.cpu_bf16):
            _ = self.generator  # torch imported and the generator built once, before the workers fork, not in each
        if processes > 1:  # each task's events come back through shared memory: room for twice the expected
            row = 4 * (7 * self.process.n_particles + 2 * (len(vm.variations) if vm else 0))
            parts = ordered_map(work, tasks(), processes, slot_bytes=2 * per_task * STREAM_BLOCK * row)
        else:
            parts = (work(t) for t in tasks())
        done = blocks = 0
        pending: list[Events] = []
        with contextlib.closing(parts):  # leaving early ends the workers at once
            for size, part in parts:
                blocks += size
                if part is not None:
                    pending.append(part[: n - done])
                    done += len(pending[-1])
                if pending and (blocks >= per_chunk or done >= n):
                    yield Events.concatenate(pending) if len(pending) > 1 else pending[0]
                    pending, blocks = [], 0
                if done >= n:
                    return

    def _sized_blocks(self, stream: "_Stream", task: tuple[int, int]) -> tuple[int, Events | None]:
        """The task's block count and `_blocks`' events."""
        return task[1], self._blocks(stream, task)

    def _stream(self, seed: int, shard: int, channel: str | None, parameters: Mapping[str, float] | None
                ) -> "_Stream":
        """The checked arguments of `iterate` as what every block of its stream needs."""
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
        return _Stream(int(seed), int(shard), process, fractions, values, meta)

    def _blocks(self, stream: "_Stream", task: tuple[int, int]) -> Events | None:
        """The events that blocks ``first`` … ``first + count − 1`` of the stream emit, in order (None: none)."""
        from lhcgan.symmetry import randomise

        first, count = task
        n_sym, vm = len(self.config.symmetries), self.variation_model
        # per block: the noise, the flavours, the symmetries' parameters, the rejection's uniforms and the copies'
        # transforms, each from a stream of its own (one row of numbers per candidate: an event's never move)
        states = [np.random.SeedSequence([stream.seed, stream.shard, b]).generate_state(5, dtype=np.uint64)
                  for b in range(first, first + count)]
        z = np.concatenate([logistic_noise(STREAM_BLOCK, self.network.latent, np.random.default_rng(int(s[0])))
                            for s in states])
        pdg = np.concatenate([sample_flavours(STREAM_BLOCK, stream.fractions, np.random.default_rng(int(s[1])))
                              for s in states])
        u_sym = np.concatenate([np.random.default_rng(int(s[2])).random((STREAM_BLOCK, n_sym)) for s in states])
        p = self.momenta(z, pdg, stream.values)
        ok = np.isfinite(p).all(axis=(1, 2))  # a NaN from the network is never written: later blocks make up for it
        if not ok.any():
            raise InputError(f"the model made {len(p)} non-finite events in a row", path=self.meta.get("source"),
                             hint="the model is broken: retrain it")
        # pp collisions are symmetric about the beam (and under z → −z): random transforms make those
        # symmetries exact and leave every invariant quantity (pT, masses, ΔR) as generated.
        # Per event alone: the transforms, the slot masses, the tt̄ system's features (once for the
        # refiner and the variation model) and the tilt, on the task's two halves at once
        transformed = functools.partial(self._transformed, process=stream.process, features=vm is not None)
        p, masses, system, log_w = in_halves(transformed, p[ok], pdg[ok], u_sym[ok])
        pdg = pdg[ok]
        # the variation ratios, block by block: numpy's BLAS rounds a row by where it sits in the product, and
        # a block's rows sit alike however the stream is cut into tasks. Their inputs are invariant under the
        # symmetries (`variation_model.inputs`), so an event's copies below share its ratios.
        block = np.flatnonzero(ok) // STREAM_BLOCK
        ratios = None if vm is None else np.concatenate([
            vm.predict(p[s], masses[s], pdg[s], self.process, {k: v[s] for k, v in system.items()})
            for s in (slice(a, b) for a, b in itertools.pairwise(np.searchsorted(block, np.arange(count + 1))))])
        if self.refiner is not None:
            u = np.concatenate([np.random.default_rng(int(s[3])).random(STREAM_BLOCK) for s in states])[ok]
            rows = np.repeat(np.arange(len(p)), self.refiner.copies_from(log_w, u))
            p, pdg = p[rows], pdg[rows]
            ratios = None if ratios is None else ratios[rows]
            again = np.flatnonzero(rows[1:] == rows[:-1]) + 1  # an event's copies after its first
            if len(again):  # fresh transforms: the copies share their invariants, not their momenta
                per_block = np.bincount(block[rows[again]], minlength=count)
                fresh = np.concatenate([np.random.default_rng(int(s[4])).random((k, n_sym))
                                        for s, k in zip(states, per_block)])
                columns = iter(fresh.T)
                p[again] = randomise(p[again], self.config.symmetries, lambda _: next(columns))
        if not len(p):
            return None
        return Events(p, pdg, None, stream.process, dict(stream.meta), variations=ratios,
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


@dataclass(frozen=True)
class _Stream:
    """What every block of one generated stream shares: its seed and shard, the process (at the
    parameters' masses, restricted to the channel), the flavour fractions, the parameters' values and metadata."""

    seed: int
    shard: int
    process: Process
    fractions: dict[tuple[int, ...], float]
    values: np.ndarray | None
    meta: dict[str, Any]


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
        save_payload({"format": ENSEMBLE_FORMAT, "members": [m.payload() for m in self.members]}, path)

    @property
    def channels(self) -> list[str]:
        return self.members[0].channels

    @property
    def conditioning(self) -> Conditioning | None:
        return self.members[0].conditioning

    def iterate(self, n: int, seed: int = 1, chunk: int = 100_000, shard: int = 0,
                channel: str | None = None, parameters: Mapping[str, float] | None = None,
                processes: int | None = None) -> collections.abc.Generator[Events, None, None]:
        """Exactly n events, each chunk an equal, shuffled mixture of every member's events
        (``processes`` as in `TrainedModel.iterate`, for each member's stream; by default the members share the
        usable cores, so that K members do not start K × cores processes)."""
        from lhcgan.workers import usable_processes

        k = len(self.members)
        cores = max(1, usable_processes() // k)
        counts = [n // k + (i < n % k) for i in range(k)]
        per = -(-chunk // k)
        streams = [m.iterate(c, seed=seed, chunk=per, shard=shard * k + i, channel=channel, parameters=parameters,
                             processes=processes, cores=cores)
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
        d = torchfile.load(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load the model ({exc})", path=path,
                         hint="the file is damaged or not an lhcgan model") from exc
    if not isinstance(d, dict) or not str(d.get("format", "")).startswith(("lhcgan-model/", "lhcgan-ensemble/")):
        raise InputError("not an lhcgan model file", path=path, hint="give a model.pt written by `lhcgan fit`")
    if d["format"] == ENSEMBLE_FORMAT:
        return Ensemble([TrainedModel.from_payload(m, path) for m in d["members"]])
    return TrainedModel.from_payload(d, path)


def save_payload(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a model's (or an ensemble's) payload with ``torch.save``, its arrays as tensors, whole or not at all."""
    import torch

    with atomic_output(path) as tmp:
        torch.save(_tensors(payload), tmp)


def _tensors(obj: Any) -> Any:
    """A payload with its numpy arrays as torch tensors, which ``torch.save`` stores as raw storages."""
    import torch

    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, dict):
        return {k: _tensors(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors(v) for v in obj)
    return obj
