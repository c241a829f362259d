"""Fast, streaming reader of Les Houches Event files (LHEF 1.0 and 3.0, plain or gzip).

Each block of the file is split into events with bytes operations, all numbers
of a block are parsed in one call into C, and the six quarks are located through
mother links by `lhcgan.reading.decay`, for all events of the block at once.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from lhcgan.errors import InputError, MalformedFileError, NonFiniteError, TruncatedFileError
from lhcgan.events import Events
from lhcgan.process import TTBAR, Process
from lhcgan.reading.decay import find_slots
from lhcgan.reading.report import ReadReport
from lhcgan.reading.source import iter_blocks
from lhcgan.variations import Variation, VariationSet, check_ratios, from_initrwgt

N_COLUMNS = 13  # IDUP ISTUP MOTHUP1 MOTHUP2 ICOLUP1 ICOLUP2 PUP1..5 VTIMUP SPINUP
N_HEADER = 6  # NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP
GENERATORS = (b"MadGraph", b"PYTHIA", b"Pythia", b"POWHEG", b"WHIZARD", b"Sherpa", b"lhcgan")
#: LHEF 3 per-event variation weights: MadGraph's <rwgt><wgt id="1001"> 1.2 </wgt>…, or the standard's <weights> list
_WGT = re.compile(rb"<wgt\s+id\s*=\s*[\"']?([^\"'>\s]+)[\"']?[^>]*>([^<]*)</wgt>")
_WEIGHTS = re.compile(rb"<weights[^>]*>([^<]*)</weights>")


@dataclass
class LHEInit:
    """The `<init>` block: beams and processes.

    Attributes:
        beams: PDG ids of the two beams.
        energies: beam energies, GeV.
        idwtup: the weighting strategy.
        cross_sections: XSECUP per process, pb.
        generator: generator named in the header, if recognised.
        masses: the pole masses the header states ({"t": ..., "W": ...} GeV).
        variations: the variation weights its ``<initrwgt>`` declares, or None.
    """

    beams: tuple[int, int]
    energies: tuple[float, float]
    idwtup: int
    cross_sections: list[float] = field(default_factory=list)
    generator: str | None = None
    masses: dict[str, float] = field(default_factory=dict)
    variations: VariationSet | None = None

    @property
    def ecm(self) -> float:
        """Centre-of-mass energy, GeV (head-on beams)."""
        return self.energies[0] + self.energies[1]


def _parse_numbers(text: bytes) -> np.ndarray | None:
    """All whitespace-separated numbers of ``text``, or None if any token is not a number."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # older numpy warns where newer raises
        try:
            return np.fromstring(text, sep=" ")  # one call into C for the whole block
        except (ValueError, DeprecationWarning):
            return None


def _parse_init(text: bytes, path: str) -> LHEInit:
    found = re.search(rb"<init[\s>]", text)  # not <initrwgt>
    start = found.start() if found else text.find(b"<init")
    body = text[text.index(b">", start) + 1 : text.index(b"</init>")]
    lines = [ln for ln in body.split(b"\n") if ln.strip() and not ln.lstrip().startswith((b"#", b"<"))]
    try:
        head = lines[0].split()
        nprup = int(head[9])
        xsecs = [float(lines[1 + i].split()[0]) for i in range(nprup)]
        init = LHEInit(
            (int(head[0]), int(head[1])), (float(head[2]), float(head[3])), int(head[8]), xsecs
        )
    except (IndexError, ValueError) as exc:
        raise MalformedFileError("malformed <init> block", path=path, hint="check the file's header") from exc
    for g in GENERATORS:
        if g in text[:start]:
            init.generator = g.decode()
            break
    init.masses = header_masses(text[:start])
    init.variations = from_initrwgt(text[:start].decode("utf-8", "replace"))
    return init


_SLHA_MASS = re.compile(rb"^\s*BLOCK\s+MASS\b(.*?)(?=^\s*(?:BLOCK|DECAY)\b|</|\Z)", re.I | re.M | re.S)
_LHCGAN_INFO = re.compile(rb"<lhcgan>(.*?)</lhcgan>", re.S)


