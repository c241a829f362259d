"""Read ROOT files: lhcgan's own TTree and CMS NanoAOD (LHEPart or GenPart).

The layout is detected from the branches:

* ``Particle_*`` (lhcgan output): six particles per event in slot order.
* ``LHEPart_*`` (NanoAOD): outgoing LHE partons. NanoAOD stores no mother links
  for them, so the slots are assigned by flavour and charge, which is unique for
  b b̄ (u d̄)(d ū) at leading order; anything else is skipped and counted.
* ``GenPart_*`` (NanoAOD, used when LHEPart is absent or requested): the decay
  chain is followed through ``GenPart_genPartIdxMother``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator

import awkward as ak
import numpy as np
import uproot

from lhcgan import physics
from lhcgan.errors import MalformedFileError, NonFiniteError, SchemaError
from lhcgan.events import Events
from lhcgan.process import TTBAR, Process
from lhcgan.reading.decay import LEPTONS, find_slots
from lhcgan.reading.report import ReadReport
from lhcgan.reading.source import check_exists
from lhcgan.writing.root import METADATA

KINEMATICS = ("pt", "eta", "phi")
SCHEMAS = {
    "lhcgan": ("Particle", ("pdgId",)),
    "LHEPart": ("LHEPart", ("pdgId", "status")),
    "GenPart": ("GenPart", ("pdgId", "genPartIdxMother")),
}
LHE_LEPTONIC = "leptons among the outgoing LHE partons (semileptonic, dileptonic or not tt̄)"
LHE_NO_MATCH = "outgoing LHE quarks do not form b b̄ (u d̄)(d ū) (no mother links in LHEPart to follow)"


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
        except Exception as exc:  # uproot raises several types for damaged files
            raise MalformedFileError(f"cannot open as ROOT ({type(exc).__name__}: {exc})", path=self.path,
                                     hint="the file is damaged or truncated: regenerate it") from exc
        self.tree, self.collection = self._find_tree(collection)
        self.meta = self._metadata()

    def _find_tree(self, collection: str) -> tuple[uproot.TTree, str]:
        trees = {k.split(";")[0]: c for k, c in self.file.classnames().items() if c == "TTree"}
        if not trees:
            raise SchemaError("no TTree in the file", path=self.path, hint="give lhcgan or NanoAOD output")
        name = "Events" if "Events" in trees else next(iter(trees))
        tree = self.file[name]
        keys = set(tree.keys())
        wanted = ["lhcgan", "LHEPart", "GenPart"] if collection == "auto" else [collection]
        for schema in wanted:
            prefix, extra = SCHEMAS[schema]
            if all(f"{prefix}_{b}" in keys for b in (*KINEMATICS, *extra)):
                return tree, schema
        need = " or ".join(f"{SCHEMAS[s][0]}_{{pt,eta,phi,{','.join(SCHEMAS[s][1])}}}" for s in wanted)
        raise SchemaError(
            f"tree {name!r} has no usable branches: need {need}",
            path=self.path,
            hint="write the file with lhcgan or use NanoAOD",
        )

    def _metadata(self) -> dict:
        meta: dict = {"source": self.path, "format": f"root:{self.collection}"}
        if METADATA in self.file:
            stored = json.loads(str(self.file[METADATA]))
            meta |= {k: v for k, v in stored.items() if k in ("ecm", "cross_section_pb", "generator", "seed")}
            meta["lhcgan_metadata"] = stored
        return meta

    def __iter__(self) -> Iterator[Events]:
        prefix = SCHEMAS[self.collection][0]
        branches = [f"{prefix}_{b}" for b in (*KINEMATICS, *SCHEMAS[self.collection][1])]
        n_before = 0
        try:
            chunks = self.tree.iterate(branches, step_size=self.step, how=dict)
            for arrays in chunks:
                arrays = {k.split("_", 1)[1]: v for k, v in arrays.items()}
                n = len(arrays["pt"])
                yield self._select(arrays, n, n_before)
                n_before += n
        except (OSError, ValueError, uproot.KeyInFileError) as exc:
            raise MalformedFileError(f"cannot read branches ({exc})", path=self.path, event=n_before,
                                     hint="the file is damaged: regenerate it") from exc

    def _select(self, a: dict[str, ak.Array], n: int, n_before: int) -> Events:
        counts = ak.to_numpy(ak.num(a["pt"], axis=1))
        ev = np.repeat(np.arange(n), counts)
        pt, eta, phi = (_flat(a[k]).astype(np.float64) for k in KINEMATICS)
        pid = _flat(a["pdgId"]).astype(np.int64)
        with np.errstate(over="ignore", invalid="ignore"):  # incoming partons: pT = 0, |η| = ∞
            p = physics.from_pt_eta_phi(pt, eta, phi)
        if self.collection == "GenPart":
            start = np.concatenate([[0], np.cumsum(counts)[:-1]])
            local = _flat(a["genPartIdxMother"]).astype(np.int64)
            mother = np.where(local >= 0, start[ev] + local, -1)
            sel = find_slots(pid, mother, ev, n, self.process)
            index, accepted, skipped = sel.index, sel.accepted, sel.skipped
        elif self.collection == "LHEPart":
            index, accepted, skipped = self._by_flavour(pid, _flat(a["status"]), ev, n)
        else:
            index, accepted, skipped = self._lhcgan_slots(counts, pid, n)
        idx = index[accepted]
        finite = np.isfinite(p[idx]).all(axis=(1, 2))
        if not finite.all():
            event = n_before + int(np.nonzero(accepted)[0][np.argmax(~finite)])
            raise NonFiniteError("NaN or infinite momentum", path=self.path, event=event, hint="fix or remove this event")
        self.report.add(n, int(accepted.sum()), skipped)
        return Events(p[idx], pid[idx], None, self.process, dict(self.meta))

    def _lhcgan_slots(self, counts: np.ndarray, pid: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, Counter]:
        k = self.process.n_particles
        if (counts != k).any():
            raise SchemaError(f"nParticle must be {k} in lhcgan files", path=self.path, event=int(np.argmax(counts != k)))
        index = np.arange(n * k).reshape(n, k)
        return index, np.ones(n, dtype=bool), Counter()

    def _by_flavour(
        self, pid: np.ndarray, status: np.ndarray, ev: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray, Counter]:
        outgoing = status == 1
        index = np.full((n, self.process.n_particles), -1, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        for i, slot in enumerate(self.process.slots):
            mask = outgoing & np.isin(pid, slot.pdg)
            ok &= np.bincount(ev[mask], minlength=n) == 1
            index[ev[mask], i] = np.nonzero(mask)[0]
        leptonic = np.bincount(ev[outgoing & np.isin(np.abs(pid), LEPTONS)], minlength=n) > 0
        skipped = Counter({LHE_LEPTONIC: int((~ok & leptonic).sum()), LHE_NO_MATCH: int((~ok & ~leptonic).sum())})
        return index, ok, +skipped
