"""Write `Events` as a NanoAOD-style ROOT TTree that plain uproot, vector and coffea read.

Tree ``Events``: event IDs ``run``, ``luminosityBlock`` (uint32) and ``event`` (uint64, 1, 2, …);
``nLHEPart`` (always 6) and jagged ``LHEPart_pt``, ``_eta``, ``_phi``, ``_mass`` (float32, GeV),
``LHEPart_pdgId`` and ``LHEPart_status`` (int32, 1) in slot order; ``genWeight`` (float64, 1.0
for unweighted events). Events with theory variations get NanoAOD's ``LHEScaleWeight``,
``LHEPdfWeight``, ``PSWeight`` (and ``LHEReweightingWeight`` for other kinds): float32 ratios
w_var / w_nominal, with branch titles that state the order ("[0] is muR=0.5 muF=0.5 ; …").
Run metadata is a JSON string ``lhcgan_metadata`` beside the tree; it names every variation
(ids, kinds, texts, the LHE ``<initrwgt>``). See `lhcgan.rootschema`.
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from collections import Counter
from collections.abc import Iterable
from typing import Any

import awkward as ak
import numpy as np
import uproot

from lhcgan import physics
from lhcgan.atomic import atomic_output
from lhcgan.errors import OutputError
from lhcgan.events import Events, channel_totals, counts_to_fractions, to_fraction_table
from lhcgan.halves import in_halves
from lhcgan.rootschema import BRANCH_TYPE, COLLECTION, METADATA, TREE, WEIGHT
from lhcgan.variations import BRANCHES, KINDS, VariationSet
from lhcgan.version import __version__
from lhcgan.writing.chunks import as_chunks


def _collider(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pT (GeV), η, φ (N, n) float32 of momenta (N, n, 3) GeV."""
    return physics.pt(p).astype(np.float32), physics.eta(p).astype(np.float32), physics.phi(p).astype(np.float32)


def _particles(events: Events) -> ak.Array:
    n, k = events.pdg.shape
    pt, eta, phi = in_halves(_collider, events.momenta)  # per particle: two halves on two cores
    fields = {
        "pt": pt.ravel(),
        "eta": eta.ravel(),
        "phi": phi.ravel(),
        "mass": np.broadcast_to(events.masses.astype(np.float32), (n, k)).ravel(),
        "pdgId": events.pdg.astype(np.int32).ravel(),
        "status": np.ones(n * k, np.int32),  # outgoing, as NanoAOD's LHEPart_status
    }
    offsets = ak.index.Index64(np.arange(0, n * k + 1, k, dtype=np.int64))
    return ak.Array(ak.contents.ListOffsetArray(offsets, ak.zip(fields).layout))


def _jagged(values: np.ndarray) -> ak.Array:
    """(n, k ≥ 1) → a jagged float32 array of k entries per event, as NanoAOD's weight branches."""
    n, k = values.shape
    offsets = ak.index.Index64(np.arange(0, n * k + 1, k, dtype=np.int64))
    content = ak.contents.NumpyArray(np.ascontiguousarray(values, dtype=np.float32).ravel())
    return ak.Array(ak.contents.ListOffsetArray(offsets, content))


def _set_titles(file: Any, tree: Any, titles: dict[str, str]) -> None:
    """Give branches NanoAOD's descriptive titles (the order of their entries): uproot has no public way, so
    the tree's branch records are retitled and the tree is laid out anew once, before any entry."""
    try:
        casc = tree._cascading
        for datum in casc._branch_data:
            if datum.get("fName") in titles:
                datum["fTitle"] = titles[datum["fName"]]
        casc._relocate(file._file, file._file.sink)
    except Exception as exc:  # another uproot's internals: the metadata still names every entry
        warnings.warn(f"branch titles not written ({type(exc).__name__}); lhcgan_metadata names the variations",
                      stacklevel=3)


def write_root(
    events: Events | Iterable[Events],
    path: str | os.PathLike[str],
    *,
    metadata: dict[str, Any] | None = None,
    chunk_size: int = 100_000,
    lumi_block: int = 1,
) -> int:
    """Write events (one `Events` or a stream of chunks) to ``path``; return how many.

    Args:
        events: the events; chunks are regrouped into baskets of at least ``chunk_size`` events
            (a chunk that large goes out as it comes, unjoined: `generate`'s refined chunks of the shipped model
            hold about 180 000), so memory stays flat for any total.
        path: output .root file, written atomically.
        metadata: extra run metadata (e.g. "seed") stored with the file.
        lumi_block: the ``luminosityBlock`` of every event (``run`` is 1, ``event`` counts from 1),
            so that the shards of one generation (`lhcgan generate --shards`) have distinct event IDs.
    """
    n_total = 0
    last_meta: dict[str, Any] = {}
    chunks = iter(as_chunks(events))
    first = next(chunks, None)
    vset: VariationSet | None = None if first is None else first.variation_set
    kinds = [k for k in KINDS if vset is not None and vset.indices(k)]
    with atomic_output(path) as tmp:
        with uproot.recreate(tmp, compression=uproot.ZSTD(1)) as f:
            types = {"run": "uint32", "luminosityBlock": "uint32", "event": "uint64",
                     COLLECTION: ak.types.from_datashape(BRANCH_TYPE, highlevel=False), WEIGHT: "float64"}
            types |= {BRANCHES[k]: "var * float32" for k in kinds}
            tree = f.mktree(TREE, types)
            if kinds:
                _set_titles(f, tree, {BRANCHES[k]: vset.title(k) for k in kinds})
            pending: list[Events] = []
            n_pending = n_flushed = 0

            def flush() -> None:
                nonlocal n_pending, n_flushed
                if not pending:
                    return
                ev = Events.concatenate(pending) if len(pending) > 1 else pending[0]
                n = len(ev)
                w = np.ones(n) if ev.weights is None else ev.weights
                data = {"run": np.ones(n, np.uint32), "luminosityBlock": np.full(n, lumi_block, np.uint32),
                        "event": np.arange(n_flushed + 1, n_flushed + n + 1, dtype=np.uint64),
                        f"n{COLLECTION}": np.full(n, ev.process.n_particles, np.int32),
                        COLLECTION: _particles(ev), WEIGHT: w}
                for k in kinds:
                    cols = vset.indices(k)
                    data[f"n{BRANCHES[k]}"] = np.full(n, len(cols), np.int32)
                    data[BRANCHES[k]] = _jagged(ev.variations[:, cols])
                tree.extend(data)
                n_flushed += n
                pending.clear()
                n_pending = 0

            process = None
            flavours: Counter[tuple[int, ...]] = Counter()
            for chunk in itertools.chain([first] if first is not None else [], chunks):
                if chunk.variation_set != vset:
                    raise OutputError("the chunks carry different variation weights", path=path,
                                      hint="write samples with the same variations to one file")
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
            if vset is not None:
                info["variations"] = vset.to_dict()
            info |= {k: v for k, v in last_meta.items() if k in ("source", "ecm", "cross_section_pb", "cross_section_error_pb", "generator", "seed", "bias", "isr", "channel", "pythia_settings")}
            info |= metadata or {}
            f[METADATA] = json.dumps(info, default=str)
    return n_total
