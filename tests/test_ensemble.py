"""Ensembles: K generators sampled as a mixture, saved in one file, their spread as validation bands."""

import json

import numpy as np
import pytest

import lhcgan
from lhcgan.cli import main
from lhcgan.config import load_card
from lhcgan.errors import InputError
from lhcgan.modelfile import Ensemble, TrainedModel, load_model
from lhcgan.train import Trainer
from lhcgan.validate import validate

TINY = {"layers": 2, "hidden": 32, "disc_layers": 2, "disc_hidden": 32, "batch": 128, "iterations": 20,
        "checkpoint_every": 20, "holdout": 0.2}


@pytest.fixture(scope="module")
def ensemble(ttbar, tmp_path_factory):
    d = tmp_path_factory.mktemp("ens")
    members = [Trainer(ttbar, load_card("default", overrides=TINY | {"seed": 1 + k}), d / f"m{k}", split_seed=1).fit()
               for k in range(3)]
    return Ensemble(members)


def test_members_share_the_held_out_events_and_differ(ensemble):
    assert {m.meta["split_seed"] for m in ensemble.members} == {1}
    assert [m.meta["seed"] for m in ensemble.members] == [1, 2, 3]
    a, b = (m.sample(500, seed=1) for m in ensemble.members[:2])
    assert not np.allclose(a.momenta, b.momenta)


def test_mixture_is_exact_in_size_reproducible_and_round_trips(ensemble, tmp_path):
    ev = ensemble.sample(1001, seed=4)
    assert len(ev) == 1001
    np.testing.assert_array_equal(ev.momenta, ensemble.sample(1001, seed=4).momenta)
    ensemble.save(tmp_path / "ens.pt")
    again = load_model(tmp_path / "ens.pt")
    assert isinstance(again, Ensemble) and len(again.members) == 3
    np.testing.assert_array_equal(again.sample(1001, seed=4).momenta, ev.momenta)
    assert again.meta["ensemble"] == 3
    with pytest.raises(InputError, match="ensemble"):
        TrainedModel.load(tmp_path / "ens.pt")
    # the mixture holds every member's events: each member's own first events appear in it
    for k, m in enumerate(ensemble.members):
        own = m.iterate(334 if k < 2 else 333, seed=4, chunk=-(-100_000 // 3), shard=k)
        first = next(own).momenta
        # member events are rotated/reflected by the member's own stream, so compare pT, which they keep
        pt = np.hypot(first[:, 0, 0], first[:, 0, 1])
        assert np.isin(np.round(pt, 9), np.round(np.hypot(ev.momenta[:, 0, 0], ev.momenta[:, 0, 1]), 9)).all()


def test_bands_and_their_coverage(ensemble, ttbar, tmp_path):
    truth = ttbar[:1500]
    gen = ensemble.sample(3000, seed=2)
    members = ensemble.member_samples(3000, seed=2)
    metrics = validate(gen, truth, tmp_path / "v", members=members, auc_events=1000, quiet=True)
    assert 0 < metrics["band_coverage"] <= 1 and metrics["band_bins"] > 100
    stored = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert stored["band_coverage"] == metrics["band_coverage"] and stored["ensemble_members"] == 3
    # a band that covers something: the same figures without the spread cover fewer bins
    narrow = validate(gen, truth, tmp_path / "n", members=[members[0]] * 3, auc_events=1000, quiet=True)
    assert narrow["band_coverage"] < metrics["band_coverage"]


def test_fit_ensemble_end_to_end(ttbar_lhe, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["fit", str(ttbar_lhe), "--ensemble", "2", "--iterations", "10", "--out", str(out), "-q", "-n", "1200"]
    for k, v in TINY.items():
        if k != "iterations":
            args += ["--set", f"{k}={v}"]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert "ensemble member 2 of 2" in stdout and "held-out events the model never saw" in stdout
    assert isinstance(load_model(out / "model.pt"), Ensemble)
    assert (out / "member0" / "model.pt").is_file() and (out / "member1" / "model.pt").is_file()
    metrics = json.loads((out / "validation" / "metrics.json").read_text())
    assert "band_coverage" in metrics and len(lhcgan.read(out / "generated.root")) == 1200
    assert main(["validate", str(out / "generated.root"), str(ttbar_lhe), "-o", str(tmp_path / "v"),
                 "--model", str(out / "model.pt"), "--auc-events", "1000"]) == 0


def test_an_ensemble_writes_the_same_lhe_in_any_number_of_processes(ensemble, tmp_path):
    """Each member's stream runs in forked workers of its own; the mixture, written as LHE, is the same for two
    workers or three (each worker runs the network on one thread). The tiny members make a few events that
    LHE cannot hold (x outside (0, 1]): the writer drops and counts them, the same ones both times."""
    import warnings

    from lhcgan.generate import generate

    files = [tmp_path / f"p{k}.lhe.gz" for k in (2, 3)]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*: dropped .* momentum fractions outside", UserWarning)
        written = [generate(12_000, f, model=ensemble, seed=6, processes=k) for k, f in zip((2, 3), files)]
    a, b = lhcgan.read(files[0]), lhcgan.read(files[1])
    assert written[0] == written[1] == len(a) == len(b) > 11_500
    np.testing.assert_array_equal(a.momenta, b.momenta)
    np.testing.assert_array_equal(a.pdg, b.pdg)


def test_the_members_share_the_cores_instead_of_each_taking_all(ensemble, monkeypatch):
    """By default each member's stream forks one worker per core where that pays; K members pulled side by side
    would start K × cores processes. On 6 cores the three members get 2 each: 6 workers in all."""
    from lhcgan import workers
    from lhcgan.modelfile import PARALLEL_BLOCKS, STREAM_BLOCK

    started = []

    def serial_map(fn, tasks, processes, **kwargs):  # records the workers asked for, computes in process
        started.append(processes)
        return (fn(t) for t in tasks)

    monkeypatch.setattr(workers, "usable_processes", lambda: 6)
    monkeypatch.setattr(workers, "ordered_map", serial_map)
    n = 3 * PARALLEL_BLOCKS * 6 * STREAM_BLOCK  # enough that each member alone would fork on all 6 cores
    assert len(ensemble.sample(n, seed=3)) == n
    assert started == [2, 2, 2]
