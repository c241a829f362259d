import gzip
from collections import Counter
import re
from pathlib import Path

import numpy as np
import pytest

import lhcgan
from lhcgan.errors import FileMissingError, MalformedFileError, NonFiniteError, TruncatedFileError, WrongProcessError
from lhcgan.reading import LHEReader
from lhcgan.process import TAU_MASS
from lhcgan.reading.decay import NO_MODE, TOP_CKM, W_CKM, not_selected
from lhcgan.simulate import make_pythia, pythia_settings
from tests.shared import NON_TTBAR_LHE, shared_file

EVENT = re.compile(r"<event>\n(.*?)</event>", re.S)


def edit_events(src: Path, dst: Path, edit) -> None:
    """Copy an LHE file, passing each event's lines (header, particles, rest) through ``edit``."""
    text = src.read_text()

    def repl(match: re.Match) -> str:
        lines = match.group(1).splitlines()
        n = int(lines[0].split()[0])
        head, particles, rest = lines[0], lines[1 : 1 + n], lines[1 + n :]
        head, particles, rest = edit(head, particles, rest)
        return "<event>\n" + "\n".join([head, *particles, *rest]) + "\n</event>"

    dst.write_text(EVENT.sub(repl, text))


def robust_peak(m: np.ndarray, width: float) -> float:
    """Peak position: the median of the events within ±width of the running estimate."""
    centre = np.median(m)
    for _ in range(5):
        centre = np.median(m[np.abs(m - centre) < width])
    return float(centre)


def test_masses_peak_at_generator_values(ttbar):
    pythia = make_pythia(pythia_settings(13000, 1))
    m_w, m_t = pythia.particleData.m0(24), pythia.particleData.m0(6)
    masses = ttbar.resonance_masses()
    for k, m0 in enumerate([m_w, m_w, m_t, m_t]):
        width = 2.085 if k < 2 else 1.42
        assert abs(robust_peak(masses[:, k], width) - m0) < 0.5


def test_report_and_weights(ttbar):
    r = ttbar.report
    assert r.read == 3000 and r.accepted == len(ttbar)
    assert r.accepted + sum(r.skipped.values()) == r.read
    assert set(r.skipped) <= {TOP_CKM, W_CKM}  # hadronic W only: just CKM-suppressed decays are skipped
    assert 0.99 < r.accepted / r.read < 1
    assert ttbar.meta["ecm"] == 13000 and ttbar.meta["generator"] == "PYTHIA"
    assert (ttbar.pdg[:, 0] == 5).all() and (ttbar.pdg[:, 3] == -5).all()


def test_six_quarks_balance_the_event(ttbar):
    # parton level without ISR: the six quarks carry no net transverse momentum
    assert np.median(lhcgan.physics.pt_balance(ttbar.momenta)) < 1e-6


def test_line_order_does_not_matter(ttbar_lhe, ttbar, tmp_path):
    rng = np.random.default_rng(3)

    def shuffle(head, particles, rest):
        order = rng.permutation(len(particles))
        new_pos = np.empty_like(order)
        new_pos[order] = np.arange(len(order))
        out = []
        for i in order:
            cols = particles[i].split()
            for c in (2, 3):
                m = int(cols[c])
                cols[c] = str(new_pos[m - 1] + 1 if m > 0 else 0)
            out.append(" ".join(cols))
        return head, out, rest

    shuffled = tmp_path / "shuffled.lhe"
    edit_events(ttbar_lhe, shuffled, shuffle)
    again = lhcgan.read(shuffled)
    np.testing.assert_array_equal(again.momenta, ttbar.momenta)
    np.testing.assert_array_equal(again.pdg, ttbar.pdg)


def make_leptonic(ttbar_lhe: Path, dst: Path, nu: str, lepton: str) -> None:
    """Every fourth event's W⁺ → ``lepton`` ``nu`` (colourless), the rest as they are."""
    count = {"n": 0}

    def edit(head, particles, rest):
        count["n"] += 1
        if count["n"] % 4 == 0:
            w = next(i for i, p in enumerate(particles) if p.split()[0] == "24")
            daughters = [i for i, p in enumerate(particles) if p.split()[2] == str(w + 1)]
            for i in daughters:
                cols = particles[i].split()
                cols[0] = lepton if int(cols[0]) < 0 else nu
                cols[4] = cols[5] = "0"
                particles[i] = " ".join(cols)
        return head, particles, rest

    edit_events(ttbar_lhe, dst, edit)


