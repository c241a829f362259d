"""Truth samples from Pythia 8: pp → tt̄ → (b W⁺)(b̄ W⁻) at parton level, in any decay channel."""

from __future__ import annotations

import itertools
import os
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import awkward as ak
import numpy as np

from lhcgan.atomic import atomic_output
from lhcgan.errors import ConfigError
from lhcgan.events import Events
from lhcgan.process import TTBAR, Process
from lhcgan.reading import open_reader
from lhcgan.reading.decay import find_slots
from lhcgan.reading.report import ReadReport
from lhcgan.variations import Variation, VariationSet
from lhcgan.writing import output_format, write
from lhcgan.writing.gz import open_gzip

MAX_SEED = 900_000_000  # Pythia's limit for Random:seed
#: The 9-point scale variations (k_R, k_F) of `--variations`, in NanoAOD's order: μ_R outer, μ_F inner.
SCALE_POINTS = tuple((r, f) for r in (0.5, 1.0, 2.0) for f in (0.5, 1.0, 2.0))
#: Pythia's internal PDF sets whose ratios to the one in use `--variations` writes as PDF alternatives.
PDF_ALTERNATIVES = (8, 14)

#: Parton-level tt̄; the W decays follow the channels asked for (`decay_settings`); everything else keeps
#: Pythia's defaults.
SETTINGS: tuple[str, ...] = (
    "Top:gg2ttbar = on",
    "Top:qqbar2ttbar = on",
    "PartonLevel:ISR = off",
    "PartonLevel:FSR = off",
    "PartonLevel:MPI = off",
    "PartonLevel:Remnants = off",
    "HadronLevel:all = off",
    "Check:event = off",
    "Next:numberCount = 0",
    "Print:quiet = on",
)


def channel_process(channel: str = "allhad") -> Process:
    """The process of ``--channel``: "allhad", "ljets", "dilep", "taujets", "taudilep" or "all" (every channel)."""
    names = [c.name for c in TTBAR.channels]
    if channel == "all":
        return TTBAR
    if channel not in names:
        raise ConfigError(f"unknown channel {channel!r}; choose from {names + ['all']}")
    return TTBAR.restrict([channel])


def decay_settings(process: Process) -> list[str]:
    """Pythia's W decay channels for the process's channels: every mode some channel uses is on.

    Where a channel mixes modes (ℓ+jets: one W leptonic, the other hadronic), the other combinations
    are made too and left out by the reader, counted as "channel not selected".
    """
    out = []
    for r, used in zip(process.decaying, process.used_modes()):
        ids = sorted({i for m in r.modes if m.name in used for i in m.pythia})
        out.append((abs(r.pdg), " ".join(map(str, ids))))
    settings = []
    for pdg, text in dict(out).items():  # W⁺ and W⁻ share their PDG entry
        settings += [f"{pdg}:onMode = off", f"{pdg}:onIfAny = {text}"]
    return settings


def makes_only(process: Process) -> bool:
    """Whether Pythia, with `decay_settings`, makes only the process's channels: every combination of the
    modes it turns on is one of the channels' (not so for ℓ+jets, where it makes both W leptonic too)."""
    used = process.used_modes()
    covered = {combo for c in process.channels for combo in c.modes}
    return all(combo in covered for combo in itertools.product(*used))


