import dataclasses
import numpy as np
import pytest
import uproot

import lhcgan
from lhcgan import physics
from lhcgan.config import load_card
from lhcgan.errors import InputError
from lhcgan.events import Events
from lhcgan.generate import generate
from lhcgan.modelfile import TrainedModel
from lhcgan.train import Trainer


@pytest.fixture(scope="module")
def model(ttbar, tmp_path_factory):
    cfg = load_card("default", overrides={"layers": 2, "hidden": 32, "disc_layers": 2, "disc_hidden": 32,
                                           "batch": 128, "iterations": 20, "checkpoint_every": 20})
    return Trainer(ttbar, cfg, tmp_path_factory.mktemp("run")).fit()


def test_model_file_round_trip(model, tmp_path):
    model.save(tmp_path / "m.pt")
    again = TrainedModel.load(tmp_path / "m.pt")
    a, b = model.sample(1000, seed=3), again.sample(1000, seed=3)
    np.testing.assert_array_equal(a.momenta, b.momenta)
    np.testing.assert_array_equal(a.pdg, b.pdg)
    assert again.flavour_fractions == model.flavour_fractions and again.meta["training_events"] > 0


def test_a_refined_model_gives_exactly_n_whatever_the_chunks(model, tmp_path):
    """The default fit refines (`lhcgan.refine`): rejection keeps exactly n events, the same ones for any
    chunk size, and the refiner survives the model file."""
    from lhcgan.events import Events

    assert model.refiner is not None and model.config.refine
    assert 0 < model.meta["refine_acceptance"] <= 1
    a = model.sample(3000, seed=8)
    b = Events.concatenate(list(model.iterate(3000, seed=8, chunk=517)))
    assert len(a) == len(b) == 3000
    # other network slices, whose matrix products may sum in another order on another CPU: float32 rounding
    # of the network's sums over 256 units (√256 · 2⁻²⁴ ≈ 1e-6), a few times that through the map to momenta
    np.testing.assert_allclose(a.momenta, b.momenta, rtol=1e-5, atol=1e-6)
    # rejection acts: the same noise without the refiner gives other events
    plain = dataclasses.replace(model, refiner=None).sample(3000, seed=8)
    assert not np.array_equal(plain.momenta, a.momenta)
    model.save(tmp_path / "m.pt")
    assert TrainedModel.load(tmp_path / "m.pt").refiner.to_dict() == model.refiner.to_dict()


def test_copies_above_the_refiners_bound_differ_by_their_symmetry_transforms(model):
    """Bounded at the mean weight, about half of the network's events weigh more and some are emitted twice:
    each copy follows its original, shares its invariants (every parton's pT, the masses) and has its own
    azimuth and z reflection. The stream stays the same for any chunk size."""
    low = dataclasses.replace(model, refiner=dataclasses.replace(model.refiner, log_bound=0.0))
    a = low.sample(3000, seed=9)
    pt = physics.pt(a.momenta)
    same = np.all(np.isclose(pt[1:], pt[:-1], rtol=1e-12, atol=0), axis=1)  # float64 rotations keep pT
    assert same.sum() > 100
    i = np.flatnonzero(same)
    np.testing.assert_array_equal(a.pdg[i], a.pdg[i + 1])
    np.testing.assert_allclose(np.abs(a.momenta[i, :, 2]), np.abs(a.momenta[i + 1, :, 2]), rtol=1e-12)
    phi = np.arctan2(a.momenta[..., 1], a.momenta[..., 0])
    assert np.all(np.abs(phi[i, 0] - phi[i + 1, 0]) > 1e-9)
    flipped = np.sign(a.momenta[i, 0, 2]) != np.sign(a.momenta[i + 1, 0, 2])
    assert 0.3 < flipped.mean() < 0.7  # a fresh reflection: half of the copies flip
    b = Events.concatenate(list(low.iterate(3000, seed=9, chunk=611)))
    np.testing.assert_allclose(a.momenta, b.momenta, rtol=1e-5, atol=1e-6)


