import json

import numpy as np
import pytest
import uproot

import lhcgan
from lhcgan.errors import ConfigError
from lhcgan.simulate import simulate


def test_same_seed_same_events_other_seed_other_events(tmp_path):
    a = simulate(300, tmp_path / "a.root", seed=7)
    simulate(300, tmp_path / "b.root", seed=7)
    simulate(300, tmp_path / "c.root", seed=8)
    ea, eb, ec = (lhcgan.read(tmp_path / f"{x}.root") for x in "abc")
    assert a.accepted == len(ea) == 300 and a.read == 300 + sum(a.skipped.values())  # exactly N events written
    np.testing.assert_array_equal(ea.momenta, eb.momenta)
    assert ec.momenta.shape != ea.momenta.shape or not np.allclose(ec.momenta, ea.momenta)
    meta = json.loads(str(uproot.open(tmp_path / "a.root")["lhcgan_metadata"]))
    assert meta["seed"] == 7 and meta["ecm"] == 13000 and meta["cross_section_pb"] > 100


def test_lhe_gz_output_and_ecm(tmp_path):
    report = simulate(200, tmp_path / "s.lhe.gz", ecm=8000, seed=3)
    ev = lhcgan.read(tmp_path / "s.lhe.gz")
    assert ev.meta["ecm"] == 8000 and report.accepted == len(ev)
    # at 8 TeV the tt̄ system is lighter than the collider
    assert np.all(ev.to_four_momenta().sum(axis=1)[:, 0] < 8000)


def test_bad_options(tmp_path):
    with pytest.raises(ConfigError, match="seed"):
        simulate(10, tmp_path / "x.root", seed=-1)
    with pytest.raises(ConfigError, match="positive"):
        simulate(0, tmp_path / "x.root")
    assert not any(tmp_path.iterdir())


def test_batch_path_matches_pythias_own_lhef(tmp_path):
    # the same seed through nextBatch (→ ROOT) and through Pythia's LHEF writer (→ LHE)
    r1 = simulate(500, tmp_path / "a.root", seed=21)
    r2 = simulate(500, tmp_path / "a.lhe", seed=21)
    # ROOT holds 500 accepted events; Pythia's LHEF the 500 events made, of which a few are CKM-suppressed
    assert r1.accepted == 500 and r2.read == 500 and r2.accepted == 500 - sum(r2.skipped.values())
    a, b = lhcgan.read(tmp_path / "a.root"), lhcgan.read(tmp_path / "a.lhe")
    np.testing.assert_array_equal(a.pdg[: len(b)], b.pdg)
    np.testing.assert_allclose(a.momenta[: len(b)], b.momenta, rtol=1e-6, atol=1e-4)


def test_lhcgan_lhe_output(tmp_path):
    report = simulate(300, tmp_path / "g.lhe", seed=2, pythia_lhef=False)
    ev = lhcgan.read(tmp_path / "g.lhe")
    assert len(ev) == report.accepted and ev.report.skipped == {}
    assert "<lhcgan>" in (tmp_path / "g.lhe").read_text()[:300]


def test_biased_sample_is_weighted_back_to_the_unbiased_spectrum(tmp_path):
    plain, biased = tmp_path / "plain.root", tmp_path / "biased.root"
    simulate(4000, plain, seed=21)
    report = simulate(4000, biased, seed=22, bias=2.0)
    assert report.weighted and report.effective_size < 0.5 * report.accepted
    ep, eb = lhcgan.read(plain), lhcgan.read(biased)
    assert eb.weights.min() > 0 and eb.weights.max() / eb.weights.min() > 10
    m_p = lhcgan.physics.invariant_mass(ep.momenta, ep.masses)
    m_b = lhcgan.physics.invariant_mass(eb.momenta, eb.masses)
    assert np.mean(m_b > 700) > 2 * np.mean(m_p > 700)  # the bias fills the tail
    weighted_tail = np.sum(eb.weights * (m_b > 700)) / eb.weights.sum()
    assert weighted_tail == pytest.approx(np.mean(m_p > 700), rel=0.25)  # and the weights take it back
    meta = json.loads(str(uproot.open(biased)["lhcgan_metadata"]))
    assert meta["bias"] == 2.0 and meta["isr"] is False
    with pytest.raises(ConfigError, match="--bias"):
        simulate(10, tmp_path / "x.root", bias=-1.0)


