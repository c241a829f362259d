"""Read ROOT files: lhcgan's own TTree and CMS NanoAOD (LHEPart or GenPart).

The layout is detected from the branches:

* lhcgan output (the file holds ``lhcgan_metadata``): six particles per event in slot order,
  as ``LHEPart_*`` (lhcgan ≥ 0.2) or ``Particle_*`` (earlier versions).
* ``LHEPart_*`` (NanoAOD): outgoing LHE partons. NanoAOD stores no mother links
  for them, so the slots are assigned by flavour and charge, which is unique for
  b b̄ (u d̄)(d ū) at leading order; anything else is skipped and counted.
* ``GenPart_*`` (NanoAOD, used when LHEPart is absent or requested): the decay
  chain is followed through ``GenPart_genPartIdxMother``.

Weights come from the first of ``genWeight`` (NanoAOD's nominal, lhcgan ≥ 0.2),
``LHEWeight_originalXWGTUP`` (NanoAOD's LHE weight) and ``weight`` (lhcgan < 0.2) in the
tree; a file with none of them is unweighted. The theory variations come from
``LHEScaleWeight``, ``LHEPdfWeight``, ``PSWeight`` and ``LHEReweightingWeight`` where present
(NanoAOD's ratios w_var / w_nominal, in the order their branch titles state), named by lhcgan's
metadata in its own files and by the branch titles in NanoAOD.

A damaged file (bad metadata, corrupt or truncated baskets, counts that do not match the
particle arrays) ends in a one-line `MalformedFileError`, never a raw exception.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import awkward as ak
import numpy as np
import uproot

from lhcgan import physics
from lhcgan.errors import LhcganError, MalformedFileError, NonFiniteError, SchemaError
from lhcgan.events import Events
from lhcgan.process import TTBAR, Process
from lhcgan.reading.decay import classify, find_slots
from lhcgan.reading.report import ReadReport
from lhcgan.reading.source import check_exists
from lhcgan.rootschema import COLLECTION, COLLECTIONS, LEGACY_COLLECTION, METADATA, WEIGHT_BRANCHES
from lhcgan.variations import BRANCHES, KINDS, Variation, VariationSet, check_ratios

KINEMATICS = ("pt", "eta", "phi")


@dataclass(frozen=True)
class Schema:
    """One ROOT particle collection the reader knows, behind one interface.

    Attributes:
        prefix: the branches' prefix (``LHEPart`` for ``LHEPart_pt``, ...).
        fields: the branches it needs beside pT, η, φ.
        slots: (reader, arrays, pdg (M,), event of each particle (M,), events n) → (slot index (n, 6),
            accepted (n,) bool, skipped reasons): which particle fills which of the process's slots.
    """

    prefix: str
    fields: tuple[str, ...]
    slots: Callable[["RootReader", dict[str, np.ndarray], np.ndarray, np.ndarray, int],
                    tuple[np.ndarray, np.ndarray, Counter]]


def _genpart_slots(reader: "RootReader", a: dict[str, np.ndarray], pid: np.ndarray, ev: np.ndarray, n: int
                   ) -> tuple[np.ndarray, np.ndarray, Counter]:
    """GenPart: the decay chain followed through the mothers' indices."""
    start = np.concatenate([[0], np.cumsum(a["counts"])[:-1]])
    local = a["genPartIdxMother"].astype(np.int64)
    mother = np.where(local >= 0, start[ev] + local, -1)
    sel = find_slots(pid, mother, ev, n, reader.process)
    return sel.index, sel.accepted, sel.skipped


#: Every collection by name (COLLECTIONS of `lhcgan.rootschema`, and lhcgan's files before 0.2).
SCHEMAS: dict[str, Schema] = {
    "lhcgan": Schema(COLLECTION, ("pdgId",), lambda r, a, pid, ev, n: r._lhcgan_slots(a["counts"], pid, n)),
    "lhcgan-legacy": Schema(LEGACY_COLLECTION, ("pdgId",), lambda r, a, pid, ev, n: r._lhcgan_slots(a["counts"], pid, n)),
    "LHEPart": Schema("LHEPart", ("pdgId", "status"), lambda r, a, pid, ev, n: r._by_flavour(pid, a["status"], ev, n)),
    "GenPart": Schema("GenPart", ("pdgId", "genPartIdxMother"), _genpart_slots),
}
assert set(COLLECTIONS) <= set(SCHEMAS)
LHE_NO_MATCH = ("outgoing LHE partons do not form b b̄ and one W⁺ and one W⁻ decay (no mother links in "
                "LHEPart to follow)")


