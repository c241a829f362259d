"""Truth samples from Pythia 8: pp → tt̄ → six quarks at parton level."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import awkward as ak
import numpy as np

from lhcgan.errors import ConfigError
from lhcgan.reading import open_reader
from lhcgan.reading.report import ReadReport
from lhcgan.events import Events
from lhcgan.process import TTBAR
from lhcgan.reading.decay import find_slots
from lhcgan.writing import output_format, write
from lhcgan.writing.atomic import atomic_output
from lhcgan.writing.gz import open_gzip

MAX_SEED = 900_000_000  # Pythia's limit for Random:seed

#: Parton-level tt̄ with hadronic W decays; everything else keeps Pythia's defaults.
SETTINGS: tuple[str, ...] = (
    "Top:gg2ttbar = on",
    "Top:qqbar2ttbar = on",
    "24:onMode = off",
    "24:onIfAny = 1 2 3 4",
    "PartonLevel:ISR = off",
    "PartonLevel:FSR = off",
    "PartonLevel:MPI = off",
    "PartonLevel:Remnants = off",
    "HadronLevel:all = off",
    "Check:event = off",
    "Next:numberCount = 0",
    "Print:quiet = on",
)


def pythia_settings(ecm: float, seed: int, *, bias: float | None = None, isr: bool = False) -> list[str]:
    """The full list of Pythia settings for a run.

    Args:
        bias: generate ∝ (p̂T / 100 GeV)^bias more often (`PhaseSpace:bias2Selection`), each event
            weighted by the inverse, so the m(tt̄) and pT tails fill; the sample is then weighted.
        isr: initial-state radiation on (FSR, MPI and hadronisation stay off): the tt̄ system recoils.
    """
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be in [0, {MAX_SEED}], got {seed}")
    settings = [f"Beams:eCM = {ecm:g}", "Random:setSeed = on", f"Random:seed = {seed}", *SETTINGS]
    if isr:
        settings = [x if x != "PartonLevel:ISR = off" else "PartonLevel:ISR = on" for x in settings]
    if bias is not None:
        if not 0 < bias <= 10:
            raise ConfigError(f"--bias takes a power in (0, 10], got {bias}")
        settings += ["PhaseSpace:bias2Selection = on", f"PhaseSpace:bias2SelectionPow = {bias:g}",
                     "PhaseSpace:bias2SelectionRef = 100."]
    return settings


def make_pythia(settings: Sequence[str]):
    """An initialised `pythia8mc.Pythia` with the given settings."""
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for s in settings:
        if not pythia.readString(s):
            raise ConfigError(f"Pythia rejected the setting {s!r}")
    if not pythia.init():
        raise ConfigError("Pythia failed to initialise")
    return pythia


def _run_to_lhe(pythia, n_events: int, path: Path, progress: bool) -> None:
    import pythia8mc
    from tqdm import tqdm

    lhef = pythia8mc.LHEF3FromPythia8(pythia, 8, True)
    lhef.openLHEF(str(path))
    lhef.setInit()
    done = failures = 0
    with tqdm(total=n_events, unit="ev", disable=not progress, desc="pythia") as bar:
        while done < n_events:
            if not pythia.next():
                failures += 1
                if failures > 100 + n_events // 10:
                    raise ConfigError(f"Pythia failed on {failures} events; check the settings")
                continue
            lhef.setEvent()
            done += 1
            if done % 1000 == 0:
                bar.update(1000)
        bar.update(done % 1000)
    lhef.closeLHEF(True)


def _copy_without_local_paths(src: BinaryIO, dst: BinaryIO) -> None:
    """Copy Pythia's LHEF output, dropping the header line with this machine's install path.

    Without it the same seed gives the same bytes on every machine.
    """
    for line in src:
        if line.startswith(b"# xmlPath"):
            continue
        dst.write(line)
        if line.startswith(b"<init>"):
            break
    shutil.copyfileobj(src, dst, 1 << 22)


def iterate_pythia(pythia, n_events: int, report: ReadReport, *, batch: int = 10_000,
                   progress: bool = False, meta: dict | None = None, weighted: bool = False) -> Iterator[Events]:
    """Run ``pythia`` for ``n_events`` events and yield them as `Events` chunks.

    Uses `Pythia.nextBatch`, which returns the event records as awkward arrays, so
    the decay chain is followed for a whole batch at once; ``report`` is updated.
    With ``weighted`` each event carries Pythia's event weight (biased generation).
    """
    from tqdm import tqdm

    done = 0
    with tqdm(total=n_events, unit="ev", disable=not progress, desc="pythia") as bar:
        while done < n_events:
            k = min(batch, n_events - done)
            batch_events = pythia.nextBatch(k)
            prt = batch_events.prt
            n = len(prt)
            if n == 0:
                raise ConfigError("Pythia produced no events; check the settings")
            counts = ak.to_numpy(ak.num(prt, axis=1))
            ev = np.repeat(np.arange(n), counts)
            start = np.concatenate([[0], np.cumsum(counts)[:-1]])
            flat = {f: ak.to_numpy(ak.flatten(prt[f])) for f in ("id", "mother1")}
            p = np.stack([ak.to_numpy(ak.flatten(prt.p[c])) for c in ("px", "py", "pz")], axis=1)
            mother = np.where(flat["mother1"] > 0, start[ev] + flat["mother1"], -1)  # 0: no mother
            sel = find_slots(flat["id"], mother, ev, n, TTBAR)
            w = ak.to_numpy(batch_events.info.weights[:, 0])[sel.accepted] if weighted else None
            report.add(n, int(sel.accepted.sum()), sel.skipped, w)
            idx = sel.index[sel.accepted]
            done += n
            bar.update(n)
            yield Events(p[idx], flat["id"][idx], w, TTBAR, dict(meta or {}))


def simulate(
    n_events: int,
    path: str | os.PathLike[str],
    *,
    ecm: float = 13000.0,
    seed: int = 1,
    progress: bool = False,
    pythia_lhef: bool | None = None,
    bias: float | None = None,
    isr: bool = False,
) -> ReadReport:
    """Generate ``n_events`` tt̄ → 6 quark events with Pythia 8 into ``path``.

    ``.root`` gets lhcgan's TTree. ``.lhe`` / ``.lhe.gz`` get Pythia's own LHEF 3.0
    record by default, which keeps the true initial state (gg or qq̄) and scales;
    ``pythia_lhef=False`` writes lhcgan's LHE instead (faster, gg initial state).
    Returns the read report (the rare CKM-suppressed t → W s/d and W → q b decays
    are counted as skipped; in Pythia's LHEF they stay in the file).
    ``bias`` and ``isr``: see `pythia_settings`; the file's metadata records them.
    """
    if n_events <= 0:
        raise ConfigError(f"--events must be positive, got {n_events}")
    path = Path(path)
    fmt = output_format(path)
    pythia = make_pythia(pythia_settings(ecm, seed, bias=bias, isr=isr))
    meta = {"source": f"lhcgan simulate (Pythia 8, seed {seed})", "seed": seed, "ecm": ecm, "bias": bias, "isr": isr}
    if pythia_lhef is None:
        pythia_lhef = fmt == "lhe"
    if not pythia_lhef:
        report = ReadReport(os.fspath(path))
        chunks = iterate_pythia(pythia, n_events, report, progress=progress, meta=meta, weighted=bias is not None)

        def with_xsec() -> Iterator[Events]:  # σ is known once events exist
            for chunk in chunks:
                chunk.meta["cross_section_pb"] = pythia.infoPython().sigmaGen() * 1e9
                yield chunk

        write(with_xsec(), path)
        return report
    if fmt != "lhe":
        raise ConfigError("Pythia's own LHEF record can only be written to .lhe or .lhe.gz")
    with atomic_output(path) as tmp:
        raw = tmp.with_name(tmp.name + ".lhe")
        try:
            _run_to_lhe(pythia, n_events, raw, progress)
            reader = open_reader(raw)
            for _ in reader:  # count accepted and skipped events
                pass
            gz = path.name.endswith(".gz")
            with open(raw, "rb") as src, (open_gzip(tmp, level=9) if gz else open(tmp, "wb")) as dst:
                _copy_without_local_paths(src, dst)
        finally:
            raw.unlink(missing_ok=True)
    reader.report.path = os.fspath(path)
    return reader.report
