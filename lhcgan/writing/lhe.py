"""Write `Events` as LHEF 3.0 that Pythia 8 showers as it is.

Each event lists: two incoming gluons (status −1) whose momentum fractions are
rebuilt from the final state; t and t̄ (status 2, mothers 1 2); each W (status 2,
mother its top); and the six quarks (status 1). Resonance masses are the
invariant masses of their daughters, every mass column equals √(E² − p²), the
colour flow is that of gg → tt̄, and SCALUP is the mean top transverse mass.

An event whose tt̄ system recoils (ISR, real emission) cannot be balanced by incoming
partons along the beams alone. It gets one more outgoing gluon (status 1, mothers 1 2)
that carries the recoil: transverse momentum −pT(tt̄), massless, at the rapidity of the
tt̄ system, and the colour flow of gg → tt̄g. The six quarks are untouched; the incoming
momentum fractions are rebuilt from the event including the gluon.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import os
import warnings
from collections.abc import Iterable
from typing import IO, Any

import numpy as np

from lhcgan import physics
from lhcgan.atomic import atomic_output
from lhcgan.errors import ConfigError, OutputError
from lhcgan.events import Events
from lhcgan.process import Process
from lhcgan.variations import VariationSet
from lhcgan.version import __version__
from lhcgan.writing.chunks import as_chunks
from lhcgan.writing.gz import open_gzip

AQEDUP = 1.0 / 128.0
AQCDUP = 0.118
GLUON = 21
_NUM = "%.12e"  # 13 digits: √(E² − p²) of a massless quark stays below 1e-5 GeV
_LINE = " %d %d %d %d %d %d " + " ".join([_NUM] * 5) + " 0 9\n"


class _Layout:
    """The LHE line layout of a process: which lines are resonances and slots, with mothers and colours."""

    def __init__(self, process: Process, recoil: bool = False, modes: tuple[int, ...] = ()) -> None:
        """``modes``: the mode index of each of ``process.decaying`` (colourless leptonic decays get no colour)."""
        tops = list(process.primaries)
        mode_of = {r.name: r.modes[m] for r, m in zip(process.decaying, modes)}
        self.recoil = recoil
        if len(tops) != 2 or sorted(np.sign([t.pdg for t in tops])) != [-1, 1]:
            raise ConfigError(f"the LHE writer needs a quark–antiquark pair of primary resonances, {process.name} has none")
        # line order: 2 incoming, primary resonances, then for each resonance its direct children
        self.lines: list[tuple[str, Any]] = [("in", 0), ("in", 1)] + [("res", r) for r in tops]
        queue = list(tops)
        while queue:
            r = queue.pop(0)
            for child in process.resonances:
                if child.parent == r.name:
                    self.lines.append(("res", child))
                    queue.append(child)
            for i, s in enumerate(process.slots):
                if s.parent == r.name:
                    self.lines.append(("slot", i))
        self.process = process
        pos = {("res", r.name): k + 1 for k, (kind, r) in enumerate(self.lines) if kind == "res"}
        # colours: g1 (101, 102), g2 (103, 101); the quark resonance carries 103, the antiquark one 102;
        # with a recoil gluon (103, 104) the quark resonance carries 104 instead
        quark_colour = 104 if recoil else 103
        colour_of_res = {t.name: ((quark_colour, 0) if t.pdg > 0 else (0, 102)) for t in tops}
        next_colour = 105
        self.status, self.mothers, self.colours = [], [], []
        for kind, item in self.lines:
            if kind == "in":
                self.status.append(-1)
                self.mothers.append((0, 0))
                self.colours.append((101, 102) if item == 0 else (103, 101))
            elif kind == "res":
                self.status.append(2)
                self.mothers.append((1, 2) if item.parent is None else (pos[("res", item.parent)],) * 2)
                self.colours.append(colour_of_res.get(item.name, (0, 0)))
            else:
                slot = process.slots[item]
                parent = process.resonance(slot.parent)
                self.status.append(1)
                self.mothers.append((pos[("res", parent.name)],) * 2)
                if parent.name in colour_of_res:  # t → b keeps the top's colour
                    self.colours.append(colour_of_res[parent.name])
                elif parent.name in mode_of and not mode_of[parent.name].coloured:  # W → ℓν
                    self.colours.append((0, 0))
                elif slot.pdg[0] > 0:  # colour-singlet W → q q̄′: a fresh line per W
                    self.colours.append((next_colour, 0))
                else:
                    self.colours.append((0, next_colour))
                    next_colour += 1
        if recoil:
            self.lines.append(("recoil", None))
            self.status.append(1)
            self.mothers.append((1, 2))
            self.colours.append((103, 104))
        self.template = "<event>\n %d 1 %.10e %.10e %.10e %.10e\n" + _LINE * len(self.lines) + "</event>\n"


def _init_block(ecm: float, xsec: float, idwtup: int, beams: tuple[int, int] = (2212, 2212)) -> str:
    e = ecm / 2
    return (
        "<init>\n"
        f" {beams[0]} {beams[1]} {e:.10e} {e:.10e} 0 0 0 0 {idwtup} 1\n"
        f" {xsec:.10e} 0.0000000000e+00 {xsec:.10e} 1\n"
        "</init>\n"
    )


def _event_table(events: Events, layout: _Layout, ecm: float) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of every line of every event: (N, 6 + 11·lines) and the mask of physical events."""
    n = len(events)
    proc = layout.process
    masses = events.masses  # (N, 6) GeV: each slot's from the event's flavours (a τ has its mass)
    p4 = physics.to_four_momenta(events.momenta, masses)  # (N, 6, 4) E, px, py, pz
    total = p4.sum(axis=1)
    if layout.recoil:  # a massless gluon with −pT(tt̄) at the rapidity of the tt̄ system
        kt = np.hypot(total[:, 1], total[:, 2])
        y = 0.5 * np.log((total[:, 0] + total[:, 3]) / (total[:, 0] - total[:, 3]))
        gluon = np.stack([kt * np.cosh(y), -total[:, 1], -total[:, 2], kt * np.sinh(y)], axis=1)
        total = total + gluon
    e1 = 0.5 * (total[:, 0] + total[:, 3])
    e2 = 0.5 * (total[:, 0] - total[:, 3])
    ok = (e1 > 0) & (e2 > 0) & (e1 <= ecm / 2) & (e2 <= ecm / 2)
    res_p4 = {r.name: p4[:, list(r.members)].sum(axis=1) for r in proc.resonances}

    def with_mass(q: np.ndarray, m: np.ndarray) -> np.ndarray:
        return np.concatenate([q[:, 1:], q[:, :1], m[:, None]], axis=1)  # px py pz E m

    zeros = np.zeros(n)
    kin = []
    for kind, item in layout.lines:
        if kind == "in":
            e = e1 if item == 0 else e2
            kin.append(np.stack([zeros, zeros, e if item == 0 else -e, e, zeros], axis=1))
        elif kind == "res":
            q = res_p4[item.name]
            m2 = q[:, 0] ** 2 - (q[:, 1:] ** 2).sum(axis=1)
            kin.append(with_mass(q, np.sqrt(np.clip(m2, 0, None))))
        elif kind == "recoil":
            kin.append(with_mass(gluon, zeros))
        else:
            kin.append(with_mass(p4[:, item], masses[:, item]))
    ids = []
    for kind, item in layout.lines:
        ids.append(np.full(n, GLUON) if kind in ("in", "recoil") else np.full(n, item.pdg) if kind == "res"
                   else events.pdg[:, item])
    # the mean transverse mass of the primary resonances
    scale = np.mean([np.sqrt(physics.pt(res_p4[r.name][:, 1:]) ** 2 + r.mass**2) for r in proc.primaries], axis=0)
    cols = [np.full(n, len(layout.lines)).astype(float)]
    weight = np.ones(n) if events.weights is None else events.weights
    header = [weight, scale, np.full(n, AQEDUP), np.full(n, AQCDUP)]
    cols += header
    for k in range(len(layout.lines)):
        st = layout.status[k]
        m1, m2 = layout.mothers[k]
        c1, c2 = layout.colours[k]
        cols += [ids[k], np.full(n, st), np.full(n, m1), np.full(n, m2), np.full(n, c1), np.full(n, c2)]
        cols += list(kin[k].T)
    return np.stack([np.asarray(c, dtype=np.float64) for c in cols], axis=1), ok