MAX_PARTICLES = 100_000  # per event: more is a damaged count, not a collision


def _flat(array: ak.Array) -> np.ndarray:
    return ak.to_numpy(ak.flatten(array, axis=1))


class RootReader:
    """Iterate over a ROOT file in chunks of `Events`.

    Args:
        path: the ROOT file.
        process: the process whose slots to find.
        collection: "auto", "lhcgan", "LHEPart" or "GenPart".
        step: events per chunk.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        process: Process = TTBAR,
        collection: str = "auto",
        step: int = 500_000,
    ) -> None:
        self.path = os.fspath(path)
        self.process = process
        self.step = step
        self.report = ReadReport(self.path)
        check_exists(self.path)
        try:
            self.file = uproot.open(self.path)
            self.tree, self.collection = self._find_tree(collection)
            self.meta = self._metadata()
            if "masses" in self.meta:  # the pole masses the sample was made with
                self.process = self.process.with_masses(self.meta["masses"])
            keys = set(self.tree.keys())
            self.weight_branch = next((b for b in WEIGHT_BRANCHES if b in keys), None)
            self.variation_set = self._variation_set(keys)
        except LhcganError:
            raise
        except Exception as exc:  # uproot, cramjam and json raise many types for a damaged file
            raise self._damaged(exc, "cannot open as ROOT") from exc

    def _damaged(self, exc: Exception, what: str, event: int | None = None) -> MalformedFileError:
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        return MalformedFileError(f"{what} ({type(exc).__name__}: {text})", path=self.path, event=event,
                                  hint="the file is damaged or truncated: regenerate it")

    def _find_tree(self, collection: str) -> tuple[uproot.TTree, str]:
        trees = {k.split(";")[0]: c for k, c in self.file.classnames().items() if c == "TTree"}
        if not trees:
            raise SchemaError("no TTree in the file", path=self.path, hint="give lhcgan or NanoAOD output")
        name = "Events" if "Events" in trees else next(iter(trees))
        tree = self.file[name]
        keys = set(tree.keys())
        ours = METADATA in self.file  # lhcgan's LHEPart is six particles in slot order, not NanoAOD's
        if collection == "auto":
            wanted = ["lhcgan", "lhcgan-legacy"] if ours else ["lhcgan-legacy", "LHEPart", "GenPart"]
        else:
            wanted = ["lhcgan", "lhcgan-legacy"] if collection == "lhcgan" else [collection]
        for schema in wanted:
            prefix, extra = SCHEMAS[schema].prefix, SCHEMAS[schema].fields
            if all(f"{prefix}_{b}" in keys for b in (*KINEMATICS, *extra)):
                return tree, schema
        need = " or ".join(f"{SCHEMAS[s].prefix}_{{pt,eta,phi,{','.join(SCHEMAS[s].fields)}}}" for s in wanted)
        raise SchemaError(
            f"tree {name!r} has no usable branches: need {need}",
            path=self.path,
            hint="write the file with lhcgan or use NanoAOD",
        )

    def _metadata(self) -> dict:
        meta: dict = {"source": self.path, "format": f"root:{self.collection.split('-')[0]}"}
        if METADATA in self.file:
            stored = json.loads(str(self.file[METADATA]))
            if not isinstance(stored, dict):
                raise MalformedFileError(f"{METADATA} is not a JSON object", path=self.path,
                                         hint="the file is damaged: regenerate it")
            meta |= {k: v for k, v in stored.items() if k in ("ecm", "cross_section_pb", "cross_section_error_pb",
                                                               "generator", "seed")}
            meta["lhcgan_metadata"] = stored
            masses = stored.get("masses")
            if isinstance(masses, dict) and all(isinstance(masses.get(k), (int, float)) for k in ("t", "W")):
                meta["masses"] = {k: float(masses[k]) for k in ("t", "W")}
        return meta

    def _variation_set(self, keys: set[str]) -> VariationSet | None:
        """The variations the tree carries: lhcgan's metadata names them in its own files; in NanoAOD the
        branch titles do (a branch whose events hold no entry, as an empty LHEReweightingWeight, is none)."""
        stored = (self.meta.get("lhcgan_metadata") or {}).get("variations")
        if stored:
            return VariationSet.from_dict(stored)
        entries, titles = [], []
        for kind in KINDS:
            branch = BRANCHES[kind]
            if branch not in keys or not self.tree.num_entries:
                continue
            k = int(ak.num(self.tree[branch].array(entry_stop=1, library="ak"), axis=1)[0])
            if k == 0:
                continue
            title = self.tree[branch].title
            titles.append((kind, title))
            texts = dict((int(j), t.strip()) for j, t in re.findall(r"\[(\d+)\] is ([^;]+)", title))
            lha = re.search(r"LHA IDs?\s+(\d+)", title)
            for j in range(k):
                text = texts.get(j) or (f"LHA ID {int(lha.group(1)) + j}" if lha else "")
                entries.append(Variation(f"{branch}[{j}]", kind, text, branch))
        return VariationSet(tuple(entries), None, tuple(titles)) if entries else None

    def _read_variations(self, start: int, stop: int) -> np.ndarray | None:
        """The ratios (n, K) of entries [start, stop), in the order of ``variation_set``."""
        vs = self.variation_set
        if vs is None:
            return None
        n = stop - start
        out = np.empty((n, len(vs)))
        for kind in KINDS:
            cols = vs.indices(kind)
            if not cols:
                continue
            branch = BRANCHES[kind]
            if branch not in self.tree:
                raise SchemaError(f"the metadata names {len(cols)} {kind} variations, the tree has no {branch}",
                                  path=self.path, hint="the file is damaged: regenerate it")
            jagged = self.tree[branch].array(entry_start=start, entry_stop=stop, library="ak")
            counts = ak.to_numpy(ak.num(jagged, axis=1))
            wrong = counts != len(cols)
            if len(counts) != n or wrong.any():
                j = int(np.argmax(wrong)) if len(counts) == n else 0
                raise SchemaError(f"event has {counts[j] if len(counts) == n else '?'} {branch} entries, "
                                  f"the file's first {len(cols)}", path=self.path, event=start + j,
                                  hint="every event must carry the same variation weights")
            out[:, cols] = _flat(jagged).astype(np.float64).reshape(n, len(cols))
        return out

    def __iter__(self) -> Iterator[Events]:
        prefix = SCHEMAS[self.collection].prefix
        fields = (*KINEMATICS, *SCHEMAS[self.collection].fields)
        n_before = 0
        for start in range(0, self.tree.num_entries, self.step):
            stop = min(start + self.step, self.tree.num_entries)
            try:
                arrays, weights = self._read(prefix, fields, start, stop)
                ratios = self._read_variations(start, stop)
                with np.errstate(all="ignore"):  # damaged values are caught as errors, not warnings
                    events = self._select(arrays, weights, stop - start, n_before, ratios)
            except LhcganError as exc:
                if exc.path is None:  # e.g. `Events` refusing a flavour: say where
                    exc.path = self.path
                    exc.event = None if exc.event is None else n_before + exc.event
                raise
            except Exception as exc:  # uproot, awkward and cramjam raise many types for a damaged file
                raise self._damaged(exc, "cannot read the particles", event=n_before) from exc
            yield events
            n_before = stop

    def _read(self, prefix: str, fields: tuple[str, ...], start: int, stop: int
              ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Flat particle arrays of entries [start, stop) plus ``counts`` (particles per event), and the weights.

        Counts and sizes are checked against each other before any array is built from them: a
        damaged file that lies about its sizes is an error, not a hang or a wrong read.
        """
        n = stop - start
        out: dict[str, np.ndarray] = {}
        counts = None
        for f in fields:
            branch = self.tree[f"{prefix}_{f}"]
            jagged = branch.array(entry_start=start, entry_stop=stop, library="ak")
            if len(jagged) != n:
                raise MalformedFileError(f"branch {prefix}_{f} holds {len(jagged)} entries, expected {n}",
                                         path=self.path, event=start, hint="the file is damaged: regenerate it")
            c = ak.to_numpy(ak.num(jagged, axis=1)).astype(np.int64)
            if counts is None:
                counts = c
                if (c < 0).any() or (c > MAX_PARTICLES).any():
                    raise MalformedFileError(f"an event holds {int(c.max())} particles", path=self.path,
                                             event=start + int(np.argmax((c < 0) | (c > MAX_PARTICLES))),
                                             hint="the file is damaged: regenerate it")
            elif not np.array_equal(c, counts):
                raise MalformedFileError(f"branch {prefix}_{f} has other particle counts than {prefix}_{fields[0]}",
                                         path=self.path, event=start + int(np.argmax(c != counts)),
                                         hint="the file is damaged: regenerate it")
            out[f] = _flat(jagged)
        assert counts is not None
        out["counts"] = counts
        weights = None
        if self.weight_branch is not None:
            weights = np.asarray(self.tree[self.weight_branch].array(entry_start=start, entry_stop=stop,
                                                                      library="np"), dtype=np.float64)
            if weights.shape != (n,):
                raise MalformedFileError(f"{self.weight_branch} holds {len(weights)} entries, expected {n}",
                                         path=self.path, event=start, hint="the file is damaged: regenerate it")
            bad = ~np.isfinite(weights)
            if bad.any():
                raise NonFiniteError(f"NaN or infinite {self.weight_branch}", path=self.path,
                                     event=start + int(np.argmax(bad)), hint="fix or remove this event")
        return out, weights

    def _select(self, a: dict[str, np.ndarray], weights: np.ndarray | None, n: int, n_before: int,
                ratios: np.ndarray | None = None) -> Events:
        counts = a["counts"]
        ev = np.repeat(np.arange(n), counts)
        pt, eta, phi = (a[k].astype(np.float64) for k in KINEMATICS)
        pid = a["pdgId"].astype(np.int64)
        with np.errstate(over="ignore", invalid="ignore"):  # incoming partons: pT = 0, |η| = ∞
            p = physics.from_pt_eta_phi(pt, eta, phi)
        index, accepted, skipped = SCHEMAS[self.collection].slots(self, a, pid, ev, n)
        idx = index[accepted]
        finite = np.isfinite(p[idx]).all(axis=(1, 2))
        if not finite.all():
            event = n_before + int(np.nonzero(accepted)[0][np.argmax(~finite)])
            raise NonFiniteError("NaN or infinite momentum", path=self.path, event=event, hint="fix or remove this event")
        w = None if weights is None else weights[accepted]
        if ratios is not None:
            ratios = ratios[accepted]
            for warning in check_ratios(ratios, self.variation_set, path=self.path, first_event=n_before):
                warnings.warn(f"{self.path}: {warning}", stacklevel=3)
            self.report.variations = self.variation_set.summary()
        events = Events(p[idx], pid[idx], w, self.process, dict(self.meta), variations=ratios,
                        variation_set=None if ratios is None else self.variation_set)
        self.report.add(n, len(events), skipped, w, events.channel_counts())
        return events

    def _lhcgan_slots(self, counts: np.ndarray, pid: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, Counter]:
        k = self.process.n_particles
        if (counts != k).any():
            raise SchemaError(f"nParticle must be {k} in lhcgan files", path=self.path, event=int(np.argmax(counts != k)))
        index = np.arange(n * k).reshape(n, k)
        slot_ok = np.all([np.isin(pid[index[:, i]], self.process.possible_ids(i)) for i in range(k)], axis=0)
        if not slot_ok.all():  # a file that is not lhcgan's process: refused, not read as something else
            j = int(np.argmax(~slot_ok))
            raise SchemaError(f"event with PDG ids {pid[index[j]].tolist()} outside {self.process.name}'s slots",
                              path=self.path, event=j, hint="the file is damaged or not lhcgan output")
        accepted, reasons = classify(pid[index], self.process)
        return index, accepted, Counter(reasons[~accepted].tolist())

    def _by_flavour(
        self, pid: np.ndarray, status: np.ndarray, ev: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray, Counter]:
        """Slots by flavour and charge among the outgoing partons: each slot's ids (in any channel of the
        full process) are distinct from every other slot's, so one parton per slot is unique."""
        outgoing = status == 1
        index = np.full((n, self.process.n_particles), -1, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        for i in range(self.process.n_particles):
            mask = outgoing & np.isin(pid, self.process.possible_ids(i))
            ok &= np.bincount(ev[mask], minlength=n) == 1
            index[ev[mask], i] = np.nonzero(mask)[0]
        reasons = np.full(n, LHE_NO_MATCH, dtype=object)
        reasons[ok] = classify(pid[index[ok]], self.process)[1]
        accepted = reasons == ""
        return index, accepted, Counter(reasons[~accepted].tolist())
