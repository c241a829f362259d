"""Streaming generation: a trained model → unweighted events in any writer, flat memory."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path

from lhcgan import memory
from lhcgan.atomic import atomic_output
from lhcgan.events import Events
from lhcgan.modelfile import Ensemble, TrainedModel, load_model
from lhcgan.writing import output_format, write

CHUNK = 200_000


def generate(
    n: int,
    path: str | os.PathLike[str],
    *,
    model: TrainedModel | Ensemble | str | os.PathLike[str] | None = None,
    seed: int = 1,
    shard: int = 0,
    chunk: int = CHUNK,
    progress: bool = False,
    channel: str | None = None,
    parameters: Mapping[str, float] | None = None,
    processes: int | None = None,
) -> int:
    """Write ``n`` generated events to ``path`` (.root, .lhe, .lhe.gz); return how many were written.

    Args:
        model: a `TrainedModel` or `Ensemble`, a model file, or None for the shipped tt̄ model.
        seed: fixes the noise and the flavours; ``shard`` selects an independent stream.
        chunk: events per generated chunk; memory is O(chunk) for any n.
        channel: one decay channel of the model's ("allhad", "ljets", "dilep"); None: the learnt mix.
        parameters: for a conditioned model, the values to generate at ({"mt": 172.5} GeV).
        processes: forked generating processes (default: one per core; the events are the same for any number).

    The process keeps freed memory for reuse from then on (`memory.keep_freed_memory`): up to 512 MiB of it.
    """
    output_format(path)  # fail on a bad suffix before any work
    memory.keep_freed_memory()
    if not isinstance(model, (TrainedModel, Ensemble)):
        model = load_model(model)
    events = model.iterate(n, seed=seed, chunk=chunk, shard=shard, channel=channel, parameters=parameters,
                           processes=processes)
    with contextlib.closing(events):  # a failed write ends the generating processes at once
        return _write(events, path, n, progress, metadata={"seed": seed, "shard": shard,
                                                          "model": model.meta.get("source"), "generator": "lhcgan"},
                      shard=shard)


def _write(events: Generator[Events, None, None], path: str | os.PathLike[str], n: int, progress: bool, metadata: dict,
           shard: int) -> int:
    first = next(events, None)  # refuses values outside the trained range before the output is opened

    def chunks() -> Iterator[Events]:
        from tqdm import tqdm

        with tqdm(total=n, unit="ev", disable=not progress, desc="generate") as bar:
            for part in itertools.chain([first] if first is not None else [], events):
                bar.update(len(part))
                yield part

    extra = {"lumi_block": shard + 1} if output_format(path) == "root" else {}  # distinct event IDs per shard
    return write(chunks(), path, metadata=metadata, **extra)


def _shard_worker(job: tuple) -> int:
    n, path, model_path, seed, shard, threads, channel, parameters = job
    from lhcgan import cpu

    cpu.limit_threads(threads)
    if threads == 1:
        from lhcgan import halves

        halves.serial()
    return generate(n, path, model=model_path, seed=seed, shard=shard, channel=channel, parameters=parameters)


def generate_shards(
    n: int,
    path: str | os.PathLike[str],
    *,
    shards: int,
    model: str | os.PathLike[str] | None = None,
    seed: int = 1,
    processes: int | None = None,
    channel: str | None = None,
    parameters: Mapping[str, float] | None = None,
) -> Path:
    """Write n events into ``shards`` ROOT files, each from its own process and random stream.

    ``out.root`` becomes ``out_0.root`` … ``out_{K-1}.root`` and a manifest
    ``out.json``; its ``files`` entries ("file:Events") go straight into
    ``uproot.concatenate`` or ``uproot.iterate``. Shard k uses the stream (seed, k),
    so shards never share random numbers and each is reproducible on its own.
    """
    import json
    import multiprocessing

    from lhcgan.errors import ConfigError

    path = Path(path)
    if output_format(path) != "root":
        raise ConfigError("--shards writes ROOT files: give an output ending in .root", path=path)
    if shards < 1 or n < shards:
        raise ConfigError(f"need 1 ≤ shards ≤ events, got {shards} shards for {n} events")
    counts = [n // shards + (k < n % shards) for k in range(shards)]
    files = [path.with_name(f"{path.stem}_{k}.root") for k in range(shards)]
    processes = processes or min(shards, os.cpu_count() or 1)
    threads = max(1, (os.cpu_count() or 1) // processes)
    next(load_model(model).iterate(1, channel=channel, parameters=parameters))  # bad values fail here, not in each worker
    jobs = [(c, f, model, seed, k, threads, channel, parameters) for k, (c, f) in enumerate(zip(counts, files))]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        written = pool.map(_shard_worker, jobs)
    manifest = path.with_suffix(".json")
    info = {"tree": "Events", "files": [f"{f.name}:Events" for f in files], "events": written, "seed": seed,
            "shards": shards, "usage": "uproot.concatenate([str(folder / f) for f in manifest['files']])"}
    with atomic_output(manifest) as tmp:
        tmp.write_text(json.dumps(info, indent=1))
    return manifest