def pythia_settings(ecm: float, seed: int, *, bias: float | None = None, isr: bool = False,
                    process: Process | None = None, mt: float | None = None,
                    mw: float | None = None) -> list[str]:
    """The full list of Pythia settings for a run.

    Args:
        process: its channels decide the W decays (`decay_settings`); default the all-hadronic one.
        mt, mw: the top and W pole masses (``6:m0``, ``24:m0``), GeV; None: Pythia's default.
        bias: generate ∝ (p̂T / 100 GeV)^bias more often (`PhaseSpace:bias2Selection`), each event
            weighted by the inverse, so the m(tt̄) and pT tails fill; the sample is then weighted.
        isr: initial-state radiation on (FSR, MPI and hadronisation stay off): the tt̄ system recoils.
    """
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be in [0, {MAX_SEED}], got {seed}")
    settings = [f"Beams:eCM = {ecm:g}", "Random:setSeed = on", f"Random:seed = {seed}", *SETTINGS,
                *decay_settings(TTBAR.restrict(["allhad"]) if process is None else process)]
    for pdg, mass, name in ((6, mt, "--mt"), (24, mw, "--mw")):
        if mass is not None:
            if not 0 < mass < 1000:
                raise ConfigError(f"{name} takes a mass in GeV, got {mass}")
            settings.append(f"{pdg}:m0 = {mass!r}")
    if isr:
        settings = [x if x != "PartonLevel:ISR = off" else "PartonLevel:ISR = on" for x in settings]
    if bias is not None:
        if not 0 < bias <= 10:
            raise ConfigError(f"--bias takes a power in (0, 10], got {bias}")
        settings += ["PhaseSpace:bias2Selection = on", f"PhaseSpace:bias2SelectionPow = {bias:g}",
                     "PhaseSpace:bias2SelectionRef = 100."]
    return settings


def variation_set(alternatives: Sequence[int] = PDF_ALTERNATIVES) -> VariationSet:
    """What `--variations` writes: the 9 scale points (ids 1001–1009, as MadGraph numbers them) and the PDF
    alternatives (ids 2001, …), each with its text."""
    scale = tuple(Variation(str(1001 + i), "scale", f"muR={r:g} muF={f:g}", "scale_variation")
                  for i, (r, f) in enumerate(SCALE_POINTS))
    pdf = tuple(Variation(str(2001 + i), "pdf", f"PDF:pSet = {k}", "pdf_alternatives") for i, k in enumerate(alternatives))
    return VariationSet(scale + pdf)


class LOVariations:
    """Exact leading-order variation weights of Pythia's gg, qq̄ → tt̄ events, as ratios to the nominal.

    Both processes go as α_s², so a μ_R variation by k_R is [α_s(k_R² Q²_R) / α_s(Q²_R)]², with Pythia's own
    running (its α_s(M_Z), order and flavour thresholds; checked against each event's α_s); a μ_F variation
    by k_F is the ratio of the incoming partons' x·f at k_F² Q²_F to those at Q²_F, from the PDF Pythia uses;
    a PDF alternative is the ratio of another set's x·f at Q²_F. The hard process's α_s stays Pythia's.
    """

    def __init__(self, pythia, alternatives: Sequence[int] = PDF_ALTERNATIVES) -> None:
        import pythia8mc

        settings = pythia.settings
        nf = settings.mode("StandardModel:alphaSnfmax") if settings.isMode("StandardModel:alphaSnfmax") else 6
        self.alpha = pythia8mc.AlphaStrong()
        self.alpha.init(settings.parm("SigmaProcess:alphaSvalue"), settings.mode("SigmaProcess:alphaSorder"), nf, False)
        self.pdf = pythia.getPDFPtr(2212, 1, "A")
        self.others = []
        for k in alternatives:  # a PDF set is a Pythia of its own: only its PDF is used
            other = pythia8mc.Pythia("", False)
            for line in (f"PDF:pSet = {k}", "Print:quiet = on", "ProcessLevel:all = off"):
                other.readString(line)
            if not other.init():
                raise ConfigError(f"Pythia has no PDF set PDF:pSet = {k}")
            self.others.append((other, other.getPDFPtr(2212, 1, "A")))
        self.set = variation_set(alternatives)

    def ratios(self, info: ak.Array) -> np.ndarray:
        """(n, 9 + alternatives) ratios of a batch of `Pythia.nextBatch`'s event info."""
        cols = {k: ak.to_numpy(info[k]) for k in ("id1", "id2", "x1", "x2", "pdf1", "pdf2", "alphaS", "Q2Fac", "Q2Ren")}
        n = len(cols["x1"])
        a0 = np.array([self.alpha.alphaS(q) for q in cols["Q2Ren"]])
        if not np.allclose(a0, cols["alphaS"], rtol=1e-9):
            raise ConfigError("Pythia's α_s is not the running lhcgan computes: the μ_R weights would be wrong",
                              hint="report this with the Pythia version")
        f0 = cols["pdf1"] * cols["pdf2"]

        def xf(pdf, k_f: float) -> np.ndarray:
            return np.array([pdf.xf(int(i1), x1, k_f**2 * q) * pdf.xf(int(i2), x2, k_f**2 * q)
                             for i1, i2, x1, x2, q in zip(cols["id1"], cols["id2"], cols["x1"], cols["x2"], cols["Q2Fac"])])

        alpha = {k: (np.array([self.alpha.alphaS(k**2 * q) for q in cols["Q2Ren"]]) / a0) ** 2 for k in (0.5, 2.0)}
        alpha[1.0] = np.ones(n)
        pdf = {k: xf(self.pdf, k) / f0 for k in (0.5, 2.0)}
        pdf[1.0] = np.ones(n)
        out = [alpha[r] * pdf[f] for r, f in SCALE_POINTS]
        out += [xf(other_pdf, 1.0) / f0 for _, other_pdf in self.others]
        return np.stack(out, axis=1)


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