def test_leptonic_events_are_read_as_their_channel(ttbar_lhe, tmp_path):
    path = tmp_path / "semi.lhe"
    make_leptonic(ttbar_lhe, path, "12", "-11")
    ev = lhcgan.read(path)
    lep = ev.pdg[:, 2] == -11
    n_lep = ev.report.channels["ljets"]
    assert n_lep == lep.sum() and 740 <= n_lep <= 750  # a few of the 750 are CKM-suppressed, skipped as before
    assert ev.report.channels["allhad"] == len(ev) - n_lep
    assert (ev.pdg[lep, 1] == 12).all()  # ν where the up-type quark sits, e⁺ where the anti-down-type one does
    assert ev.process.name == "ttbar:allhad+ljets"  # restricted to the channels present
    assert f"{n_lep} ljets" in ev.report.summary()
    # massless leptons, like the quarks: the W⁺ mass is what the file's four-momenta give
    assert abs(np.median(ev.resonance_masses()[lep, 0]) - 80.4) < 1.0
    only = lhcgan.read(path, channels=["allhad"])
    assert only.report.skipped[not_selected("ljets")] == n_lep and len(only) == len(ev) - n_lep


def test_tau_events_are_read_as_their_channel_with_the_tau_mass(ttbar_lhe, tmp_path):
    path = tmp_path / "tau.lhe"
    make_leptonic(ttbar_lhe, path, "16", "-15")
    ev = lhcgan.read(path)
    tau = ev.pdg[:, 2] == -15
    assert ev.report.channels["taujets"] == tau.sum() and 740 <= tau.sum() <= 750  # a few CKM-suppressed, skipped
    assert ev.report.accepted == ev.report.read - sum(ev.report.skipped.values())
    # the τ is on its own mass shell, its ν_τ and every other lepton and light quark massless
    p4 = ev.to_four_momenta()
    m = np.sqrt(np.clip(p4[..., 0] ** 2 - (p4[..., 1:] ** 2).sum(-1), 0, None))
    np.testing.assert_allclose(m[tau, 2], TAU_MASS, rtol=1e-6)
    np.testing.assert_allclose(m[~tau, 2], 0, atol=1e-3)
    assert (ev.masses[tau, 2] == TAU_MASS).all() and (ev.masses[:, 1] == 0).all()
    only = lhcgan.read(path, channels=["allhad"])
    assert only.report.skipped[not_selected("taujets")] == tau.sum()


def test_mismatched_leptons_are_skipped_and_counted(ttbar_lhe, tmp_path):
    path = tmp_path / "mixed.lhe"
    make_leptonic(ttbar_lhe, path, "12", "-13")
    ev = lhcgan.read(path)
    assert 740 <= ev.report.skipped[NO_MODE] <= 750  # a few are CKM-suppressed, counted as such first
    assert ev.report.accepted == ev.report.read - sum(ev.report.skipped.values())
    make_leptonic(ttbar_lhe, path, "16", "-13")  # ν_τ μ⁺: no mode either, a τ does not rescue it
    assert 740 <= lhcgan.read(path).report.skipped[NO_MODE] <= 750


def test_streaming_in_small_chunks_gives_the_same_events(ttbar_lhe, ttbar):
    reader = LHEReader(ttbar_lhe, chunk_bytes=100_000)
    chunks = list(reader)
    assert len(chunks) > 10
    joined = lhcgan.Events.concatenate(chunks)
    np.testing.assert_array_equal(joined.momenta, ttbar.momenta)
    assert reader.report.read == 3000


def test_gzip_is_detected_by_content(ttbar_lhe, ttbar, tmp_path):
    gz = tmp_path / "sample.dat"
    gz.write_bytes(gzip.compress(ttbar_lhe.read_bytes()))
    np.testing.assert_array_equal(lhcgan.read(gz).momenta, ttbar.momenta)


def test_lhef_1_0_header(ttbar_lhe, tmp_path):
    path = tmp_path / "v1.lhe"
    path.write_text(ttbar_lhe.read_text().replace('version="3.0"', 'version="1.0"'))
    assert len(lhcgan.read(path)) > 2900


@pytest.mark.parametrize("name", NON_TTBAR_LHE)
def test_other_processes_give_a_clear_error(name):
    path = shared_file(name)
    with pytest.raises(WrongProcessError, match=r"0 of \d+ events contain a tt̄ decay") as info:
        lhcgan.read(path)
    assert "\n" not in str(info.value) and path in str(info.value)


def test_missing_file():
    with pytest.raises(FileMissingError, match="no such file"):
        lhcgan.read("does/not/exist.lhe")


def test_truncated_gzip(ttbar_lhe, tmp_path):
    data = gzip.compress(ttbar_lhe.read_bytes())
    path = tmp_path / "cut.lhe.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedFileError, match="gzip stream ends early"):
        lhcgan.read(path)