def test_generated_variations_are_those_of_the_events_as_written():
    """`iterate` computes the tt̄ system once for the refiner and the variation model; the ratios it yields
    are the variation model's of the events themselves, copies included (a reflected copy's signed
    rapidities flip), to float rounding."""
    shipped = TrainedModel.load()
    low = dataclasses.replace(shipped, refiner=dataclasses.replace(shipped.refiner, log_bound=0.0))
    for model in (shipped, low):
        ev = model.sample(4000, seed=3)
        np.testing.assert_allclose(ev.variations, model.variation_model.predict_events(ev), rtol=1e-5, atol=1e-6)


def test_rebound_recomputes_the_bound_of_an_earlier_file(model):
    """A file of an earlier version bounded its weights at their largest; `rebound` gives it today's bound
    from the stream the refiner was fitted on: the fit's own, to float rounding, and a higher yield."""
    from lhcgan.refine import rebound

    old = dataclasses.replace(model, refiner=dataclasses.replace(model.refiner, log_bound=model.refiner.log_bound + 0.3))
    again = rebound(old)
    assert again.refiner.log_bound == pytest.approx(model.refiner.log_bound, abs=1e-9)
    np.testing.assert_array_equal(again.refiner.values, model.refiner.values)
    assert again.refiner.acceptance > old.refiner.acceptance and again.meta["refine_acceptance"] == again.refiner.acceptance


def test_a_model_file_of_an_earlier_version_saves_again_with_its_pt_conservation(model, tmp_path):
    """Earlier files kept the decided pT conservation beside a config that said null; saving such a model
    again once dropped it, and the copy generated events with pT(tt̄) of 150 GeV."""
    from lhcgan.modelfile import save_payload

    payload = model.payload()
    payload["config"]["conserve_pt"] = None
    payload["conserve_pt"] = True
    save_payload(payload, tmp_path / "old.pt")
    TrainedModel.load(tmp_path / "old.pt").save(tmp_path / "again.pt")
    again = TrainedModel.load(tmp_path / "again.pt")
    assert again.config.conserve_pt is True
    assert np.max(physics.pt_balance(again.sample(500, seed=2).momenta)) < 1e-9


def test_seeds_and_exact_balance(model):
    a, b, c = model.sample(2000, seed=1), model.sample(2000, seed=1), model.sample(2000, seed=2)
    np.testing.assert_array_equal(a.momenta, b.momenta)
    assert not np.allclose(a.momenta, c.momenta)
    assert np.median(physics.pt_balance(a.momenta)) < 1e-12  # projected in float64


def test_flavours_follow_the_training_sample(model, ttbar):
    ev = model.sample(20000, seed=5)
    for slot in range(6):
        for pid in np.unique(ttbar.pdg[:, slot]):
            assert np.mean(ev.pdg[:, slot] == pid) == pytest.approx(np.mean(ttbar.pdg[:, slot] == pid), abs=0.015)


def test_streaming_to_root_with_flat_chunks(model, tmp_path):
    path = tmp_path / "gen.root"
    assert generate(25000, path, model=model, seed=4, chunk=10000) == 25000
    assert uproot.open(path)["Events"].num_entries == 25000
    ev = lhcgan.read(path)
    assert np.median(physics.pt_balance(ev.momenta)) < 1e-6  # float32 storage


def test_bad_model_files(tmp_path):
    with pytest.raises(InputError, match="no such model file"):
        TrainedModel.load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(InputError, match="cannot load the model"):
        TrainedModel.load(tmp_path / "junk.pt")


def test_a_model_of_another_format_asks_for_a_retrain(model, tmp_path):
    import torch

    model.save(tmp_path / "m.pt")
    d = torch.load(tmp_path / "m.pt", weights_only=True)
    d["format"] = "lhcgan-model/1"
    torch.save(d, tmp_path / "old.pt")
    with pytest.raises(InputError, match="model format lhcgan-model/1 .*retrain"):
        TrainedModel.load(tmp_path / "old.pt")


