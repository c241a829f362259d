import json

import numpy as np
import pytest
import torch

from lhcgan import physics

from lhcgan.config import load_card
from lhcgan.errors import ConfigError, TrainingError
from lhcgan.modelfile import TrainedModel
from lhcgan.process import TAU_MASS
from lhcgan.train import Trainer

TINY = {"layers": 2, "hidden": 32, "disc_layers": 2, "disc_hidden": 32, "batch": 128, "log_every": 5,
        "checkpoint_every": 10, "iterations": 30}


def tiny(**changes):
    return load_card("default", overrides=TINY | changes)


@pytest.mark.parametrize("sample", ["ttbar", "all_channels", "mt_joined"])
def test_every_parameter_gets_a_gradient(sample, request, tmp_path):
    events = request.getfixturevalue(sample)
    conditioning = None
    if isinstance(events, tuple):  # samples at several m_t and their conditioning
        events, conditioning = events
    tr = Trainer(events, tiny(), tmp_path, conditioning=conditioning)
    grads = {}

    def keep(opt, name):
        def record(optimizer, args, kwargs):
            for group in optimizer.param_groups:
                for p in group["params"]:
                    grads.setdefault(name, []).append(p.grad is not None and bool((p.grad != 0).any()))

        opt.register_step_pre_hook(record)

    keep(tr.opt_d, "D")
    keep(tr.opt_g, "G")
    tr.step()
    n_d, n_g = len(list(tr.D.parameters())), len(list(tr.G.parameters()))
    assert grads["D"] == [True] * n_d and grads["G"] == [True] * n_g


def test_pt_conservation_is_chosen_from_the_sample(ttbar, tmp_path):
    assert Trainer(ttbar, tiny(), tmp_path).conserve_pt
    momenta = ttbar.momenta[:500].copy()
    momenta[:, 5, 0] += 30.0  # an ISR-like recoil
    kicked = type(ttbar)(momenta, ttbar.pdg[:500])
    with pytest.warns(UserWarning, match="does not balance"):
        assert not Trainer(kicked, tiny(), tmp_path).conserve_pt


