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
    assert a.read == 300 and a.accepted == len(ea)
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
    assert r1.accepted == r2.accepted and r1.skipped == r2.skipped
    a, b = lhcgan.read(tmp_path / "a.root"), lhcgan.read(tmp_path / "a.lhe")
    np.testing.assert_array_equal(a.pdg, b.pdg)
    np.testing.assert_allclose(a.momenta, b.momenta, rtol=1e-6, atol=1e-4)


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