def test_truncated_plain_file(ttbar_lhe, tmp_path):
    text = ttbar_lhe.read_text()
    path = tmp_path / "cut.lhe"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(TruncatedFileError, match=r"ends after event \d+"):
        lhcgan.read(path)


def test_missing_end_tag_is_malformed(ttbar_lhe, tmp_path):
    text = ttbar_lhe.read_text()
    cut = [m.start() for m in re.finditer("</event>", text)][10]
    path = tmp_path / "bad.lhe"
    path.write_text(text[:cut] + text[cut + len("</event>") :])
    with pytest.raises(MalformedFileError, match="event 10: malformed event: no </event>"):
        lhcgan.read(path)


def test_malformed_particle_line(ttbar_lhe, tmp_path):
    n = {"i": 0}

    def corrupt(head, particles, rest):
        n["i"] += 1
        if n["i"] == 1235:
            particles[4] = particles[4].replace(" ", " x", 1)
        return head, particles, rest

    path = tmp_path / "bad.lhe"
    edit_events(ttbar_lhe, path, corrupt)
    with pytest.raises(MalformedFileError, match="event 1234: malformed event: unreadable particle lines"):
        lhcgan.read(path)


def test_nan_momentum(ttbar_lhe, tmp_path):
    n = {"i": 0}

    def poison(head, particles, rest):
        n["i"] += 1
        if n["i"] == 100:
            cols = particles[6].split()
            cols[7] = "nan"
            particles[6] = " ".join(cols)
        return head, particles, rest

    path = tmp_path / "nan.lhe"
    edit_events(ttbar_lhe, path, poison)
    with pytest.raises(NonFiniteError, match="event 99: NaN or infinite momentum"):
        lhcgan.read(path)


def test_not_an_lhe_file(tmp_path):
    path = tmp_path / "notes.lhe"
    path.write_text("hello\n" * 100)
    with pytest.raises(MalformedFileError, match="not an LHE file"):
        lhcgan.read(path)


def test_a_full_decay_sample_is_read_channel_by_channel(tmp_path):
    """Pythia 8 with every W decay (τ included), Pythia's own LHEF: each event's channel, from its own lines."""
    from lhcgan.simulate import SETTINGS, _run_to_lhe

    path = tmp_path / "full.lhe"
    _run_to_lhe(make_pythia(["Beams:eCM = 13000", "Random:setSeed = on", "Random:seed = 5", *SETTINGS]), 600, path,
                False)
    ev = lhcgan.read(path)
    # count from the text: the W daughters of each event (mother line holds ±24)
    expect = Counter()
    for match in EVENT.finditer(path.read_text()):
        rows = [ln.split() for ln in match.group(1).splitlines()[1:] if ln.strip() and not ln.startswith("<")]
        rows = [r for r in rows if len(r) == 13]
        w_lines = {str(i + 1) for i, r in enumerate(rows) if abs(int(r[0])) == 24}
        kids = [abs(int(r[0])) for r in rows if r[2] in w_lines and abs(int(r[0])) != 24]
        if not any(k == 5 for k in kids):  # W → q b is skipped as off-diagonal CKM
            light, taus = sum(k in (11, 12, 13, 14) for k in kids) // 2, sum(k in (15, 16) for k in kids) // 2
            expect[{(0, 0): "allhad", (1, 0): "ljets", (2, 0): "dilep", (0, 1): "taujets"}.get((light, taus),
                                                                                             "taudilep")] += 1
    # every W decay is read: the events skipped are the off-diagonal CKM ones alone
    assert set(ev.report.skipped) <= {TOP_CKM, W_CKM}
    assert expect["taujets"] > 60 and expect["taudilep"] > 5  # about one W in nine decays to τν
    for name in ("allhad", "ljets", "dilep", "taujets", "taudilep"):
        # the text count does not see t → W s/d, which the reader skips: at most a few events apart
        assert abs(ev.report.channels[name] - expect[name]) <= 3, name
    assert ev.report.channels["dilep"] > 10 and ev.process.name == "ttbar"


def test_pole_masses_from_the_header():
    from lhcgan.reading.lhe import header_masses

    slha = b"""<header><MGParamCard>
BLOCK MASS #
      5 4.700000e+00 # mb
      6 1.725000e+02 # mt
     24 7.982440e+01 # mw
DECAY   6 1.491500e+00 # wt
</MGParamCard></header>"""
    assert header_masses(slha) == {"t": 172.5, "W": 79.8244}
    assert header_masses(b'<lhcgan>\n{"masses": {"t": 175.0, "W": 80.0}}\n</lhcgan>') == {"t": 175.0, "W": 80.0}
    assert header_masses(b"<header># nothing here\n</header>") == {}
    assert header_masses(b"<lhcgan>{not json</lhcgan>") == {}
