"""Exact symmetries: they keep masses, pT and balance, invert exactly, and agree in numpy and torch."""

import numpy as np
import pytest
import torch

from lhcgan import physics
from lhcgan.symmetry import SYMMETRIES, randomise, reflect_z, symmetric_beams
from lhcgan.sample import symmetrised


@pytest.mark.parametrize("name", SYMMETRIES)
def test_symmetry_keeps_masses_pt_and_balance(ttbar, name):
    p = ttbar.momenta[:500]
    q = randomise(p, [name], np.random.default_rng(0).random)
    assert not np.allclose(q, p)
    np.testing.assert_allclose(physics.resonance_masses(q, ttbar.process), physics.resonance_masses(p, ttbar.process),
                               rtol=1e-12)
    np.testing.assert_allclose(physics.pt(q), physics.pt(p), rtol=1e-12)
    np.testing.assert_allclose(physics.pt_balance(q), physics.pt_balance(p), atol=1e-12)
    m = ttbar.masses[:500]  # each event's own: a transform keeps the flavours
    np.testing.assert_allclose(physics.invariant_mass(q, m), physics.invariant_mass(p, m), rtol=1e-12)


def test_reflection_is_its_own_inverse_and_flips_rapidities(ttbar):
    p = ttbar.momenta[:200]
    flip = np.arange(200) % 2 == 0
    q = reflect_z(p, flip)
    np.testing.assert_array_equal(reflect_z(q, flip), p)
    np.testing.assert_allclose(physics.eta(q[flip]), -physics.eta(p[flip]), atol=1e-12)
    np.testing.assert_array_equal(q[~flip], p[~flip])


def test_rotation_inverts_and_shifts_phi(ttbar):
    p = ttbar.momenta[:200]
    angle = np.random.default_rng(1).uniform(-np.pi, np.pi, 200)
    q = physics.rotate_azimuth(p, angle)
    np.testing.assert_allclose(physics.rotate_azimuth(q, -angle), p, atol=1e-9)
    dphi = physics.phi(q[:, 0]) - physics.phi(p[:, 0]) - angle
    np.testing.assert_allclose(np.cos(dphi), 1, atol=1e-9)


def test_numpy_and_torch_agree(ttbar):
    p = ttbar.momenta[:100]
    u = np.random.default_rng(2).random((2, 100))
    rows_np, rows_torch = iter(u), iter(torch.as_tensor(u))
    a = randomise(p, list(SYMMETRIES), lambda n: next(rows_np))
    b = randomise(torch.as_tensor(p), list(SYMMETRIES), lambda n: next(rows_torch))
    np.testing.assert_allclose(b.numpy(), a, rtol=1e-12, atol=1e-9)


def test_symmetrised_sample_is_exactly_symmetric(ttbar):
    w = np.linspace(-0.5, 2, len(ttbar))
    p, pw = symmetrised(ttbar.momenta, w, ["azimuth", "reflect_z"], seed=1)
    assert len(p) == len(pw) == 2 * len(ttbar)
    np.testing.assert_array_equal(pw, np.concatenate([w, w]))  # a mirror image keeps its event's weight
    eta = physics.eta(p[:, 0])
    np.testing.assert_allclose(np.sort(eta), np.sort(-eta), atol=1e-9)  # the η marginals are symmetric
    assert abs(np.mean(np.cos(physics.phi(p[:, 0])))) < 0.05


def test_unknown_symmetry_and_asymmetric_beams():
    with pytest.raises(ValueError, match="unknown symmetry"):
        randomise(np.zeros((1, 6, 3)), ["cp"], np.random.default_rng(0).random)
    assert symmetric_beams({}) and symmetric_beams({"beams": [2212, 2212], "beam_energies": [6500.0, 6500.0]})
    assert not symmetric_beams({"beams": [2212, 1000822080], "beam_energies": [6500.0, 2560.0]})
    assert not symmetric_beams({"beams": [2212, 2212], "beam_energies": [6500.0, 4000.0]})


@pytest.mark.parametrize("name", SYMMETRIES)
def test_every_symmetry_keeps_its_contract(ttbar, name):
    """The registry's promises: an image is one of the transforms (it keeps what they keep), and z_odd says
    whether rapidities change sign; `holds` accepts the LHC's equal beams."""
    sym = SYMMETRIES[name]
    p = ttbar.momenta[:300]
    moved = sym.transform(p, np.random.default_rng(1).random(len(p)))
    flipped_eta = np.isclose(physics.eta(moved), -physics.eta(p), atol=1e-9).all(axis=1)
    same_eta = np.isclose(physics.eta(moved), physics.eta(p), atol=1e-9).all(axis=1)
    if sym.z_odd:
        assert flipped_eta.any() and (flipped_eta | same_eta).all()
    else:
        assert same_eta.all()
    if sym.image is not None:
        q = sym.image(p)
        np.testing.assert_allclose(physics.pt(q), physics.pt(p), rtol=1e-12)
        assert not np.allclose(q, p)
    assert sym.holds({"beams": [2212, 2212], "beam_energies": [6500.0, 6500.0]})
