"""Shared fixtures: small seeded Pythia 8 tt̄ samples."""

from __future__ import annotations

from pathlib import Path

import pytest

import lhcgan
from lhcgan.simulate import simulate


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
