"""Streaming generation: a trained model → unweighted events in any writer, flat memory."""

from __future__ import annotations

import os
from collections.abc import Iterator

from lhcgan.events import Events
from lhcgan.modelfile import TrainedModel
from lhcgan.writing import output_format, write

CHUNK = 200_000


def generate(
    n: int,
    path: str | os.PathLike[str],
    *,
    model: TrainedModel | str | os.PathLike[str] | None = None,
    seed: int = 1,
    shard: int = 0,
    chunk: int = CHUNK,
    progress: bool = False,
) -> int:
    """Write ``n`` generated events to ``path`` (.root, .lhe, .lhe.gz); return how many were written.

    Args:
        model: a `TrainedModel`, a model file, or None for the shipped tt̄ model.
        seed: fixes the noise and the flavours; ``shard`` selects an independent stream.
        chunk: events per generated chunk; memory is O(chunk) for any n.
    """
    output_format(path)  # fail on a bad suffix before any work
    if not isinstance(model, TrainedModel):
        model = TrainedModel.load(model)
    metadata = {"seed": seed, "shard": shard, "model": model.meta.get("source"), "generator": "lhcgan"}

    def chunks() -> Iterator[Events]:
        from tqdm import tqdm

        with tqdm(total=n, unit="ev", disable=not progress, desc="generate") as bar:
            for events in model.iterate(n, seed=seed, chunk=chunk, shard=shard):
                bar.update(len(events))
                yield events

    return write(chunks(), path, metadata=metadata)
