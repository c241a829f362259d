"""Conditioned models: parameters as data, the metadata round trip, a conditioned fit end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lhcgan
from lhcgan.events import Events
from lhcgan.cli import main as cli
from lhcgan.conditions import PARAMETERS, Conditioning, check_same_physics, join_samples, parse_input
from lhcgan.errors import ConfigError, InputError
from lhcgan.modelfile import TrainedModel
from lhcgan.preprocessing import DecayParametrisation
from lhcgan.process import CHANNELS, TTBAR, TTBAR_ALLHAD
from lhcgan.simulate import simulate

from tests.shared import HIGH, LOW


def top_peak(events: lhcgan.Events) -> float:
    """Median t and t̄ mass within ±7 GeV of the events' own pole, GeV."""
    m = events.resonance_masses()[:, 2:].ravel()
    pole = events.process.pole_masses()["t"]
    return float(np.median(m[np.abs(m - pole) < 7]))


# -- parameters as data ----------------------------------------------------------------------------


def test_file_values_parse_and_bad_ones_are_refused():
    assert parse_input("a/b.root:mt=172.5") == ("a/b.root", {"mt": 172.5})
    assert parse_input("x.lhe.gz:mt=170:ecm=13600") == ("x.lhe.gz", {"mt": 170.0, "ecm": 13600.0})
    assert parse_input("plain.lhe") == ("plain.lhe", {})
    with pytest.raises(ConfigError, match="not a number"):
        parse_input("a.root:mt=heavy")
    with pytest.raises(ConfigError, match="unknown condition"):
        parse_input("a.root:mtop=172")


@pytest.mark.parametrize("xp", ["numpy", "torch"])
def test_network_values_invert(xp):
    cond = Conditioning(("mt", "ecm"), ((169.5, 13000.0), (175.5, 13600.0), (171.5, 13000.0)))
    values = np.array([[169.5, 13000.0], [172.5, 13300.0], [175.5, 13600.0]])
    x = cond.to_network(values)
    np.testing.assert_allclose(x[[0, 2]], [[-1, -1], [1, 1]], atol=1e-6)
    back = cond.from_network(torch.as_tensor(x) if xp == "torch" else x)
    np.testing.assert_allclose(np.asarray(back), values, rtol=1e-6)


def test_values_outside_the_trained_range_are_refused():
    cond = Conditioning(("mt",), ((169.5,), (175.5,)))
    np.testing.assert_array_equal(cond.check({"mt": 172.5}), [172.5])
    for bad in (169.0, 176.0):
        with pytest.raises(InputError, match="outside the trained range 169.5–175.5 GeV"):
            cond.check({"mt": bad})
    with pytest.raises(InputError, match="give --mt"):
        cond.check({})
    with pytest.raises(InputError, match="not conditioned on ecm"):
        cond.check({"mt": 172.0, "ecm": 13000.0})


@pytest.mark.parametrize("process", [TTBAR, TTBAR_ALLHAD], ids=["all", "allhad"])
def test_a_moved_width_follows_the_leading_order_two_body_width(process):
    for name in ("t", "W+"):
        r = process.resonance(name)
        assert process.width_at(name, r.mass) == pytest.approx(r.width)
        assert process.width_at(name, r.mass + 3) > r.width > process.width_at(name, r.mass - 3)
    # Pythia's top half-width grows 13 % from 169.5 to 175.5 GeV (measured on its samples)
    ratio = process.width_at("t", 175.5) / process.width_at("t", 169.5)
    assert ratio == pytest.approx(1.13, abs=0.01)


# -- the parametrisation measured from each event's pole --------------------------------------------


@pytest.mark.parametrize("sample", ["ttbar", "all_channels"])
@pytest.mark.parametrize("xp", ["numpy", "torch"])
def test_parametrisation_with_per_event_poles_inverts(sample, xp, request):
    events = request.getfixturevalue(sample)
    p, m = events.momenta[:400], events.masses[:400]  # each event's slot masses: a τ has its own
    poles = {"t": np.where(np.arange(len(p)) % 2, 170.0, 175.0), "W": np.linspace(79.0, 82.0, len(p))}
    param = DecayParametrisation.fit(p, events.process, poles=poles, masses=m)
    if xp == "torch":
        p, m, poles = torch.as_tensor(p), torch.as_tensor(m), {k: torch.as_tensor(v) for k, v in poles.items()}
    x = param.forward(p, poles, m)
    back = param.inverse(x, poles=poles, masses=m)
    np.testing.assert_allclose(np.asarray(back), np.asarray(p), atol=1e-6 * np.abs(np.asarray(p)).max())
    np.testing.assert_allclose(np.asarray(param.realised(x, poles=poles, masses=m)), np.asarray(x), atol=1e-5)


