"""Theory variations of a sample: their names, kinds and conventions, and each event's ratios.

A sample's variations (scale, PDF, parton-shower, other) travel with its events as ratios to the
nominal weight, ``Events.variations`` (N, K) = w_k / w_0, NanoAOD's convention; LHE files hold the
absolute weights w_k = w_0 · ratio. `VariationSet` describes the K columns: each one's id (the LHE
``<weight id>``, or NanoAOD's "LHEScaleWeight[3]"), its kind, its text ("muR=0.5 muF=2.0") and
group, the LHE header's ``<initrwgt>`` block as read and the NanoAOD branch titles, so that every
reader and writer keeps the names, the order and the conventions.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lhcgan.errors import NonFiniteError

#: The kinds of variation, in the order writers group them; NanoAOD's branch of each.
KINDS = ("scale", "pdf", "ps", "other")
BRANCHES = {"scale": "LHEScaleWeight", "pdf": "LHEPdfWeight", "ps": "PSWeight", "other": "LHEReweightingWeight"}
#: A variation whose ratio to the nominal spans more than this factor (99.9 % range) gets a warning.
WIDE_RATIO = 100.0

_MU = re.compile(r"mu([RF])\s*=\s*([-+0-9.eEdD]+)", re.I)


@dataclass(frozen=True)
class Variation:
    """One variation weight.

    Attributes:
        id: its name: the LHE weight id ("1001"), or NanoAOD's branch and index ("LHEScaleWeight[3]").
        kind: "scale", "pdf", "ps" or "other".
        text: what it is, as the input says: "muR=0.5 muF=2.0", "LHA ID 292201", a weight's text.
        group: its LHE weight group ("scale_variation"), or "" where none.
    """

    id: str
    kind: str
    text: str = ""
    group: str = ""

    @property
    def scales(self) -> tuple[float, float] | None:
        """(k_R, k_F), the factors of μ_R and μ_F of a scale variation, where its text states them."""
        found = {k.upper(): float(v.replace("d", "e").replace("D", "e")) for k, v in _MU.findall(self.text)}
        if "R" in found and "F" in found:
            return found["R"], found["F"]
        return None


@dataclass(frozen=True)
class VariationSet:
    """The description of a sample's K variation columns.

    Attributes:
        entries: one `Variation` per column, in the input's order.
        initrwgt: the LHE header's ``<initrwgt>…</initrwgt>`` block as read, written back as it is.
        titles: NanoAOD branch titles by kind, as read ("LHE scale variation weights (w_var / w_nominal); [0] is …").
    """

    entries: tuple[Variation, ...]
    initrwgt: str | None = None
    titles: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def ids(self) -> list[str]:
        return [v.id for v in self.entries]

    def indices(self, kind: str) -> list[int]:
        """The columns of one kind, in order."""
        return [i for i, v in enumerate(self.entries) if v.kind == kind]

    def title(self, kind: str) -> str:
        """The NanoAOD branch title of a kind: as read, or made in NanoAOD's words from the entries."""
        known = dict(self.titles)
        if kind in known:
            return known[kind]
        cols = [self.entries[i] for i in self.indices(kind)]
        if kind == "scale":
            return "LHE scale variation weights (w_var / w_nominal); " + " ; ".join(
                f"[{j}] is {v.text.strip() or v.id}" for j, v in enumerate(cols)) + " "
        what = {"pdf": "LHE pdf variation weights", "ps": "PS weights", "other": "LHE reweighting weights"}[kind]
        return f"{what} (w_var / w_nominal); " + " ; ".join(f"[{j}] is {v.text.strip() or v.id}"
                                                          for j, v in enumerate(cols))

    def summary(self) -> str:
        """E.g. "9 scale, 102 pdf"."""
        counts = Counter(v.kind for v in self.entries)
        return ", ".join(f"{counts[k]} {k}" for k in KINDS if counts[k])

    def envelope(self) -> list[int]:
        """The columns of the 7-point scale envelope: (k_R, k_F) ∈ {½, 1, 2}², without the two opposite ones."""
        out = []
        for i in self.indices("scale"):
            s = self.entries[i].scales
            if s is not None and {round(k, 3) for k in s} <= {0.5, 1.0, 2.0} and sorted(s) != [0.5, 2.0]:
                out.append(i)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"entries": [vars(v) for v in self.entries], "initrwgt": self.initrwgt, "titles": dict(self.titles)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VariationSet":
        return cls(tuple(Variation(**v) for v in d["entries"]), d.get("initrwgt"), tuple(d.get("titles", {}).items()))


