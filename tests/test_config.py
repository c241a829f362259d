import pytest

from lhcgan.config import FitConfig, load_card, parse_assignment, presets, save_card
from lhcgan.errors import ConfigError


def test_presets():
    assert {"default", "paper"} <= set(presets())
    paper = load_card("paper")
    assert (paper.layers, paper.hidden, paper.latent, paper.batch) == (10, 512, 18, 1024)
    assert (paper.lr, paper.betas, paper.reg_weight, paper.mmd_weight) == (1e-3, (0.5, 0.9), 1e-3, 1.0)
    assert paper.mmd_kernel == "breit-wigner" and paper.mmd_widths is None  # physical widths


def test_card_and_overrides(tmp_path):
    card = tmp_path / "c.yaml"
    card.write_text("hidden: 64\nmmd_kernel: gauss\n")
    cfg = load_card("default", card, {"hidden": 32, "seed": 9, "iterations": None})
    assert cfg.hidden == 32 and cfg.mmd_kernel == "gauss" and cfg.seed == 9
    assert cfg.iterations == load_card("default").iterations
    save_card(cfg, tmp_path / "back.yaml")
    assert load_card("default", tmp_path / "back.yaml") == cfg


def test_bad_settings(tmp_path):
    with pytest.raises(ConfigError, match="unknown settings"):
        load_card("default", overrides={"hiden": 3})
    with pytest.raises(ConfigError, match="unknown preset"):
        load_card("fastest")
    with pytest.raises(ConfigError, match="mmd_kernel"):
        FitConfig(mmd_kernel="laplace")
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_card("default", bad)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_assignment("layers")
    assert parse_assignment("mmd_widths={t: [1.42, 5]}") == ("mmd_widths", {"t": [1.42, 5]})
    for pairs in ([["pt_t", "eta_t"]], [["pt_t"]], [["pt_t", "pt_t"]], [["pt_t", "y_t", "y_tbar"]]):
        with pytest.raises(ConfigError, match="refine_pairs"):
            FitConfig(refine_pairs=pairs)
    assert FitConfig(refine_pairs=[("m_system", "pt_system")]).refine_pairs == [["m_system", "pt_system"]]


def test_older_models_settings_have_no_joint_terms():
    old = {k: v for k, v in FitConfig().to_dict().items() if k != "refine_pairs"}
    assert FitConfig.from_dict(old).refine_pairs == []


def test_older_models_settings_have_empirical_quantile_maps():
    old = {k: v for k, v in FitConfig().to_dict().items() if k != "smooth_marginals"}
    assert FitConfig.from_dict(old).smooth_marginals is False and FitConfig().smooth_marginals is True


def test_the_dataclass_defaults_are_the_default_card():
    assert FitConfig() == load_card("default")
    assert FitConfig().to_dict() == load_card("default").to_dict() | {"preset": "default"}


def test_the_settings_reference_is_made_from_the_settings_and_is_current():
    """docs/settings.md is `settings_reference()`'s output, and every setting has its description."""
    import dataclasses
    from pathlib import Path

    from lhcgan.config import FitConfig, _attribute_docs, settings_reference

    fields = {f.name for f in dataclasses.fields(FitConfig)} - {"preset"}
    assert fields <= set(_attribute_docs()), f"settings without a description: {sorted(fields - set(_attribute_docs()))}"
    path = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
    assert path.read_text() == settings_reference(), "regenerate: python -m lhcgan.config > docs/settings.md"