def test_resume_after_a_kill_gives_the_same_weights(ttbar, tmp_path):
    full = Trainer(ttbar, tiny(), tmp_path / "full").fit()

    killed = Trainer(ttbar, tiny(), tmp_path / "killed")
    real_step = killed.step

    def dies_at_25():
        if killed.iteration == 25:
            raise KeyboardInterrupt
        return real_step()

    killed.step = dies_at_25
    with pytest.raises(KeyboardInterrupt):
        killed.fit()
    resumed = Trainer(ttbar, tiny(), tmp_path / "killed").fit(resume=True)
    for a, b in zip(full.generator.state_dict().values(), resumed.generator.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    log = lambda d: (tmp_path / d / "losses.jsonl").read_text()  # noqa: E731
    assert log("full") == log("killed")


def test_a_nan_batch_is_survived(ttbar, tmp_path):
    tr = Trainer(ttbar, tiny(), tmp_path)
    real_batch = tr._real_batch
    calls = {"n": 0}

    def poisoned():
        calls["n"] += 1
        f, m, *signs = real_batch()
        if calls["n"] == 40:
            f, m = f.clone(), m.clone()
            f[3, 2] = m[5, 1] = float("nan")
        return f, m, *signs

    tr._real_batch = poisoned
    model = tr.fit()
    assert tr.iteration == 30 and tr.recoveries == 1
    records = [json.loads(ln) for ln in (tmp_path / "losses.jsonl").read_text().splitlines()]
    assert any(r.get("event") == "nan_recovery" for r in records)
    assert all(np.isfinite(r["loss_d"]) for r in records if "loss_d" in r)
    assert all(torch.isfinite(p).all() for p in model.generator.parameters())
    assert all(p.requires_grad for p in tr.D.parameters())  # the generator step's freeze was undone


def test_persistent_nan_stops_with_a_clear_error(ttbar, tmp_path):
    tr = Trainer(ttbar, tiny(), tmp_path)
    tr._real_batch = lambda: (torch.full((128, tr.bridge.n_features), float("nan")), torch.zeros(128, 4), None, None)
    with pytest.raises(TrainingError, match="training diverged"):
        tr.fit()


def test_a_discriminator_that_wins_sends_the_run_back_to_its_checkpoint(ttbar, tmp_path):
    """A collapse (D separates every event) restarts the run from the last checkpoint taken before it."""
    tr = Trainer(ttbar, tiny(iterations=300, checkpoint_every=100, select_every=0), tmp_path)
    step = tr.step
    state = {"collapsed": False}

    def winning():
        out = step()
        if not state["collapsed"] and tr.iteration > 150:  # D wins from iteration 150, once
            out |= {"d_real": 1.0, "d_fake": 0.0}
        return out

    real_recover = tr._recover

    def recover(event="nan_recovery"):
        state["collapsed"] = True
        real_recover(event)

    tr.step, tr._recover = winning, recover
    tr.fit()
    records = [json.loads(ln) for ln in (tmp_path / "losses.jsonl").read_text().splitlines()]
    events = [r for r in records if r.get("event") == "collapse_recovery"]
    # the checkpoint at 200 came while D was winning: the run went back to 100
    assert len(events) == 1 and events[0]["restored"] == 100 and 200 < events[0]["at"] < 300
    assert tr.iteration == 300 and tr.recoveries == 1


def test_a_discriminator_that_keeps_winning_stops_the_run(ttbar, tmp_path, monkeypatch):
    monkeypatch.setattr("lhcgan.train.MAX_RECOVERIES", 2)
    tr = Trainer(ttbar, tiny(iterations=1000, checkpoint_every=100, select_every=0), tmp_path)
    step = tr.step
    tr.step = lambda: step() | {"d_real": 1.0, "d_fake": 0.0}
    with pytest.raises(TrainingError, match="training diverged: 3 restarts .*discriminator that separated every event"):
        tr.fit()


def test_resume_refuses_other_settings(ttbar, tmp_path):
    Trainer(ttbar, tiny(iterations=10), tmp_path).fit()
    with pytest.raises(TrainingError, match="other settings.*hidden"):
        Trainer(ttbar, tiny(iterations=10, hidden=16), tmp_path).fit(resume=True)


def test_same_seed_same_model(ttbar, tmp_path):
    a = Trainer(ttbar, tiny(iterations=12), tmp_path / "a").fit()
    b = Trainer(ttbar, tiny(iterations=12), tmp_path / "b").fit()
    c = Trainer(ttbar, tiny(iterations=12, seed=2), tmp_path / "c").fit()
    z = torch.randn(50, a.generator.latent)
    np.testing.assert_array_equal(a.momenta(z), b.momenta(z))
    assert not np.allclose(a.momenta(z), c.momenta(z))
    # the file gives back the same generator, and the settings it was trained with as used
    loaded = TrainedModel.load(tmp_path / "a" / "model.pt")
    np.testing.assert_array_equal(loaded.momenta(z), a.momenta(z))
    assert loaded.config.conserve_pt is True  # decided from the balanced sample, not None
    assert isinstance(loaded.config.cpu_bf16, bool) and loaded.bridge.conserve_pt is True


def test_a_step_is_an_iteration(ttbar, tmp_path):
    tr = Trainer(ttbar, tiny(), tmp_path)
    tr.step()
    tr.step()
    assert tr.iteration == 2


def test_model_selection_ships_the_best_scoring_state(ttbar, tmp_path):
    tr = Trainer(ttbar, tiny(select_every=10, iterations=30), tmp_path)
    model = tr.fit()
    records = [json.loads(ln) for ln in (tmp_path / "losses.jsonl").read_text().splitlines()]
    scores = {r["iteration"]: r["selection_inverse"] for r in records if "selection" in r}
    assert sorted(scores) == [10, 20, 30]
    best = min(scores, key=scores.get)
    assert model.meta["selected_iteration"] == best and model.meta["selection_score"] == scores[best]
    # the shipped generator is that state: scoring it again gives the logged value
    tr.G_ema.load_state_dict(model.generator.state_dict())
    assert tr.selection_score() == pytest.approx(scores[best], rel=1e-6)
    # and the score measures something: a generator with scrambled weights scores worse
    with torch.no_grad():
        for p in tr.G_ema.parameters():
            p.add_(torch.randn_like(p))
    assert tr.selection_score() > 2 * scores[best]


def test_hopeless_weights_are_refused(ttbar, tmp_path):
    few = np.where(np.arange(len(ttbar)) % 100 == 0, 50.0, 0.01)  # ~30 events carry the sample
    with pytest.raises(TrainingError, match=r"too few effective events.*effective size [23][0-9] of 2,688"):
        Trainer(type(ttbar)(ttbar.momenta, ttbar.pdg, few), tiny(), tmp_path)
    negative = np.where(np.arange(len(ttbar)) % 2 == 0, -1.2, 1.0)
    with pytest.raises(TrainingError, match=r"weights sum to .* ≤ 0"):
        Trainer(type(ttbar)(ttbar.momenta, ttbar.pdg, negative), tiny(), tmp_path)
    # equal weights (an LHE file's XWGTUP = σ) are an unweighted sample
    same = Trainer(type(ttbar)(ttbar.momenta, ttbar.pdg, np.full(len(ttbar), 503.2)), tiny(iterations=1),
                   tmp_path / "same")
    assert same.weights is None and same.real.loss_weight is None


@pytest.mark.parametrize("preset, weighted, expected", [("default", False, 1e-3), ("default", True, 1e-2),
                                                       ("paper", True, 1e-3)])
def test_a_weighted_sample_trains_with_its_own_regulariser_and_saves_it(ttbar, tmp_path, preset, weighted, expected):
    w = np.linspace(0.5, 2.0, len(ttbar)) if weighted else None
    cfg = load_card(preset, overrides=TINY | {"iterations": 2, "select_every": 0})
    tr = Trainer(type(ttbar)(ttbar.momenta, ttbar.pdg, w), cfg, tmp_path)
    assert tr.cfg.reg_weight == pytest.approx(expected)
    tr.fit()
    saved = TrainedModel.load(tmp_path / "model.pt").config
    assert saved.reg_weight == pytest.approx(expected)  # the settings saved are the settings used
    assert load_card(preset, tmp_path / "card.yaml").reg_weight == pytest.approx(expected)


@pytest.mark.parametrize("power", [1.0, 0.5, 0.0])
def test_weighted_batches_follow_the_weights(ttbar, tmp_path, power):
    w = np.where(np.arange(len(ttbar)) % 10 == 0, -1.0, 3.0) * np.linspace(0.2, 1, len(ttbar))
    tr = Trainer(type(ttbar)(ttbar.momenta, ttbar.pdg, w), tiny(holdout=0.0, symmetries=[], weight_power=power),
                 tmp_path)
    counts = np.zeros(len(ttbar))
    signs = []
    for _ in range(300):
        state = tr.data_gen.get_state()
        f, m, sign, sign_all = tr._real_batch()
        tr.data_gen.set_state(state)  # the same draw again, to see which events it took
        u = torch.rand(tr.cfg.batch, generator=tr.data_gen, dtype=torch.float64)
        idx = torch.searchsorted(tr.real.cdf, u).numpy()
        np.add.at(counts, idx, 1)
        signs.append(sign_all.numpy())
        torch.testing.assert_close(m, tr.real.mmd[idx])
    # drawn ∝ |w|^p: the heaviest tenth of the events is drawn about as often as its share of Σ|w|^p
    q = np.abs(w) ** power
    heavy = np.argsort(np.abs(w))[-len(w) // 10 :]
    assert counts[heavy].sum() / counts.sum() == pytest.approx(q[heavy].sum() / q.sum(), rel=0.05)
    # the loss weights w/|w|^p average to 1 over the draws, and negative events carry negative ones
    lw = np.concatenate(signs)
    assert np.mean(lw) == pytest.approx(1, rel=0.05)
    assert (lw < 0).mean() == pytest.approx(q[w < 0].sum() / q.sum(), rel=0.1)


def test_holdout_is_kept_out_of_training(ttbar, tmp_path):
    tr = Trainer(ttbar, tiny(holdout=0.2), tmp_path)
    assert len(tr.heldout) == round(0.2 * len(ttbar)) and len(tr.events) + len(tr.heldout) == len(ttbar)
    train_rows = {r.tobytes() for r in tr.events.momenta}
    assert not any(r.tobytes() in train_rows for r in tr.heldout.momenta)
    assert len(tr.real.p) == len(tr.events)
    # the same seed holds out the same events
    again = Trainer(ttbar, tiny(holdout=0.2), tmp_path / "again")
    np.testing.assert_array_equal(again.heldout.momenta, tr.heldout.momenta)


def test_transformed_real_batches_equal_features_of_transformed_events(ttbar, tmp_path):
    """The fast path (precomputed coordinates, rotated φ) gives the features of the transformed events."""
    from lhcgan.symmetry import randomise

    tr = Trainer(ttbar, tiny(), tmp_path)
    assert tr.real.coords is not None and tr.cfg.symmetries == ["azimuth", "reflect_z"]
    state = tr.data_gen.get_state()
    fast, m, *_ = tr._real_batch()
    tr.data_gen.set_state(state)
    idx = torch.randint(len(tr.real.p), (tr.cfg.batch,), generator=tr.data_gen)
    u = torch.rand(2, tr.cfg.batch, generator=tr.data_gen, dtype=torch.float64)
    draws = iter(u)
    p = randomise(tr.real.p[idx], tr.cfg.symmetries, lambda n: next(draws))
    slow = tr.bridge.features(p, tr.real.m[idx])
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), atol=2e-4)
    assert not torch.allclose(fast, tr.bridge.features(tr.real.p[idx], tr.real.m[idx]), atol=1e-2)


