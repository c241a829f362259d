"""The settings a fit uses are resolved once, and the model and card.yaml save exactly those."""

import dataclasses

import numpy as np
import pytest

from lhcgan.config import load_card
from lhcgan.modelfile import TrainedModel
from lhcgan.settings import DECAY_SPAN, LARGE_SAMPLE, default_iterations, resolve_settings
from lhcgan.train import Trainer

TINY = {"layers": 2, "hidden": 32, "disc_layers": 2, "disc_hidden": 32, "batch": 128, "log_every": 5,
        "checkpoint_every": 10, "iterations": 10, "select_every": 5}


def test_open_settings_are_decided_and_resolving_again_changes_nothing(ttbar):
    cfg = load_card("default", overrides=TINY)
    assert cfg.conserve_pt is None and cfg.cpu_bf16 is None
    used = resolve_settings(cfg, ttbar, weighted=False)
    assert used.conserve_pt is True  # Pythia's parton-level tt̄ balances
    assert isinstance(used.cpu_bf16, bool)
    assert resolve_settings(used, ttbar, weighted=False) == used
    assert resolve_settings(cfg, ttbar, weighted=False, device_type="cpu", world=2).cpu_bf16 is False


def test_open_iterations_follow_the_sample_size_and_the_decay_follows_them(ttbar):
    assert default_iterations(LARGE_SAMPLE) < default_iterations(LARGE_SAMPLE + 1)  # larger samples train longer
    cfg = load_card("default")
    assert cfg.iterations is None and cfg.lr_decay is None
    used = resolve_settings(cfg, ttbar, weighted=False)
    assert used.iterations == default_iterations(len(ttbar))
    assert used.lr_decay * used.iterations == pytest.approx(DECAY_SPAN)  # the last step at lr / (1 + span)
    kept = resolve_settings(cfg.replace(iterations=300, lr_decay=1e-3), ttbar, weighted=False)
    assert (kept.iterations, kept.lr_decay) == (300, 1e-3)  # settings given are used as given
    assert resolve_settings(cfg.replace(iterations=300), ttbar, weighted=False).lr_decay == pytest.approx(DECAY_SPAN / 300)


def test_a_weighted_sample_takes_its_own_regularisation(ttbar):
    cfg = load_card("default", overrides=TINY)
    assert cfg.reg_weight_weighted is not None and cfg.reg_weight_weighted != cfg.reg_weight
    assert resolve_settings(cfg, ttbar, weighted=True).reg_weight == cfg.reg_weight_weighted
    assert resolve_settings(cfg, ttbar, weighted=False).reg_weight == cfg.reg_weight


def test_asymmetric_beams_drop_the_z_reflection(ttbar):
    cfg = load_card("default", overrides=TINY | {"symmetries": ["azimuth", "reflect_z"]})
    asym = dataclasses.replace(ttbar, meta={**ttbar.meta, "beam_energies": [7000.0, 4000.0]})
    with pytest.warns(UserWarning, match="not symmetric"):
        used = resolve_settings(cfg, asym, weighted=False)
    assert used.symmetries == ["azimuth"]


def test_the_saved_settings_are_the_settings_used(ttbar, tmp_path):
    w = np.random.default_rng(1).uniform(0.5, 1.5, len(ttbar))
    weighted = dataclasses.replace(ttbar, weights=w)
    tr = Trainer(weighted, load_card("default", overrides=TINY), tmp_path)
    model = tr.fit()
    assert model.config == tr.cfg
    assert tr.cfg.reg_weight == tr.cfg.reg_weight_weighted and tr.cfg.conserve_pt is True
    assert load_card("default", tmp_path / "card.yaml") == tr.cfg
    assert TrainedModel.load(tmp_path / "model.pt").config == tr.cfg
