import gzip
import re
from collections import Counter

import numpy as np
import pylhe
import pytest

import lhcgan
from lhcgan.writing.lhe import write_lhe


@pytest.fixture(scope="module")
def written(ttbar, tmp_path_factory):
    path = tmp_path_factory.mktemp("lhe") / "out.lhe"
    assert write_lhe(ttbar, path) == len(ttbar)
    return path


@pytest.fixture(scope="module", params=["balanced", "isr", "ljets", "dilep"])
def showerable(request, ttbar, all_channels, tmp_path_factory):
    """LHE written from the balanced Pythia sample, from one with ISR, whose tt̄ system recoils, and from
    the ℓ+jets and dilepton events of a full-decay sample (colourless leptons)."""
    d = tmp_path_factory.mktemp("lhe_" + request.param)
    if request.param == "balanced":
        events = ttbar
    elif request.param in ("ljets", "dilep"):
        events = all_channels.channel(request.param)
        assert len(events) > 50
    else:
        from lhcgan.simulate import simulate

        simulate(400, d / "isr.root", seed=9, isr=True)
        events = lhcgan.read(d / "isr.root")
        assert np.median(lhcgan.physics.pt_balance(events.momenta)) > 1e-2
    path = d / "out.lhe"
    assert write_lhe(events, path) == len(events)
    np.testing.assert_allclose(lhcgan.read(path).momenta, events.momenta, rtol=1e-9, atol=1e-8)
    return path


def test_round_trip(ttbar, written, tmp_path):
    again = lhcgan.read(written)
    np.testing.assert_array_equal(again.pdg, ttbar.pdg)
    np.testing.assert_allclose(again.momenta, ttbar.momenta, rtol=1e-9, atol=1e-8)
    assert again.meta["ecm"] == 13000
    assert again.flavour_fractions() == ttbar.flavour_fractions()
    path2 = tmp_path / "again.lhe.gz"
    write_lhe(again, path2)
    assert gzip.open(path2).read(5) == b"<LesH"
    np.testing.assert_array_equal(lhcgan.read(path2).momenta, again.momenta)


def colour_lines_are_consistent(particles) -> bool:
    """Colour flows from the incoming partons to the final state, and through every decay.

    Among incoming and final partons each tag appears exactly twice: as the same
    kind across the two sides, or as colour + anticolour on one side. A resonance
    hands its colour tags on to its daughters.
    """

    def paired(ends: list[tuple[bool, bool]]) -> bool:
        (in1, a1), (in2, a2) = ends
        return (in1 == in2) != (a1 == a2)

    seen: dict[int, list[tuple[bool, bool]]] = {}
    for p in particles:
        if p.status in (-1, 1):
            for tag, anti in ((p.color1, False), (p.color2, True)):
                if tag:
                    seen.setdefault(int(tag), []).append((p.status == -1, anti))
    if not all(len(ends) == 2 and paired(ends) for ends in seen.values()):
        return False
    for i, p in enumerate(particles):
        if p.status == 2:
            kids = [q for q in particles if q.mother1 == i + 1]
            out = Counter((int(t), a) for q in kids for t, a in ((q.color1, False), (q.color2, True)) if t)
            for tag, anti in ((p.color1, False), (p.color2, True)):
                if tag and out.pop((int(tag), anti), 0) != 1:
                    return False
            # a colour-singlet pair created in the decay: each new tag as colour and anticolour
            if any(out[(t, not a)] != 1 for t, a in out):
                return False
    return True


def test_structure_showers_need(showerable):
    f = pylhe.LHEFile.fromfile(showerable, with_attributes=False)
    assert f.init.initInfo.beamA == 2212 and f.init.initInfo.energyA == 6500
    for k, ev in enumerate(f.events):
        parts = ev.particles
        assert ev.eventinfo.scale > 0
        assert [p.status for p in parts[:2]] == [-1, -1]
        for p in parts[:2]:
            assert 0 < abs(p.pz) <= 6500 and p.px == p.py == 0
        ids = [int(p.id) for p in parts]
        for res in (6, -6, 24, -24):
            assert parts[ids.index(res)].status == 2
        for p in parts:
            m = np.sqrt(max(p.e**2 - p.px**2 - p.py**2 - p.pz**2, 0))
            assert m == pytest.approx(p.m, abs=3e-6 * p.e)
            if p.mother1 > 0:  # each daughter's mother is its resonance (1-based)
                mother = parts[int(p.mother1) - 1]
                # resonances decay; the tops and a recoil gluon come from the incoming gluons
                assert mother.status == 2 or (p.id in (6, -6, 21) and mother.status == -1)
        # t → W b and W → q q̄′: daughters sum to the mother
        for i, p in enumerate(parts):
            if p.status == 2:
                kids = [q for q in parts if q.mother1 == i + 1]
                assert len(kids) == 2
                total = sum(q.e for q in kids)
                assert total == pytest.approx(p.e, rel=1e-8)
        assert colour_lines_are_consistent(parts)
        # four-momentum is conserved: the incoming gluons carry every outgoing particle (a recoil gluon included)
        p_in = sum(np.array([p.e, p.px, p.py, p.pz]) for p in parts if p.status == -1)
        p_out = sum(np.array([p.e, p.px, p.py, p.pz]) for p in parts if p.status == 1)
        np.testing.assert_allclose(p_in, p_out, atol=1e-6 * p_in[0])
        if k == 300:
            break