def test_resume_refuses_damaged_or_foreign_checkpoints(ttbar, tmp_path):
    import pickle

    Trainer(ttbar, tiny(iterations=10), tmp_path).fit()
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="cannot load the checkpoint"):
        Trainer(ttbar, tiny(iterations=10), tmp_path).fit(resume=True)

    class Payload:  # an object a pickle would run code for
        def __reduce__(self):
            return (print, ("unpickled!",))

    torch.save({"x": Payload()}, tmp_path / "checkpoint.pt", pickle_module=pickle)
    with pytest.raises(TrainingError, match="cannot load the checkpoint"):
        Trainer(ttbar, tiny(iterations=10), tmp_path).fit(resume=True)


def test_weighted_fit_learns_the_signed_distribution(ttbar, tmp_path):
    """Events with a top above 150 GeV in pT are tripled: twice with weight +1, once with −1. The signed sum
    is the sample itself; unsigned, that region is 3× too high. The generated sample follows the signed sum."""
    top_pt = physics.pt(ttbar.momenta[:, :3].sum(axis=1))
    tail = top_pt > 150
    momenta = np.concatenate([ttbar.momenta, ttbar.momenta[tail], ttbar.momenta[tail]])
    pdg = np.concatenate([ttbar.pdg, ttbar.pdg[tail], ttbar.pdg[tail]])
    w = np.concatenate([np.ones(len(ttbar) + tail.sum()), -np.ones(tail.sum())])
    tr = Trainer(type(ttbar)(momenta, pdg, w), tiny(iterations=60, holdout=0.0, select_every=0), tmp_path)
    model = tr.fit()
    gen = model.sample(20_000, seed=3)
    f_gen = np.mean(physics.pt(gen.momenta[:, :3].sum(axis=1)) > 150)
    f_signed, f_unsigned = np.mean(tail), (3 * tail.sum()) / len(momenta)
    assert f_unsigned > f_signed + 0.15  # the two targets are far apart
    assert abs(f_gen - f_signed) < 0.2 * abs(f_unsigned - f_signed)
    assert model.meta["weighted"] and model.meta["training_effective_events"] < len(momenta)


