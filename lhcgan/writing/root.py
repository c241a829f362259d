"""Write `Events` as a NanoAOD-style ROOT TTree that plain uproot, vector and coffea read.

Tree ``Events``: event IDs ``run``, ``luminosityBlock`` (uint32) and ``event`` (uint64, 1, 2, …);
``nLHEPart`` (always 6) and jagged ``LHEPart_pt``, ``_eta``, ``_phi``, ``_mass`` (float32, GeV),
``LHEPart_pdgId`` and ``LHEPart_status`` (int32, 1) in slot order; ``genWeight`` (float64, 1.0
for unweighted events). Run metadata is a JSON string ``lhcgan_metadata`` beside the tree.
See `lhcgan.rootschema`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

import awkward as ak
import numpy as np
import uproot

from lhcgan import physics
from lhcgan.events import Events, channel_totals, counts_to_fractions, to_fraction_table
from lhcgan.rootschema import BRANCH_TYPE, COLLECTION, METADATA, TREE, WEIGHT
from lhcgan.version import __version__
from lhcgan.atomic import atomic_output
from lhcgan.writing.chunks import as_chunks


def _particles(events: Events) -> ak.Array:
    p = events.momenta
    n, k = events.pdg.shape
    fields = {
        "pt": physics.pt(p).astype(np.float32).ravel(),
        "eta": physics.eta(p).astype(np.float32).ravel(),
        "phi": physics.phi(p).astype(np.float32).ravel(),
        "mass": np.broadcast_to(events.masses.astype(np.float32), (n, k)).ravel(),
        "pdgId": events.pdg.astype(np.int32).ravel(),
        "status": np.ones(n * k, np.int32),  # outgoing, as NanoAOD's LHEPart_status
    }
    offsets = ak.index.Index64(np.arange(0, n * k + 1, k, dtype=np.int64))
    return ak.Array(ak.contents.ListOffsetArray(offsets, ak.zip(fields).layout))


def write_root(
    events: Events | Iterable[Events],
    path: str | os.PathLike[str],
    *,
    metadata: dict[str, Any] | None = None,
    chunk_size: int = 500_000,
    lumi_block: int = 1,
) -> int:
    """Write events (one `Events` or a stream of chunks) to ``path``; return how many.

    Args:
        events: the events; chunks are regrouped into baskets of ``chunk_size``
            events, so memory stays flat for any total.
        path: output .root file, written atomically.
        metadata: extra run metadata (e.g. "seed") stored with the file.
        lumi_block: the ``luminosityBlock`` of every event (``run`` is 1, ``event`` counts from 1),
            so that the shards of one generation (`lhcgan generate --shards`) have distinct event IDs.
    """
    n_total = 0
    last_meta: dict[str, Any] = {}
    with atomic_output(path) as tmp:
        with uproot.recreate(tmp, compression=uproot.ZSTD(1)) as f:
            tree = f.mktree(TREE, {"run": "uint32", "luminosityBlock": "uint32", "event": "uint64",
                                   COLLECTION: ak.types.from_datashape(BRANCH_TYPE, highlevel=False), WEIGHT: "float64"})
            pending: list[Events] = []
            n_pending = n_flushed = 0

            def flush() -> None:
                nonlocal n_pending, n_flushed
                if not pending:
                    return
                ev = Events.concatenate(pending) if len(pending) > 1 else pending[0]
                n = len(ev)
                w = np.ones(n) if ev.weights is None else ev.weights
                tree.extend({"run": np.ones(n, np.uint32), "luminosityBlock": np.full(n, lumi_block, np.uint32),
                             "event": np.arange(n_flushed + 1, n_flushed + n + 1, dtype=np.uint64),
                             f"n{COLLECTION}": np.full(n, ev.process.n_particles, np.int32),
                             COLLECTION: _particles(ev), WEIGHT: w})
                n_flushed += n
                pending.clear()
                n_pending = 0

            process = None
            flavours: Counter[tuple[int, ...]] = Counter()
            for chunk in as_chunks(events):
                process, last_meta = chunk.process, chunk.meta  # the last chunk knows most (e.g. σ)
                flavours.update(chunk.flavour_counts())
                pending.append(chunk)
                n_pending += len(chunk)
                n_total += len(chunk)
                if n_pending >= chunk_size:
                    flush()
            flush()
            info = {
                "lhcgan_version": __version__,
                "n_events": n_total,
                "process": None if process is None else process.to_dict(),
                "masses": None if process is None else process.pole_masses(),
                "channels": {} if process is None else {k: int(v) for k, v in channel_totals(process, flavours).items()},
                "flavour_fractions": to_fraction_table(counts_to_fractions(flavours)) if n_total else None,
            }
            info |= {k: v for k, v in last_meta.items() if k in ("source", "ecm", "cross_section_pb", "generator", "seed", "bias", "isr", "channel")}
            info |= metadata or {}
            f[METADATA] = json.dumps(info, default=str)
    return n_total