def _initrwgt(variations: VariationSet) -> str:
    """The header's ``<initrwgt>`` block: the input's as it was, else one made from the entries, grouped."""
    if variations.initrwgt:
        return variations.initrwgt.strip() + "\n"
    out = ["<initrwgt>"]
    for group, grouped in itertools.groupby(variations.entries, key=lambda v: v.group or v.kind):
        members = list(grouped)
        combine = ' combine="envelope"' if members[0].kind == "scale" else ""  # a PDF's rule is its set's
        out.append(f'<weightgroup name="{html.escape(group)}"{combine}>')
        out += [f'<weight id="{html.escape(v.id)}"> {html.escape(v.text)} </weight>' for v in members]
        out.append("</weightgroup>")
    return "\n".join(out + ["</initrwgt>"]) + "\n"


def _rwgt_texts(events: Events) -> list[str]:
    """Each event's ``<rwgt>`` block: the absolute variation weights, XWGTUP × ratio."""
    assert events.variation_set is not None
    template = "<rwgt>\n" + "".join(f'<wgt id="{html.escape(i)}"> {_NUM} </wgt>\n'
                                      for i in events.variation_set.ids) + "</rwgt>\n"
    return [template % tuple(row) for row in events.variation_weights().tolist()]


def _open_text(path: os.PathLike[str] | str, gz: bool) -> IO[str]:
    if gz:  # mtime=0: the same events give the same bytes
        return io.TextIOWrapper(open_gzip(path), encoding="ascii")
    return open(path, "w", encoding="ascii", buffering=1 << 22)