def test_isr_sample_recoils(tmp_path):
    simulate(500, tmp_path / "isr.root", seed=23, isr=True)
    ev = lhcgan.read(tmp_path / "isr.root")
    s = lhcgan.physics.momentum_sum(ev.momenta)
    assert np.median(np.hypot(s[:, 0], s[:, 1])) > 10  # GeV: the tt̄ system recoils against the radiation
    # the recoil copies of the tops were followed to the copies that decay: the peaks sit where they belong
    assert np.median(ev.resonance_masses(), axis=0) == pytest.approx([80.4, 80.4, 173.0, 173.0], abs=0.5)


@pytest.mark.parametrize("channel", ["allhad", "ljets", "dilep"])
@pytest.mark.parametrize("suffix", [".root", ".lhe"])
def test_channels_give_their_decays(tmp_path, channel, suffix):
    path = tmp_path / f"{channel}{suffix}"
    report = simulate(400, path, seed=31, channel=channel)
    ev = lhcgan.read(path)
    assert set(ev.channel_counts()) == {channel} and len(ev) == report.accepted
    assert report.accepted == 400 or suffix == ".lhe"
    lep = np.isin(np.abs(ev.pdg), [11, 12, 13, 14])
    assert lep.sum(axis=1).tolist() == [{"allhad": 0, "ljets": 2, "dilep": 4}[channel]] * len(ev)
    if channel == "ljets":  # both charge assignments, about equally often
        plus = lep[:, 1].mean()
        assert 0.4 < plus < 0.6
    # massless leptons and neutrinos: the W peaks as in every channel
    assert np.median(ev.resonance_masses()[:, :2]) == pytest.approx(80.385, abs=0.5)


def test_all_channels_in_their_proportions(tmp_path):
    report = simulate(3000, tmp_path / "all.lhe", seed=32, channel="all")
    f = {k: v / report.accepted for k, v in report.channels.items()}
    # BR(W → q q̄′) 67.4 %, e ν and μ ν 2 × 10.8 %, τ ν 10.8 % (PDG; Pythia's differ by its own rounding)
    had, light, tau = 0.674, 0.216, 0.108
    had, light, tau = np.array([had, light, tau]) / (had + light + tau)
    expected = {"allhad": had**2, "ljets": 2 * had * light, "dilep": light**2, "taujets": 2 * had * tau,
                "taudilep": tau**2 + 2 * tau * light}
    assert sum(expected.values()) == pytest.approx(1) and set(f) == set(expected)  # every W decay, τ included
    for name, expect in expected.items():
        assert f[name] == pytest.approx(expect, abs=4 * np.sqrt(expect * (1 - expect) / 3000) + 0.01), name
    assert f"{report.channels['ljets']} ljets" in report.summary()


def test_masses_are_set_and_recorded(tmp_path):
    simulate(300, tmp_path / "m.root", seed=33, mt=175.0, mw=80.0)
    simulate(300, tmp_path / "m.lhe", seed=33, mt=175.0, mw=80.0)
    for path in (tmp_path / "m.root", tmp_path / "m.lhe"):
        ev = lhcgan.read(path)
        assert ev.process.pole_masses() == {"t": 175.0, "W": 80.0} == ev.meta["masses"]
        assert np.median(ev.resonance_masses(), axis=0) == pytest.approx([80.0, 80.0, 175.0, 175.0], abs=0.5)
    with pytest.raises(ConfigError, match="channel"):
        simulate(10, tmp_path / "x.root", channel="taus")


def test_the_help_text_gives_pythias_default_masses():
    from lhcgan.cli import PYTHIA_MT, PYTHIA_MW
    from lhcgan.simulate import make_pythia, pythia_settings

    pythia = make_pythia(pythia_settings(13000, 1))
    assert (pythia.particleData.m0(6), pythia.particleData.m0(24)) == (PYTHIA_MT, PYTHIA_MW)


@pytest.mark.parametrize(("channel", "only"), [("allhad", True), ("ljets", False), ("dilep", True), ("all", True)])
def test_pythia_makes_only_the_channel_where_its_decay_switches_can(channel, only):
    from lhcgan.simulate import channel_process, makes_only

    assert makes_only(channel_process(channel)) is only
