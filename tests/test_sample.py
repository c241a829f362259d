"""The training sample as training takes it: weights checked, sparse weighted regions named."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lhcgan.events import Events
from lhcgan.system import system_features
from lhcgan.sample import check_weights, sparse_regions


def images(events: Events, k: int, seed: int = 0) -> Events:
    """``events`` k times over, each copy turned by random azimuths: a larger sample of the same distribution."""
    rng = np.random.default_rng(seed)
    p = np.concatenate([events.momenta] * k)
    a = rng.uniform(0, 2 * np.pi, len(p))[:, None]
    c, s = np.cos(a), np.sin(a)
    turned = np.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1], p[..., 2]], -1)
    return Events(turned, np.concatenate([events.pdg] * k))


def biased(events: Events, power: float, seed: int = 0) -> Events:
    """An importance-sampled copy of ``events``: each kept with probability min(1, (pT(t)/100 GeV)^power) and
    weighted by its inverse, as `simulate --bias` samples (an unbiased estimate of the same distribution)."""
    pt = system_features(events.momenta, events.masses, events.process)["pt_t"]
    keep = np.minimum(1.0, (pt / 100.0) ** power)
    chosen = np.random.default_rng(seed).random(len(pt)) < keep
    return Events(events.momenta[chosen], events.pdg[chosen], 1.0 / keep[chosen])


def test_a_sample_biased_in_pt_is_sparse_at_low_pt(ttbar):
    sample = biased(images(ttbar, 10), 2.0)
    found = sparse_regions(sample)
    assert found and all(d.startswith("pt_t, pt_tbar <") for d, _ in found)  # both tops' pT: one region
    low = system_features(sample.momenta, sample.masses, sample.process)["pt_t"] < float(found[0][0].split("< ")[1].split(" ")[0])
    assert np.abs(sample.weights[low]).sum() / np.abs(sample.weights).sum() == pytest.approx(0.02, abs=0.01)
    assert 0 < found[0][1] < 0.02  # the normalisation uncertainty it brings: share/√N_eff
    with pytest.warns(UserWarning, match=r"few effective events describe pt_t, pt_tbar < .* GeV: .* of Σ\|w\| in \d+ events"):
        check_weights(sample)


def test_mild_or_no_weights_leave_no_sparse_region(ttbar):
    assert sparse_regions(ttbar) == []
    assert sparse_regions(biased(images(ttbar, 10), 0.5)) == []  # a mild bias
    mild = np.random.default_rng(1).uniform(0.5, 1.5, len(ttbar))
    assert sparse_regions(Events(ttbar.momenta, ttbar.pdg, mild)) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_weights(Events(ttbar.momenta, ttbar.pdg, mild))


def test_a_cancelling_region_is_sparse(ttbar):
    """Negative weights that cancel the positive ones in an end leave it without effective events."""
    m = system_features(ttbar.momenta, ttbar.masses, ttbar.process)["m_system"]
    top = m > np.quantile(m, 0.97)
    w = np.where(top, np.where(np.arange(len(m)) % 2 == 0, 5.0, -4.0), 1.0)
    found = sparse_regions(Events(ttbar.momenta, ttbar.pdg, w))
    assert any(d.startswith("m_system >") for d, _ in found)
