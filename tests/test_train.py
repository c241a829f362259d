import json

import numpy as np
import pytest
import torch

from lhcgan.config import load_card
from lhcgan.errors import TrainingError
from lhcgan.modelfile import TrainedModel
from lhcgan.train import Trainer

TINY = {"layers": 2, "hidden": 32, "disc_layers": 2, "disc_hidden": 32, "batch": 128, "log_every": 5,
        "checkpoint_every": 10, "iterations": 30}


def tiny(**changes):
    return load_card("default", overrides=TINY | changes)


def test_every_parameter_gets_a_gradient(ttbar, tmp_path):
    tr = Trainer(ttbar, tiny(), tmp_path)
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
        f, m = real_batch()
        if calls["n"] == 40:
            f, m = f.clone(), m.clone()
            f[3, 2] = m[5, 1] = float("nan")
        return f, m

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
    tr._real_batch = lambda: (torch.full((128, tr.bridge.n_features), float("nan")), torch.zeros(128, 4))
    with pytest.raises(TrainingError, match="training diverged"):
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
    assert isinstance(TrainedModel.load(tmp_path / "a" / "model.pt"), TrainedModel)


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


def test_weighted_samples_are_refused_not_learnt_wrong(ttbar, tmp_path):
    w = np.where(np.arange(len(ttbar)) % 10 == 0, -1.0, 1.0)
    weighted = type(ttbar)(ttbar.momenta, ttbar.pdg, w)
    with pytest.raises(TrainingError, match=r"weighted .*10\.0% negative.*effective size"):
        Trainer(weighted, tiny(), tmp_path)
    # equal weights (an LHE file's XWGTUP = σ) are an unweighted sample
    same = type(ttbar)(ttbar.momenta, ttbar.pdg, np.full(len(ttbar), 503.2))
    Trainer(same, tiny(iterations=1), tmp_path / "same")


def test_holdout_is_kept_out_of_training(ttbar, tmp_path):
    tr = Trainer(ttbar, tiny(holdout=0.2), tmp_path)
    assert len(tr.heldout) == round(0.2 * len(ttbar)) and len(tr.events) + len(tr.heldout) == len(ttbar)
    train_rows = {r.tobytes() for r in tr.events.momenta}
    assert not any(r.tobytes() in train_rows for r in tr.heldout.momenta)
    assert len(tr.real_p) == len(tr.events)
    # the same seed holds out the same events
    again = Trainer(ttbar, tiny(holdout=0.2), tmp_path / "again")
    np.testing.assert_array_equal(again.heldout.momenta, tr.heldout.momenta)


def test_transformed_real_batches_equal_features_of_transformed_events(ttbar, tmp_path):
    """The fast path (precomputed coordinates, rotated φ) gives the features of the transformed events."""
    from lhcgan.symmetry import randomise

    tr = Trainer(ttbar, tiny(), tmp_path)
    assert tr.real_coords is not None and tr.cfg.symmetries == ["azimuth", "reflect_z"]
    state = tr.data_gen.get_state()
    fast, m = tr._real_batch()
    tr.data_gen.set_state(state)
    idx = torch.randint(len(tr.real_p), (tr.cfg.batch,), generator=tr.data_gen)
    u = torch.rand(2, tr.cfg.batch, generator=tr.data_gen, dtype=torch.float64)
    draws = iter(u)
    p = randomise(tr.real_p[idx], tr.cfg.symmetries, lambda n: next(draws))
    slow = tr.bridge.features(p, tr.real_m[idx])
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), atol=2e-4)
    assert not torch.allclose(fast, tr.bridge.features(tr.real_p[idx], tr.real_m[idx]), atol=1e-2)


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
