"""The shipped tt̄ sample is what data/README.md says it is."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

import lhcgan
from lhcgan.simulate import simulate

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "ttbar_13TeV_pythia8.lhe.gz"


def test_sample_is_small_and_reproducible(tmp_path):
    assert SAMPLE.stat().st_size <= 10 * 2**20
    shipped = lhcgan.read(SAMPLE)
    assert shipped.report.read == 25000 and shipped.meta["ecm"] == 13000
    # the command in data/README.md regenerates it event for event
    simulate(25000, tmp_path / "again.lhe.gz", seed=1)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "again.lhe.gz", SAMPLE)]
    assert digest[0] == digest[1]
    assert np.median(shipped.resonance_masses()[:, 0]) > 79


def test_the_shipped_model_of_every_channel_generates_each_channel():
    from lhcgan.modelfile import TrainedModel

    model = TrainedModel.load(SAMPLE.parent / "ttbar_all_channels_model.pt")
    assert model.channels == ["allhad", "ljets", "dilep", "taujets", "taudilep"] and model.generator.n_condition == 4
    mix = model.sample(20000, seed=3)
    f = mix.channel_fractions()
    # every W decay: q q̄′ 67.4 %, e ν and μ ν 2 × 10.8 %, τ ν 10.8 % (renormalised to 1: 0.676, 0.216, 0.108)
    assert f == {"allhad": pytest.approx(0.457, abs=0.015), "ljets": pytest.approx(0.292, abs=0.015),
                 "dilep": pytest.approx(0.047, abs=0.006), "taujets": pytest.approx(0.146, abs=0.012),
                 "taudilep": pytest.approx(0.058, abs=0.006)}
    tau = np.abs(mix.pdg) == 15
    p4 = mix.to_four_momenta()
    np.testing.assert_allclose(np.sqrt(p4[tau][:, 0] ** 2 - (p4[tau][:, 1:] ** 2).sum(-1)), 1.77686, rtol=1e-5)
    for name in model.channels:
        one = model.sample(3000, seed=4, channel=name)
        assert set(one.channel_counts()) == {name}
        m = np.median(one.resonance_masses(), axis=0)
        assert m == pytest.approx([80.385, 80.385, 173.0, 173.0], abs=0.3)  # the peaks of the training sample
        assert np.median(lhcgan.physics.pt_balance(one.momenta)) < 1e-6


def test_the_shipped_model_writes_its_theory_variations_for_every_event(tmp_path):
    from lhcgan.cli import main as cli
    from lhcgan.simulate import SCALE_POINTS

    out = tmp_path / "g.root"
    assert cli(["generate", "-n", "20000", "-o", str(out), "--seed", "5"]) == 0
    gen = lhcgan.read(out)
    vs = gen.variation_set
    assert vs.summary() == "9 scale, 2 pdf" and [v.scales for v in vs.entries[:9]] == list(SCALE_POINTS)
    r = gen.variations
    np.testing.assert_array_equal(r[:, 4], 1.0)  # the nominal point is exactly the nominal
    # at leading order 2 μ_R lowers σ(tt̄) by 15.6 % and ½ μ_R raises it by 22 % (400k Pythia events' own weights)
    assert r[:, 7].mean() == pytest.approx(0.844, abs=0.005) and r[:, 1].mean() == pytest.approx(1.22, abs=0.01)
    assert (r[:, 7] < 1).all() and (r[:, 1] > 1).all()