def write_lhe(
    events: Events | Iterable[Events],
    path: str | os.PathLike[str],
    *,
    ecm: float | None = None,
    cross_section_pb: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    """Write events as LHEF 3.0 (gzip if ``path`` ends in .gz); return how many were written.

    Args:
        events: one `Events` or a stream of chunks.
        path: output file, written atomically.
        ecm: collider energy in GeV; default from the events' metadata, else 13000.
        cross_section_pb: XSECUP; default from metadata, else 1.
        metadata: extra information stored in the `<header>`.

    Events whose rebuilt momentum fractions x₁ or x₂ fall outside (0, 1] have no
    physical initial state; they are dropped with a warning.
    """
    gz = os.fspath(path).endswith(".gz")
    chunks = as_chunks(events)
    n_written = n_dropped = 0
    with atomic_output(path) as tmp, _open_text(tmp, gz) as out:
        layouts: dict[tuple, _Layout] = {}  # by (modes, recoil): colour flow and lines differ
        for chunk in chunks:
            if not layouts:
                layouts[()] = _Layout(chunk.process)  # fails early for a process the writer cannot lay out
                ecm = float(ecm or chunk.meta.get("ecm") or 13000.0)
                xsec = float(cross_section_pb or chunk.meta.get("cross_section_pb") or 1.0)
                unweighted = chunk.weights is None or np.all(chunk.weights == 1.0)
                info = {"lhcgan_version": __version__, "process": chunk.process.name,
                        "masses": chunk.process.pole_masses()}
                info |= {k: v for k, v in chunk.meta.items() if k in ("source", "seed", "generator")}
                info |= metadata or {}
                out.write('<LesHouchesEvents version="3.0">\n<header>\n<lhcgan>\n')
                out.write(json.dumps(info, default=str) + "\n</lhcgan>\n")
                variations = chunk.variation_set
                if variations is not None:
                    out.write(_initrwgt(variations))
                out.write("</header>\n")
                beams = tuple(chunk.meta.get("beams") or (2212, 2212))  # the input's, where known (pp̄ at the Tevatron)
                out.write(_init_block(ecm, xsec, 3 if unweighted else -4, beams))
            assert ecm is not None
            if chunk.variation_set != variations:
                raise OutputError("the chunks carry different variation weights", path=path,
                                  hint="write samples with the same variations to one file")
            recoils = physics.pt_balance(chunk.momenta) > physics.BALANCED  # these get a recoil gluon
            keys = np.concatenate([chunk.process.modes_of(chunk.pdg), recoils[:, None]], axis=1)
            texts = np.empty(len(chunk), dtype=object)
            ok = np.zeros(len(chunk), dtype=bool)
            for key in np.unique(keys, axis=0):
                mask = (keys == key).all(axis=1)
                k = tuple(int(v) for v in key)
                if k not in layouts:
                    layouts[k] = _Layout(chunk.process, recoil=bool(k[-1]), modes=k[:-1])
                lay = layouts[k]
                if mask.any():
                    part = chunk[mask]
                    table, ok_part = _event_table(part, lay, ecm)
                    rows = [lay.template % tuple(row) for row in table[ok_part].tolist()]
                    if variations is not None:  # before </event>: the weights of each kept event
                        rows = [r[: -len("</event>\n")] + w + "</event>\n"
                                for r, w in zip(rows, _rwgt_texts(part[ok_part]))]
                    texts[np.nonzero(mask)[0][ok_part]] = rows
                    ok[mask] = ok_part
            n_dropped += int((~ok).sum())
            out.write("".join(texts[ok].tolist()))
            n_written += int(ok.sum())
        if not layouts:
            raise ConfigError("no events to write", path=path)
        out.write("</LesHouchesEvents>\n")
    if n_dropped:
        warnings.warn(f"{path}: dropped {n_dropped} events with momentum fractions outside (0, 1]", stacklevel=2)
    return n_written