def test_the_shipped_model_loads_and_generates_on_shell():
    shipped = TrainedModel.load()  # data/ttbar_model.pt, the default of `lhcgan generate`
    ev = shipped.sample(5000, seed=1)
    m = ev.resonance_masses()
    for k, r in enumerate(ev.process.resonances):
        assert abs(np.median(m[:, k]) - r.mass) < r.width, r.name
    assert np.median(physics.pt_balance(ev.momenta)) < 1e-12


def test_generation_runs_bf16_only_where_the_cpu_has_it(model, monkeypatch):
    """A model trained in bf16 generates in fp32 on a CPU without native bf16 (AVX2): emulated bf16 is several
    times slower there, and fp32 is the same network, more precise. Where the CPU has it, a model whose
    cpu_bf16 says True or was left None (older files, the shipped model) generates in bf16; False keeps fp32."""
    import lhcgan.cpu
    from lhcgan.numpynet import logistic_noise

    z = logistic_noise(2000, model.network.latent, np.random.default_rng(1))
    with_setting = {v: dataclasses.replace(model, config=model.config.replace(cpu_bf16=v)) for v in (True, None, False)}
    monkeypatch.setattr(lhcgan.cpu, "cpu_has_bf16", lambda: False)
    fp32 = model.momenta(z)
    for m in with_setting.values():
        np.testing.assert_array_equal(m.momenta(z), fp32)
    monkeypatch.setattr(lhcgan.cpu, "cpu_has_bf16", lambda: True)
    assert not np.array_equal(with_setting[True].momenta(z), fp32)  # bf16 where the CPU has it: other rounding
    np.testing.assert_array_equal(with_setting[None].momenta(z), with_setting[True].momenta(z))
    np.testing.assert_array_equal(with_setting[False].momenta(z), fp32)
    monkeypatch.undo()
    # oneDNN capped at AVX2 (how a newer CPU approximates an AVX2-only one) has no native bf16 either
    lhcgan.cpu.cpu_has_bf16.cache_clear()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    try:
        assert lhcgan.cpu.cpu_has_bf16() is False
    finally:
        lhcgan.cpu.cpu_has_bf16.cache_clear()


def test_chunks_hold_the_blocks_they_ask_for_whatever_the_tasks(model):
    """A chunk of 6 blocks is made in tasks of at most `TASK_BLOCKS` (4) and joined: every chunk but the last
    holds 6 blocks' events (acceptance × 6 × 4096 on average, a few % Poisson spread), and the stream is the
    one of single-block chunks."""
    from lhcgan.modelfile import STREAM_BLOCK, TASK_BLOCKS

    blocks = TASK_BLOCKS + 2
    parts = list(model.iterate(30_000, seed=6, chunk=blocks * STREAM_BLOCK, processes=1))
    expected = model.refiner.acceptance * blocks * STREAM_BLOCK
    assert len(parts) >= 2
    for part in parts[:-1]:
        assert abs(len(part) - expected) < 0.1 * expected
    single = Events.concatenate(list(model.iterate(30_000, seed=6, chunk=STREAM_BLOCK, processes=1)))
    joined = Events.concatenate(parts)
    np.testing.assert_array_equal(joined.pdg, single.pdg)
    # other network slices where the CPU runs the generator in torch bf16: the bound of the chunk test above
    np.testing.assert_allclose(joined.momenta, single.momenta, rtol=1e-5, atol=1e-6)


def test_joined_chunks_are_checked_events_of_one_process(model):
    """Joining parts of one process keeps what the parts were checked for; parts of another process are checked
    again, so a flavour that the joined process does not allow is refused."""
    from lhcgan.events import InvalidEventsError
    from lhcgan.process import TTBAR

    a, b = model.sample(500, seed=1), model.sample(500, seed=2)
    joined = Events.concatenate([a, b])
    assert joined.momenta.dtype == np.float64 and joined.pdg.dtype == np.int32 and len(joined) == 1000
    assert joined.flavour_counts() == a.flavour_counts() + b.flavour_counts()
    other = next(c.name for c in TTBAR.channels if c.name not in model.channels)
    empty = a[:0].with_process(TTBAR.restrict([other]))  # valid: no events
    with pytest.raises(InvalidEventsError, match="form no channel"):
        Events.concatenate([empty, b])