def test_pythia_showers_the_file(showerable, capfd):
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for s in ("Beams:frameType = 4", f"Beams:LHEF = {showerable}", "Next:numberCount = 0", "Next:numberShowEvent = 0"):
        assert pythia.readString(s)
    assert pythia.init()
    events = lhcgan.read(showerable)
    n_events = len(events)
    # charged leptons of each event in the file, in order: Pythia reads the events one by one
    expected = np.isin(np.abs(events.pdg), [11, 13]).sum(axis=1)

    def from_w(event, i: int) -> bool:
        while abs(event[i].id()) in (11, 13):  # up the lepton's copies (QED radiation) to where it was made
            i = event[i].mother1()
        return abs(event[i].id()) == 24

    n_ok = n_fail = n_hadrons = n_leptons = 0
    while n_ok + n_fail < 300:
        if pythia.next():
            n_ok += 1
            n_hadrons += sum(1 for p in pythia.event if p.isFinal() and p.isHadron())
            # charged leptons from a W: their mother chain reaches the W line of the file
            n_leptons += sum(1 for i, p in enumerate(pythia.event) if p.isFinal() and abs(p.id()) in (11, 13)
                             and from_w(pythia.event, i))
        elif pythia.infoPython().atEndOfFile():
            break
        else:
            n_fail += 1
    pythia.stat()
    out = capfd.readouterr().out
    assert n_ok == min(300, n_events) and n_fail == 0 and n_hadrons > n_ok * 20  # showered and hadronised
    assert n_leptons == expected[:n_ok].sum()  # every lepton of the file showered, none made up
    problems = [ln for ln in out.splitlines() if re.search(r"\|\s+\d+\s+(Error|Abort)", ln)
                and "end of Les Houches Events File" not in ln]  # a file shorter than 300 events ends
    assert not problems, problems
    # no warnings but hadron-width notes and, in at most 1 % of events, Pythia's own rounding after
    # hadronisation (the input conserves four-momentum to 1e-6, checked above)
    for n, what in re.findall(r"\|\s+(\d+)\s+Warning in ([^|]*)", out):
        assert "HadronWidths" in what or ("not quite conserved" in what and int(n) <= 3), what


def test_unphysical_initial_state_is_dropped(ttbar, tmp_path):
    momenta = ttbar.momenta[:20].copy()
    momenta[3, :, 2] += 20000.0  # needs x₁ > 1
    ev = lhcgan.Events(momenta, ttbar.pdg[:20])
    with pytest.warns(UserWarning, match="dropped 1 events"):
        assert write_lhe(ev, tmp_path / "x.lhe") == 19


def test_flavours_follow_the_events(ttbar, tmp_path):
    path = tmp_path / "f.lhe"
    write_lhe(ttbar, path)
    ids = Counter()
    for ev in pylhe.LHEFile.fromfile(path, with_attributes=False).events:
        for p in ev.particles:
            if p.status == 1 and abs(p.id) in (1, 2, 3, 4):
                ids[int(p.id)] += 1
    n = len(ttbar)
    assert ids[2] + ids[4] == n and ids[-1] + ids[-3] == n  # W+ → up-type + anti-down-type
    assert ids[4] / n == pytest.approx(np.mean(ttbar.pdg[:, 1] == 4))


def test_full_disk_leaves_no_file(ttbar, tmp_path, monkeypatch):
    import errno

    from lhcgan.errors import OutputError
    from lhcgan.writing import lhe as lhe_module

    real = lhe_module._event_table
    calls = {"n": 0}

    def table_then_fail(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(lhe_module, "_event_table", table_then_fail)
    path = tmp_path / "ev.lhe.gz"
    with pytest.raises(OutputError, match="free disk space"):
        write_lhe((ttbar[i : i + 1000] for i in range(0, 3000, 1000)), path)
    assert not any(tmp_path.iterdir())