def header_masses(header: bytes) -> dict[str, float]:
    """The top and W pole masses a file was generated with, {"t": ..., "W": ...} GeV, where the header
    says: lhcgan's ``<lhcgan>`` block, else an SLHA ``BLOCK MASS`` (MadGraph's param_card)."""
    info = _LHCGAN_INFO.search(header)
    if info:
        try:
            masses = json.loads(info.group(1)).get("masses") or {}
            return {k: float(v) for k, v in masses.items() if k in ("t", "W")}
        except (ValueError, AttributeError, TypeError):
            return {}
    block = _SLHA_MASS.search(header)
    out = {}
    if block:
        for line in block.group(1).splitlines():
            cols = line.split(b"#")[0].split()
            if len(cols) >= 2 and cols[0] in (b"6", b"24"):
                try:
                    out["t" if cols[0] == b"6" else "W"] = float(cols[1])
                except ValueError:
                    pass
    return out


class LHEReader:
    """Iterate over an LHE file in chunks of `Events`.

    Args:
        path: .lhe or .lhe.gz file (compression is detected from content).
        process: the process whose slots to find.
        chunk_bytes: decompressed bytes per chunk; memory stays O(chunk_bytes).

    Attributes:
        report: read/accepted/skipped counts, complete once iteration ends.
        init: the parsed `<init>` block, available after the first chunk.

    The event weight is XWGTUP, which the LHEF standard defines as the event's weight and every
    generator fills with its nominal (MadGraph5_aMC@NLO and POWHEG included). The LHEF 3
    ``<rwgt>``/``<weights>`` entries are the variations (scales, PDFs) around it: each event keeps
    them as ratios to XWGTUP (``Events.variations``), named by the header's ``<initrwgt>`` (ids,
    groups, texts; the block itself is kept for the writers). Every event must carry the same
    weight ids in the same order.
    """

    def __init__(self, path: str | os.PathLike[str], process: Process = TTBAR, chunk_bytes: int = 32 << 20) -> None:
        self.path = os.fspath(path)
        self.process = process
        self.chunk_bytes = chunk_bytes
        self.report = ReadReport(self.path)
        self.init: LHEInit | None = None
        self.variation_set: VariationSet | None = None
        self._warned: set[str] = set()

    def __iter__(self) -> Iterator[Events]:
        buffer = b""
        n_before = 0
        for block in iter_blocks(self.path, self.chunk_bytes):
            buffer += block
            if self.init is None:
                if b"</init>" not in buffer:
                    if b"<LesHouchesEvents" not in buffer[:65536] and len(buffer) > 65536:
                        raise self._not_lhe()
                    continue
                if b"<LesHouchesEvents" not in buffer[: buffer.index(b"</init>")]:
                    raise self._not_lhe()
                self.init = _parse_init(buffer, self.path)
                self.variation_set = self.init.variations
                if self.init.masses:  # the pole masses the sample was made with: in-peak windows, parametrisation
                    self.process = self.process.with_masses(self.init.masses)
                buffer = buffer[buffer.index(b"</init>") + 7 :]
            end = buffer.rfind(b"</event>")
            if end < 0:
                continue
            end += len(b"</event>")
            events = self._parse(buffer[:end], n_before)
            n_before = self.report.read
            buffer = buffer[end:]
            if events is not None:
                yield events
        if self.init is None:
            raise self._not_lhe() if b"<LesHouchesEvents" not in buffer else TruncatedFileError(
                "file ends before </init>", path=self.path, hint="re-download or regenerate the file"
            )
        closed = b"</LesHouchesEvents>" in buffer
        if b"<event" in buffer or not closed:
            raise TruncatedFileError(
                f"file ends after event {self.report.read - 1} without </LesHouchesEvents>",
                path=self.path,
                hint="the file is truncated: re-download or regenerate it",
            )

    def _not_lhe(self) -> MalformedFileError:
        return MalformedFileError(
            "not an LHE file (no <LesHouchesEvents> tag before <init>)", path=self.path, hint="give an .lhe or .lhe.gz file"
        )

    def _parse(self, text: bytes, n_before: int) -> Events | None:
        """Parse a run of complete events; ``n_before`` events precede them in the file."""
        headers: list[bytes] = []
        particles: list[bytes] = []
        tails: list[bytes] = []  # what follows the particle lines: <rwgt>, <weights>, <scales>, comments
        nups: list[int] = []
        for part in text.split(b"<event")[1:]:
            if part.startswith(b"group"):  # LHEF 3 <eventgroup> wrapper
                continue
            i = len(headers)
            close = part.find(b"</event>")
            if close < 0:
                raise self._malformed(n_before + i, "no </event> before the next <event>")
            body = part[part.find(b">") + 1 : close].lstrip()
            head, _, rest = body.partition(b"\n")
            try:
                nup = int(head.split(None, 1)[0])
            except (ValueError, IndexError):
                raise self._malformed(n_before + i, f"bad event header line {head[:60]!r}") from None
            lines = rest.split(b"\n", nup)
            if len(lines) < nup:
                raise self._malformed(n_before + i, f"header announces {nup} particles, fewer lines follow")
            nups.append(nup)
            headers.append(head)
            particles.append(b"\n".join(lines[:nup]))
            tails.append(lines[nup] if len(lines) > nup else b"")
        n = len(headers)
        if n == 0:
            return None
        nup = np.array(nups, dtype=np.int64)
        head = _parse_numbers(b"\n".join(headers))
        if head is None or head.size != n * N_HEADER:
            self._locate(headers, N_HEADER, lambda j: 1, n_before, "event header line")
        table = _parse_numbers(b"\n".join(particles))
        if table is None or table.size != N_COLUMNS * nup.sum():
            self._locate(particles, N_COLUMNS, lambda j: nup[j], n_before, "particle lines")
        table = table.reshape(-1, N_COLUMNS)
        head = head.reshape(n, N_HEADER)

        ev = np.repeat(np.arange(n), nup)
        start = np.concatenate([[0], np.cumsum(nup)[:-1]])
        pid = table[:, 0].astype(np.int64)
        m1 = table[:, 2].astype(np.int64)
        bad = (m1 < 0) | (m1 > nup[ev])
        if bad.any():
            j = int(ev[np.argmax(bad)])
            raise self._malformed(n_before + j, "mother index outside the event")
        mother = np.where(m1 > 0, start[ev] + m1 - 1, -1)
        p = table[:, 6:9]
        finite = np.isfinite(p).all(axis=1)
        if not finite.all():
            j = int(ev[np.argmax(~finite)])
            raise NonFiniteError(
                "NaN or infinite momentum", path=self.path, event=n_before + j, hint="fix or remove this event"
            )

        sel = find_slots(pid, mother, ev, n, self.process)
        weights = head[sel.accepted, 2]
        bad = ~np.isfinite(weights)
        if bad.any():
            j = int(np.nonzero(sel.accepted)[0][np.argmax(bad)])
            raise NonFiniteError("NaN or infinite XWGTUP", path=self.path, event=n_before + j,
                                 hint="fix or remove this event")
        ratios = self._variations(tails, head[:, 2], n_before)
        if ratios is not None:
            ratios = ratios[sel.accepted]
            for warning in check_ratios(ratios, self.variation_set, path=self.path):
                if warning not in self._warned:
                    self._warned.add(warning)
                    warnings.warn(f"{self.path}: {warning}", stacklevel=2)
        idx = sel.index[sel.accepted]
        events = Events(p[idx], pid[idx], weights, self.process, self._meta(), variations=ratios,
                        variation_set=None if ratios is None else self.variation_set)
        self.report.add(n, len(events), sel.skipped, weights, events.channel_counts())
        if self.variation_set is not None:
            self.report.variations = self.variation_set.summary()
        return events

    def _variations(self, tails: list[bytes], nominal: np.ndarray, n_before: int) -> np.ndarray | None:
        """Each event's variation weights as ratios to its XWGTUP (n, K), or None where the file has none."""
        n = len(tails)
        blob = b"\0".join(tails)
        ends = np.cumsum([len(t) + 1 for t in tails])  # one past each event's tail in ``blob``
        declared = self.variation_set
        lists = list(_WEIGHTS.finditer(blob)) if b"<weights" in blob else []
        if b"<wgt" in blob:
            found = list(_WGT.finditer(blob))
            owner = np.searchsorted(ends, [m.start() for m in found], side="right")
            ids = [m.group(1).decode("ascii", "replace") for m in found]
            values = _parse_numbers(b" ".join(m.group(2) for m in found))
            if values is None or len(values) != len(found):
                raise self._malformed(n_before + int(owner[0]) if len(owner) else n_before, "unreadable <wgt> value")
        elif any(m.group(1).strip() for m in lists):  # Pythia writes empty <weights> lists: those are none
            found = lists
            owner_of = np.searchsorted(ends, [m.start() for m in found], side="right")
            rows = [_parse_numbers(m.group(1)) for m in found]
            for j, r in zip(owner_of, rows):
                if r is None:
                    raise self._malformed(n_before + int(j), "unreadable <weights> list")
            owner = np.repeat(owner_of, [len(r) for r in rows])
            values = np.concatenate(rows) if rows else np.zeros(0)
            if declared is None:
                raise InputError("the events carry <weights> lists but the header declares no <initrwgt>",
                                 path=self.path, event=n_before, hint="add the header's weight declarations")
            ids = [declared.ids[k] if k < len(declared) else f"#{k}"
                   for r in rows for k in range(len(r))]
        else:
            if declared is not None and n:
                raise InputError(f"the header declares {len(declared)} variation weights, the event has none",
                                 path=self.path, event=n_before, hint="every event must carry the same variation weights")
            return None
        counts = np.bincount(owner, minlength=n)
        if declared is None:  # weights without <initrwgt>: named by the first event's ids, of unknown kind
            first = ids[: counts[0]]
            declared = self.variation_set = VariationSet(tuple(Variation(i, "other") for i in first))
        k = len(declared)
        wrong = counts != k
        if wrong.any():
            j = int(np.argmax(wrong))
            raise InputError(f"event has {counts[j]} variation weights, the file's others {k}", path=self.path,
                             event=n_before + j, hint="every event must carry the same variation weights")
        table = np.array(ids, dtype=object).reshape(n, k)
        moved = (table != np.array(declared.ids, dtype=object)).any(axis=1)
        if moved.any():
            j = int(np.argmax(moved))
            col = int(np.argmax(table[j] != np.array(declared.ids, dtype=object)))
            raise InputError(f"variation weight ids change: {table[j, col]!r} where {declared.ids[col]!r} was",
                             path=self.path, event=n_before + j, hint="every event must list the same weight ids in order")
        values = values.reshape(n, k)
        w0 = nominal[:, None]
        undefined = (w0 == 0) & (values != 0)
        if undefined.any():
            j = int(np.argwhere(undefined)[0, 0])
            raise InputError("XWGTUP is 0 but a variation weight is not: its ratio to the nominal is undefined",
                             path=self.path, event=n_before + j, hint="fix or remove this event")
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(w0 == 0, 1.0, values / np.where(w0 == 0, 1.0, w0))

    def _meta(self) -> dict:
        assert self.init is not None
        return {
            "source": self.path,
            "format": "lhe",
            "ecm": self.init.ecm,
            "beams": list(self.init.beams),
            "beam_energies": list(self.init.energies),
            "cross_section_pb": float(sum(self.init.cross_sections)),
            "generator": self.init.generator,
            **({"masses": self.init.masses} if self.init.masses else {}),
        }

    def _malformed(self, event: int, what: str) -> MalformedFileError:
        return MalformedFileError(f"malformed event: {what}", path=self.path, event=event, hint="the file is corrupt")

    def _locate(self, chunks: list[bytes], width: int, count, n_before: int, what: str) -> None:
        """Find the first event whose numbers do not parse, and raise for it."""
        for j, c in enumerate(chunks):
            values = _parse_numbers(c)
            if values is None or values.size != width * count(j):
                raise self._malformed(n_before + j, f"unreadable {what}")
        raise self._malformed(n_before, f"unreadable {what}")  # pragma: no cover - invariant