def classify(group: str, text: str, attributes: str = "") -> str:
    """The kind of an LHE weight from its group's name or type first, then its attributes and text."""
    for words in (group.lower(), f"{attributes} {text}".lower()):
        if any(k in words for k in ("pdf", "lhapdf", "hessian", "replicas")):
            return "pdf"
        if "scale" in words or _MU.search(words):
            return "scale"
        if any(k in words for k in ("isr", "fsr", "shower", "psweight")):
            return "ps"
    return "other"


_GROUP = re.compile(r"<weightgroup([^>]*)>(.*?)</weightgroup>", re.S | re.I)
_WEIGHT = re.compile(r"<weight\s+([^>]*?)\s*>(.*?)</weight>", re.S | re.I)
_ATTR = re.compile(r"(\w+)\s*=\s*[\"']?([^\"'\s>]+)[\"']?")


def from_initrwgt(header: str) -> VariationSet | None:
    """The variations an LHE header's ``<initrwgt>`` block declares, or None without one."""
    opening = re.search(r"<initrwgt\s*>", header)
    end = header.find("</initrwgt>")
    if opening is None or end < 0:
        return None
    start = opening.start()
    block = header[start: end + len("</initrwgt>")]
    entries = []
    for attrs, body in _GROUP.findall(block) or [("", block)]:
        a = dict(_ATTR.findall(attrs))
        group = a.get("name") or a.get("type") or ""
        for w_attrs, text in _WEIGHT.findall(body):
            wa = dict(_ATTR.findall(w_attrs))
            if "id" not in wa:
                continue
            text = " ".join(text.split())
            extra = " ".join(f"{k}={v}" for k, v in wa.items() if k != "id")
            if not _MU.search(text) and re.search(r"\bmu[rf]\b", extra, re.I):  # MG5 3.x: MUR="2.0" MUF="1.0"
                text = " ".join(f"{k}={v}" for k, v in wa.items() if k.lower() in ("mur", "muf")) + (f" {text}" if text else "")
            entries.append(Variation(wa["id"], classify(group + " " + a.get("type", ""), text, extra), text, group))
    return VariationSet(tuple(entries), block) if entries else None


def check_ratios(ratios: np.ndarray, variations: VariationSet, *, path: str | None = None,
                 first_event: int = 0) -> list[str]:
    """Refuse NaN or infinite ratios (`NonFiniteError` naming the event); return warnings for variations whose
    ratio to the nominal spans orders of magnitude (a weight that is mostly noise, or a broken column)."""
    bad = ~np.isfinite(ratios)
    if bad.any():
        j, k = np.argwhere(bad)[0]
        raise NonFiniteError(f"NaN or infinite variation weight {variations.entries[k].id!r}", path=path,
                             event=first_event + int(j), hint="fix or remove this event's variation weights")
    out = []
    if len(ratios):
        lo, hi = np.quantile(np.abs(ratios), [0.0005, 0.9995], axis=0)
        for k in np.nonzero(hi > WIDE_RATIO * np.maximum(lo, 1e-300))[0]:
            out.append(f"variation {variations.entries[k].id!r} ({variations.entries[k].text or variations.entries[k].kind}) "
                       f"spans {lo[k]:.2g} to {hi[k]:.2g} of the nominal (99.9 % of events)")
    return out
