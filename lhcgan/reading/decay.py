"""Find the final-state slots of a process by following mother links.

Works on one chunk of events at once, as flat per-particle arrays, without a
Python loop over events. The process description says which resonance decays
into which slot, so nothing here depends on the order of lines in a file.

Conventions: a *copy* is a line whose direct mother has the same PDG id (recoil
copies in Pythia records); a resonance decays from its last copy, and its
daughters are taken as first copies, i.e. before any further copy or shower.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from lhcgan.process import Process

QUARKS = np.arange(1, 6)
LEPTONS = np.arange(11, 17)

NO_TOP = "no t/t̄ lines (not tt̄, or the decay chain is not written)"
TOP_MULTIPLICITY = "not exactly one t and one t̄"
NO_W = "t or t̄ without its W line (resonance line missing)"
TOP_CKM = "t → W s or t → W d (off-diagonal CKM)"
W_CKM = "W → q b (off-diagonal CKM)"
INCOMPLETE = "incomplete decay chain (a quark or lepton from t or W missing or doubled)"
NO_MODE = "W daughters that form no decay mode (e.g. ν_e μ⁺)"


def not_selected(channel: str) -> str:
    """The reason for an event of a channel the reader was told to leave out."""
    return f"{channel} (channel not selected)"


def classify(pdg: np.ndarray, process: Process) -> tuple[np.ndarray, np.ndarray]:
    """Events (N, n_slots) of PDG ids in slot order → (accepted (N,) bool, reason (N,) object, "" where accepted).

    Every slot holds an id its parent's modes allow; here the two daughters of each W must form one
    mode, and the event one of the process's channels.
    """
    reasons = np.full(len(pdg), "", dtype=object)
    modes = process.modes_of(pdg)
    reasons[(modes < 0).any(axis=1)] = NO_MODE
    if process.excluded:
        other = process.channel_of_modes(modes, process.excluded)
        for c, channel in enumerate(process.excluded):
            reasons[(reasons == "") & (other == c)] = not_selected(channel.name)
    reasons[(reasons == "") & (process.channel_of_modes(modes) < 0)] = NO_MODE
    return reasons == "", reasons


@dataclass
class Selection:
    """Result of `find_slots` for a chunk of n events.

    Attributes:
        index: flat particle index of each slot, (n, n_slots), −1 where not found.
        accepted: (n,) bool.
        skipped: per-reason counts of the rejected events.
        reasons: (n,) each event's reason, "" where accepted.
    """

    index: np.ndarray
    accepted: np.ndarray
    skipped: Counter[str]
    reasons: np.ndarray


def _count(mask: np.ndarray, ev: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(ev[mask], minlength=n)


def _index(mask: np.ndarray, ev: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    out[ev[mask]] = np.nonzero(mask)[0]
    return out


def find_slots(pid: np.ndarray, mother: np.ndarray, ev: np.ndarray, n: int, process: Process) -> Selection:
    """Locate every slot of ``process`` in each of n events.

    Args:
        pid: PDG id per particle, (P,).
        mother: flat index of the first mother of each particle, −1 for none, (P,).
        ev: event number (0..n−1) of each particle, (P,), non-decreasing.
        n: number of events in the chunk.
        process: the process whose slots and resonances to find.
    """
    pid = np.asarray(pid, dtype=np.int64)
    has_mother = mother >= 0
    m = np.where(has_mother, mother, 0)
    mpid = np.where(has_mother, pid[m], 0)
    first = mpid != pid

    # origin: first ancestor with a different PDG id, skipping copies
    origin = np.where(has_mother, mother, -1)
    for _ in range(64):
        o = np.where(origin >= 0, origin, 0)
        same = (origin >= 0) & (pid[o] == pid)
        if not same.any():
            break
        origin = np.where(same, mother[o], origin)
    origin_pid = np.where(origin >= 0, pid[np.where(origin >= 0, origin, 0)], 0)
    # the PDG id a particle's decaying mother came from (t for the daughters of a W)
    grand_pid = np.where(has_mother, origin_pid[m], 0)

    by_name = {r.name: r for r in process.resonances}
    reasons = np.full(n, "", dtype=object)

    def reject(mask: np.ndarray, why: str) -> None:
        reasons[(reasons == "") & mask] = why

    def produced(r_pdg: int, parent: str | None) -> np.ndarray:
        mask = first & (pid == r_pdg)
        if parent is not None:
            mask &= mpid == by_name[parent].pdg
        return mask

    tops = [r for r in process.resonances if r.parent is None]
    n_top = {r.name: _count(produced(r.pdg, None), ev, n) for r in tops}
    reject(np.all([c == 0 for c in n_top.values()], axis=0), NO_TOP)
    reject(np.any([c != 1 for c in n_top.values()], axis=0), TOP_MULTIPLICITY)
    for r in process.resonances:
        if r.parent is not None:
            reject(_count(produced(r.pdg, r.parent), ev, n) != 1, NO_W)

    # a τ from a W is a slot like any lepton (its first copy, before the shower decays it)
    abs_pid = np.abs(pid)
    index = np.full((n, process.n_particles), -1, dtype=np.int64)
    is_parton = np.isin(abs_pid, QUARKS) | np.isin(abs_pid, LEPTONS)
    for i, slot in enumerate(process.slots):
        r = by_name[slot.parent]
        sign = np.sign(slot.pdg[0])
        cand = first & is_parton & (np.sign(pid) == sign) & (mpid == r.pdg)
        if r.parent is not None:
            cand &= grand_pid == by_name[r.parent].pdg
        count = _count(cand, ev, n)
        idx = _index(cand, ev, n)
        reject(count != 1, INCOMPLETE)
        index[:, i] = idx
        flav = np.where(idx >= 0, pid[np.where(idx >= 0, idx, 0)], 0)
        # ids no mode of the parent has (any channel): off-diagonal CKM; the channel is judged below
        wrong = (count == 1) & ~np.isin(flav, process.possible_ids(i))
        reject(wrong, TOP_CKM if r.parent is None else W_CKM)

    ok = reasons == ""
    if ok.any():
        reasons[ok] = classify(pid[index[ok]], process)[1]
    accepted = reasons == ""
    skipped = Counter(reasons[~accepted].tolist())
    index[~accepted] = -1
    return Selection(index, accepted, skipped, reasons)
