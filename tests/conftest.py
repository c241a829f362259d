"""Shared fixtures: small seeded Pythia 8 tt̄ samples."""

from __future__ import annotations

from pathlib import Path

import pytest

import lhcgan
from lhcgan.pipeline import fit
from lhcgan.modelfile import TrainedModel
from lhcgan.simulate import simulate
from tests.shared import HIGH, LOW


@pytest.fixture(scope="session")
def ttbar_lhe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3000 Pythia 8 tt̄ → 6 quark events at 13 TeV, seed 42, Pythia's own LHEF output."""
    path = tmp_path_factory.mktemp("pythia") / "ttbar.lhe"
    simulate(3000, path, seed=42)
    return path


@pytest.fixture(scope="session")
def ttbar(ttbar_lhe: Path) -> lhcgan.Events:
    return lhcgan.read(ttbar_lhe)


@pytest.fixture(scope="session")
def all_channels(tmp_path_factory: pytest.TempPathFactory) -> lhcgan.Events:
    """2000 Pythia 8 tt̄ events of every channel (W → q q̄′, e ν, μ ν) at 13 TeV, seed 43."""
    path = tmp_path_factory.mktemp("pythia_all") / "all.root"
    simulate(2000, path, seed=43, channel="all")
    return lhcgan.read(path)


@pytest.fixture(scope="session")
def mt_samples(tmp_path_factory) -> dict[float, str]:
    """1500 all-hadronic Pythia 8 events at each of m_t = 170 and 176 GeV (seeds 51, 52), ROOT."""
    folder = tmp_path_factory.mktemp("mt")
    out = {}
    for seed, mt in ((51, LOW), (52, HIGH)):
        out[mt] = str(folder / f"mt{mt:g}.root")
        simulate(1500, out[mt], seed=seed, mt=mt, progress=False)
    return out


@pytest.fixture(scope="session")
def mt_model(mt_samples, tmp_path_factory) -> TrainedModel:
    run = tmp_path_factory.mktemp("mtfit")
    result = fit([mt_samples[LOW], mt_samples[HIGH]], conditions=["mt"], out=run, validate=False, events=100,
                 overrides={"iterations": 150, "batch": 256, "select_every": 50, "layers": 3, "hidden": 64,
                            "disc_layers": 3, "disc_hidden": 64})
    assert result.model.conditioning is not None
    return TrainedModel.load(run / "model.pt")


@pytest.fixture(scope="session")
def mt_joined(mt_samples):
    """The two m_t samples as one training sample with per-event m_t, and its `Conditioning`."""
    from lhcgan.conditions import join_samples

    return join_samples([lhcgan.read(mt_samples[LOW]), lhcgan.read(mt_samples[HIGH])], ["mt"])


# -- markers: `pythia` for tests that run Pythia 8 (themselves or through a fixture), so that
# `pytest -m "not pythia and not slow"` is a fast tier -------------------------------------------------

_PYTHIA_CALLS = ("simulate(", "pythia8", "Pythia(", "getfixturevalue(")  # the last: the samples above, by name


def _runs_pythia(func, seen: dict) -> bool:
    import inspect

    if func not in seen:
        try:
            seen[func] = any(s in inspect.getsource(func) for s in _PYTHIA_CALLS)
        except (OSError, TypeError):
            seen[func] = False
    return seen[func]


def pytest_collection_modifyitems(config, items) -> None:
    seen: dict = {}
    for item in items:
        defs = [d for ds in item._fixtureinfo.name2fixturedefs.values() for d in ds]
        funcs = [getattr(item, "function", None), *(d.func for d in defs)]
        if any(f is not None and _runs_pythia(f, seen) for f in funcs):
            item.add_marker(pytest.mark.pythia)