def test_a_sample_of_several_channels_gives_one_conditioned_model(all_channels, tmp_path):
    from lhcgan.errors import InputError

    tr = Trainer(all_channels, tiny(iterations=20), tmp_path)
    assert tr.process.n_condition == 4 and tr.G.n_condition == 4  # W⁺ and W⁻: hadronic, e/μ or τ
    tr.fit()
    model = TrainedModel.load(tmp_path / "model.pt")
    assert model.channels == ["allhad", "ljets", "dilep", "taujets", "taudilep"] and model.generator.n_condition == 4
    ev = model.sample(4000, seed=1)
    truth = all_channels.channel_fractions()
    assert set(ev.channel_fractions()) == set(truth)
    for name, f in ev.channel_fractions().items():  # the sample's channel mix
        assert f == pytest.approx(truth[name], abs=4 * np.sqrt(truth[name] / 4000) + 0.01)
    # every generated τ is on its mass shell, whatever the network made: the mass follows the mode
    tau = np.abs(ev.pdg) == 15
    p4 = ev.to_four_momenta()
    m = np.sqrt(np.clip(p4[..., 0] ** 2 - (p4[..., 1:] ** 2).sum(-1), 0, None))
    assert tau.sum() > 500 and np.allclose(m[tau], TAU_MASS, rtol=1e-6) and np.allclose(m[~tau & (np.abs(ev.pdg) != 5)], 0, atol=1e-3)
    for name in ("dilep", "taujets"):
        one = model.sample(300, seed=1, channel=name)
        assert set(one.channel_counts()) == {name} and len(one) == 300 and one.process.name == f"ttbar:{name}"
    with pytest.raises(InputError, match="not taus"):
        model.sample(10, channel="taus")
    # the condition reaches the network: the same noise gives other events in another channel
    z = model.generator.noise(200, torch.Generator().manual_seed(0))
    pdg = np.array([[5, 2, -1, -5, 1, -2], [5, 12, -11, -5, 13, -14], [5, 16, -15, -5, 13, -14]])
    had, lep, tau = (model.momenta(z, np.repeat(pdg[i : i + 1], 200, axis=0)) for i in (0, 1, 2))
    assert not np.allclose(had, lep) and not np.allclose(lep, tau)
    with pytest.raises(InputError, match="several channels"):
        model.momenta(z)