def test_the_mass_coordinates_are_measured_from_the_event_pole(ttbar):
    """The same coordinates at another pole give a top whose mass moves with the pole, and a b whose
    energy in the top frame follows the two-body kinematics of the new mass."""
    param = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    x = param.forward(ttbar.momenta[:500])
    masses = {}
    for pole in (170.0, 176.0):
        p = param.inverse(x, poles={"t": np.full(len(x), pole)})
        masses[pole] = lhcgan.Events(p, ttbar.pdg[:500], process=ttbar.process).resonance_masses()[:, 2]
    shift = masses[176.0] - masses[170.0]
    assert np.median(shift) == pytest.approx(6.0, abs=0.3)
    raw = param.to_raw(ttbar.momenta[:500], {"t": np.full(500, 180.0)})
    mt = ttbar.resonance_masses()[:500, 2]
    np.testing.assert_allclose(raw[:, 3], np.arcsinh(2 * (mt - 180.0) / ttbar.process.width_at("t", 180.0)),
                               rtol=1e-9)


# -- samples and metadata ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".root", ".lhe"])
def test_the_top_mass_round_trips_through_the_metadata(tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    simulate(50, path, seed=3, mt=171.25, progress=False)
    events = lhcgan.read(path)
    assert PARAMETERS["mt"].of(events) == 171.25
    assert events.process.pole_masses()["t"] == 171.25
    # and through a conversion
    other = tmp_path / ("c.lhe" if suffix == ".root" else "c.root")
    assert cli(["convert", str(path), str(other)]) == 0
    assert PARAMETERS["mt"].of(lhcgan.read(other)) == 171.25


def test_joining_samples_of_different_channels(mt_samples, all_channels):
    """An all-hadronic sample at 170 GeV and one of every channel at Pythia's 173 GeV: one sample of
    every channel, each event with its own m_t."""
    joined, cond = join_samples([lhcgan.read(mt_samples[LOW]), all_channels], ["mt"])
    assert cond.points == ((LOW,), (173.0,))
    assert set(joined.channel_counts()) == set(CHANNELS)  # every channel, τ ones included
    np.testing.assert_array_equal(joined.parameters["mt"][-len(all_channels):], 173.0)


def test_joining_needs_values_and_two_points(mt_samples):
    a, b = lhcgan.read(mt_samples[LOW]), lhcgan.read(mt_samples[HIGH])
    joined, cond = join_samples([a, b], ["mt"])
    assert cond.points == ((LOW,), (HIGH,)) and len(joined) == len(a) + len(b)
    np.testing.assert_array_equal(np.unique(joined.parameters["mt"]), [LOW, HIGH])
    assert joined.process.pole_masses()["t"] == (LOW + HIGH) / 2
    with pytest.raises(ConfigError, match="two values at least"):
        join_samples([a, a], ["mt"])
    # a file that does not record its value needs it on the command line
    bare = a.with_process(a.process)
    bare.meta = {k: v for k, v in a.meta.items() if k != "masses"}
    with pytest.raises(InputError, match="does not record its mt"):
        join_samples([bare, b], ["mt"])
    joined, cond = join_samples([bare, b], ["mt"], [{"mt": 169.0}, {}])
    assert cond.points == ((169.0,), (HIGH,))
    with pytest.warns(UserWarning, match=f"records mt = {HIGH:g}; the given 175 is used"):
        join_samples([a, b], ["mt"], [{}, {"mt": 175.0}])
    # pooled without a condition, samples at two masses would be learnt as their mixture
    with pytest.raises(ConfigError, match="differ in mt"):
        check_same_physics([a, b])
    # and so would they conditioned on another parameter
    a13, b14 = (Events(s.momenta, s.pdg, process=s.process, meta=s.meta | {"ecm": e}) for s, e in ((a, 13000.0), (b, 14000.0)))
    with pytest.raises(ConfigError, match="differ in mt"):
        join_samples([a13, b14], ["ecm"])


def test_fit_refuses_samples_at_two_masses_without_a_condition(mt_samples, tmp_path, capsys):
    code = cli(["fit", mt_samples[LOW], mt_samples[HIGH], "--out", str(tmp_path / "r"), "-q", "--iterations", "2"])
    assert code == 1
    assert "--condition mt" in capsys.readouterr().err


# -- the conditioned fit ------------------------------------------------------------------------------


def test_the_model_file_records_range_and_points(mt_model):
    assert mt_model.conditioning.names == ("mt",)
    assert mt_model.conditioning.points == ((LOW,), (HIGH,))
    assert mt_model.meta["conditioning"]["range"] == {"mt": [LOW, HIGH]}


def test_generation_follows_the_mass_and_records_it(mt_model, mt_samples, tmp_path):
    path = tmp_path / "g.root"
    assert cli(["generate", "--model", str(mt_model_path(mt_model, tmp_path)), "--mt", "173", "-n", "2000",
                "-o", str(path), "-q"]) == 0
    gen = lhcgan.read(path)
    assert PARAMETERS["mt"].of(gen) == 173.0
    assert abs(top_peak(gen) - 173.0) < 0.5
    assert np.median(lhcgan.physics.pt_balance(gen.momenta)) < 1e-6  # balance stays exact


@pytest.mark.parametrize("suffix", [".root", ".lhe"])
def test_generated_files_record_the_mass(mt_model, tmp_path, suffix):
    path = tmp_path / f"g{suffix}"
    assert cli(["generate", "--model", mt_model_path(mt_model, tmp_path), "--mt", "174.25", "-n", "300",
                "-o", str(path), "-q"]) == 0
    events = lhcgan.read(path)
    assert PARAMETERS["mt"].of(events) == 174.25 and events.process.pole_masses()["t"] == 174.25


def mt_model_path(model: TrainedModel, tmp_path) -> str:
    path = tmp_path / "model.pt"
    model.save(path)
    return str(path)


def test_generation_at_a_training_point_matches_that_sample_better_than_at_a_far_point(mt_model, mt_samples):
    truth = lhcgan.read(mt_samples[LOW])
    near = mt_model.sample(3000, seed=5, parameters={"mt": LOW})
    far = mt_model.sample(3000, seed=5, parameters={"mt": HIGH})
    assert abs(top_peak(near) - top_peak(truth)) < 0.3 < abs(top_peak(far) - top_peak(truth))
    # not a label only: the m(tt̄) threshold moves with m_t too
    mtt = {k: np.quantile(lhcgan.physics.invariant_mass(s.momenta, s.masses), 0.05)
           for k, s in (("truth", truth), ("near", near), ("far", far))}
    assert abs(mtt["near"] - mtt["truth"]) < abs(mtt["far"] - mtt["truth"])


def test_out_of_range_values_are_refused_by_the_cli(mt_model, tmp_path, capsys):
    model = mt_model_path(mt_model, tmp_path)
    for argv, text in ((["--mt", "180"], "outside the trained range 170–176 GeV"),
                       ([], "conditioned on mt"),
                       (["--mt", "172", "--ecm", "13000"], "not conditioned on ecm")):
        code = cli(["generate", "--model", model, "-n", "10", "-o", str(tmp_path / "x.root"), *argv])
        assert code == 1
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err
        assert not (tmp_path / "x.root").exists()


def test_an_unconditioned_model_refuses_a_value(ttbar, tmp_path, capsys):
    code = cli(["generate", "-n", "10", "--mt", "172", "-o", str(tmp_path / "x.root")])
    assert code == 1 and "not conditioned on mt" in capsys.readouterr().err


def test_sharded_generation_at_a_mass(mt_model, tmp_path):
    from lhcgan.generate import generate_shards

    model = mt_model_path(mt_model, tmp_path)
    manifest = generate_shards(400, tmp_path / "s.root", shards=2, model=model, seed=3, processes=2,
                               parameters={"mt": 171.0})
    for k in range(2):
        part = lhcgan.read(tmp_path / f"s_{k}.root")
        assert len(part) == 200 and PARAMETERS["mt"].of(part) == 171.0
    assert manifest.is_file()
    with pytest.raises(InputError, match="outside the trained range"):
        generate_shards(10, tmp_path / "t.root", shards=2, model=model, parameters={"mt": 190.0})


def test_a_conditioned_ensemble_validates_at_every_point(mt_samples, tmp_path):
    run = tmp_path / "ens"
    code = cli(["fit", mt_samples[LOW], mt_samples[HIGH], "--condition", "mt", "--ensemble", "2", "--out", str(run),
                "-q", "-n", "300", "--iterations", "20", "--set", "batch=128", "--set", "select_every=10",
                "--set", "layers=2", "--set", "hidden=32", "--set", "disc_layers=2", "--set", "disc_hidden=32"])
    assert code == 0
    for mt in (LOW, HIGH):
        assert PARAMETERS["mt"].of(lhcgan.read(run / f"generated_mt{mt:g}.root")) == mt
        metrics = (run / f"validation_mt{mt:g}" / "metrics.json").read_text()
        assert '"band_coverage"' in metrics
    from lhcgan.modelfile import load_model

    assert load_model(run / "model.pt").conditioning.points == ((LOW,), (HIGH,))