def _copy_without_local_paths(src: BinaryIO, dst: BinaryIO, info: dict | None = None) -> None:
    """Copy Pythia's LHEF output, dropping the header line with this machine's install path, and
    adding lhcgan's run information (``info``, as JSON in an ``<lhcgan>`` block) to the header.

    Without the path the same seed gives the same bytes on every machine.
    """
    import json

    for line in src:
        if line.startswith(b"# xmlPath"):
            continue
        if line.startswith(b"</header>") and info:
            dst.write(b"<lhcgan>\n" + json.dumps(info).encode() + b"\n</lhcgan>\n")
        dst.write(line)
        if line.startswith(b"<init>"):
            break
    shutil.copyfileobj(src, dst, 1 << 22)


def iterate_pythia(pythia, n_events: int, report: ReadReport, *, batch: int = 10_000,
                   progress: bool = False, meta: dict | None = None, weighted: bool = False,
                   process: Process = TTBAR, variations: LOVariations | None = None) -> Iterator[Events]:
    """Run ``pythia`` until ``n_events`` events of ``process`` are accepted, and yield them as `Events` chunks.

    Uses `Pythia.nextBatch`, which returns the event records as awkward arrays, so
    the decay chain is followed for a whole batch at once; ``report`` is updated.
    With ``weighted`` each event carries Pythia's event weight (biased generation); with ``variations``
    its exact leading-order scale and PDF variation weights.
    """
    from tqdm import tqdm

    done = 0
    with tqdm(total=n_events, unit="ev", disable=not progress, desc="pythia") as bar:
        while done < n_events:
            if report.read >= 20 * batch and report.accepted < 0.001 * report.read:
                raise ConfigError(f"Pythia made {report.read} events, {report.accepted} of them of "
                                  f"{process.name}; check the settings")
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
            sel = find_slots(flat["id"], mother, ev, n, process)
            w = ak.to_numpy(batch_events.info.weights[:, 0])[sel.accepted] if weighted else None
            idx = sel.index[sel.accepted][: n_events - done]
            w = None if w is None else w[: len(idx)]
            ratios = None
            if variations is not None:
                ratios = variations.ratios(batch_events.info[sel.accepted][: len(idx)])
                report.variations = variations.set.summary()
            events = Events(p[idx], flat["id"][idx], w, process, dict(meta or {}), variations=ratios,
                            variation_set=None if ratios is None else variations.set)
            # the events past the last one kept were generated but not used: not read, not skipped
            used = n if len(idx) == sel.accepted.sum() else int(np.nonzero(sel.accepted)[0][len(idx) - 1]) + 1
            skipped = Counter(sel.skipped) if used == n else Counter(
                sel.reasons[:used][~sel.accepted[:used]].tolist())
            report.add(used, len(events), skipped, w, events.channel_counts())
            done += len(events)
            bar.update(len(events))
            yield events


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
    channel: str = "allhad",
    mt: float | None = None,
    mw: float | None = None,
    variations: bool = False,
    settings: Sequence[str] = (),
) -> ReadReport:
    """Generate ``n_events`` tt̄ events of ``channel`` (one of `TTBAR`'s channels, or "all") with Pythia 8.

    ``.root`` gets lhcgan's TTree. ``.lhe`` / ``.lhe.gz`` get Pythia's own LHEF 3.0
    record by default, which keeps the true initial state (gg or qq̄) and scales;
    ``pythia_lhef=False`` writes lhcgan's LHE instead (faster, gg initial state).
    Returns the read report (the rare CKM-suppressed t → W s/d and W → q b decays
    are counted as skipped; in Pythia's LHEF they stay in the file).
    ``bias``, ``isr``, ``mt`` and ``mw``: see `pythia_settings`; the file's metadata records them,
    with the pole masses Pythia ran at ("masses"), which readers give the events' process (its
    in-peak windows and decay parametrisation). ROOT output holds exactly ``n_events`` events of
    the channel; Pythia's LHE holds every event Pythia made (ℓ+jets: of every channel, read back
    as the channel with the others counted as skipped), so ``channel="ljets"`` writes lhcgan's LHE.
    ``variations`` gives every event its exact leading-order 9-point scale and PDF-alternative weights
    (`LOVariations`), in lhcgan's ROOT or LHE (not Pythia's own record). ``settings`` are extra Pythia
    settings, e.g. ``SigmaProcess:renormMultFac = 4`` for a sample made at 2 μ_R.
    """
    if n_events <= 0:
        raise ConfigError(f"--events must be positive, got {n_events}")
    path = Path(path)
    fmt = output_format(path)
    process = channel_process(channel)
    pythia = make_pythia([*pythia_settings(ecm, seed, bias=bias, isr=isr, process=process, mt=mt, mw=mw), *settings])
    masses = {"t": pythia.particleData.m0(6), "W": pythia.particleData.m0(24)}
    process = process.with_masses(masses)
    meta = {"source": f"lhcgan simulate (Pythia 8, seed {seed})", "seed": seed, "ecm": ecm, "bias": bias, "isr": isr,
            "channel": channel, "masses": masses}
    if settings:
        meta["pythia_settings"] = list(settings)
    exact = makes_only(process)
    if variations and pythia_lhef:
        raise ConfigError("Pythia's own LHEF record cannot carry lhcgan's variation weights",
                          hint="write .root, or lhcgan's LHE (--lhcgan-lhe)")
    if pythia_lhef is None:
        pythia_lhef = fmt == "lhe" and exact and not variations
    if not pythia_lhef:
        report = ReadReport(os.fspath(path))
        chunks = iterate_pythia(pythia, n_events, report, progress=progress, meta=meta, weighted=bias is not None,
                                process=process, variations=LOVariations(pythia) if variations else None)

        def with_xsec() -> Iterator[Events]:  # σ is known once events exist: that of the accepted events
            for chunk in chunks:
                share = report.accepted / report.read
                chunk.meta["cross_section_pb"] = pythia.infoPython().sigmaGen() * 1e9 * share
                chunk.meta["cross_section_error_pb"] = pythia.infoPython().sigmaErr() * 1e9 * share
                yield chunk

        write(with_xsec(), path)
        return report
    if fmt != "lhe":
        raise ConfigError("Pythia's own LHEF record can only be written to .lhe or .lhe.gz")
    with atomic_output(path) as tmp:
        raw = tmp.with_name(tmp.name + ".lhe")
        try:
            _run_to_lhe(pythia, n_events, raw, progress)
            reader = open_reader(raw, process=process)
            for _ in reader:  # count accepted and skipped events
                pass
            gz = path.name.endswith(".gz")
            info = {k: meta[k] for k in ("source", "seed", "channel", "masses", "bias", "isr")}
            with open(raw, "rb") as src, (open_gzip(tmp, level=9) if gz else open(tmp, "wb")) as dst:
                _copy_without_local_paths(src, dst, info)
        finally:
            raw.unlink(missing_ok=True)
    reader.report.path = os.fspath(path)
    return reader.report