def test_a_residual_generator_needs_noise_for_every_coordinate(ttbar, tmp_path):
    with pytest.raises(ConfigError, match="latent ≥ 18"):
        Trainer(ttbar, tiny(latent=12), tmp_path)
    assert Trainer(ttbar, tiny(latent=12, residual=False), tmp_path).G.latent == 12


def test_a_conditioned_trainer_measures_masses_from_each_event_pole(mt_joined, tmp_path):
    """Samples 6 GeV apart in m_t: the MMD's masses and the generator's mass coordinate lie on each other."""
    from tests.shared import HIGH, LOW

    events, conditioning = mt_joined
    tr = Trainer(events, tiny(), tmp_path, conditioning=conditioning)
    at = {v: tr.values[:, 0] == v for v in (LOW, HIGH)}
    raw = tr.real.m[:, 2].numpy()
    assert np.median(raw[at[HIGH]]) - np.median(raw[at[LOW]]) == pytest.approx(6.0, abs=0.3)
    rel = tr.real.mmd[:, 2].numpy()
    assert abs(np.median(rel[at[HIGH]]) - np.median(rel[at[LOW]])) < 0.2
    coords = tr.pre.forward(tr.real.p, tr.bridge.poles(tr.real.c))[:, 3].numpy()
    assert abs(np.median(coords[at[HIGH]]) - np.median(coords[at[LOW]])) < 0.1
    assert tr.G.n_condition == 1 and tr.bridge.n_features == tr.D.net[0].in_features


def test_an_mmd_on_the_tops_pt_compares_the_tops_pt(ttbar, tmp_path):
    """``mmd_top_pt`` adds one MMD term per top, on its transverse momentum summed from its decay products."""
    plain = Trainer(ttbar, tiny(), tmp_path / "plain")
    tr = Trainer(ttbar, tiny(mmd_top_pt=[25.0, 100.0], log_every=1), tmp_path / "pt")
    tops = [r for r in ttbar.process.resonances if r.parent is None]
    assert [r.name for r in tops] == ["t", "tbar"]
    p = tr.real.p.numpy()
    expected = np.stack([np.hypot(*p[:, list(r.members), :2].sum(axis=1).T) for r in tops], axis=1)
    np.testing.assert_allclose(tr.real.mmd[:, -2:].numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(tr.real.mmd[:, :-2].numpy(), plain.real.mmd.numpy())
    assert tr.widths == plain.widths + [[25.0, 100.0]] * 2
    assert np.all((50 < np.array(tr.centre[-2:])) & (np.array(tr.centre[-2:]) < 200))  # the median top pT, GeV
    assert np.isfinite(tr.step()["mmd"])
