import numpy as np
import pytest
import torch
import vector

from lhcgan import physics
from lhcgan.process import TTBAR


@pytest.fixture
def momenta() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.normal(0, 80, size=(500, 6, 3))


@pytest.fixture
def masses() -> np.ndarray:
    """Slot masses (500, 6) GeV of events in every channel: a τ's where a W decays to τν."""
    rng = np.random.default_rng(2)
    pdg = np.stack([rng.choice(s.pdg, 20_000) for s in TTBAR.slots], axis=1)
    out = TTBAR.masses_of(pdg[TTBAR.channel_of(pdg) >= 0][:500])
    assert len(np.unique(out, axis=0)) > 2  # τ slots in both W
    return out


def test_kinematics_match_vector(momenta, masses):
    m = masses
    v = vector.array({"px": momenta[..., 0], "py": momenta[..., 1], "pz": momenta[..., 2], "mass": m})
    np.testing.assert_allclose(physics.pt(momenta), v.pt, rtol=1e-12)
    np.testing.assert_allclose(physics.eta(momenta), v.eta, rtol=1e-10)
    np.testing.assert_allclose(physics.phi(momenta), v.phi, rtol=1e-12)
    np.testing.assert_allclose(physics.energy(momenta, masses), v.E, rtol=1e-12)
    p4 = physics.to_four_momenta(momenta, masses)
    np.testing.assert_allclose(physics.rapidity(p4), v.rapidity, rtol=1e-9, atol=1e-12)
    torch_y = physics.rapidity(torch.tensor(p4))
    np.testing.assert_allclose(torch_y.numpy(), physics.rapidity(p4), rtol=1e-12)
    for r in TTBAR.resonances:
        total = v[:, r.members[0]]
        for i in r.members[1:]:
            total = total + v[:, i]
        np.testing.assert_allclose(physics.invariant_mass(momenta, masses, r.members), total.mass, rtol=1e-9)


def test_pt_eta_phi_round_trip(momenta):
    back = physics.from_pt_eta_phi(physics.pt(momenta), physics.eta(momenta), physics.phi(momenta))
    np.testing.assert_allclose(back, momenta, rtol=1e-10, atol=1e-10)


def test_four_momenta_inverse(momenta, masses):
    p4 = physics.to_four_momenta(momenta, masses)
    assert p4.shape == (500, 6, 4)
    np.testing.assert_array_equal(physics.from_four_momenta(p4), momenta)
    m2 = p4[..., 0] ** 2 - (p4[..., 1:] ** 2).sum(-1)
    np.testing.assert_allclose(np.sqrt(np.clip(m2, 0, None)), masses, atol=1e-5)


def test_numpy_and_torch_agree(momenta, masses):
    t = torch.tensor(momenta)
    for f in (physics.pt, physics.eta, physics.phi, physics.pt_balance):
        np.testing.assert_allclose(f(t).numpy(), f(momenta), rtol=1e-12)
    np.testing.assert_allclose(
        physics.resonance_masses(t, TTBAR, torch.tensor(masses)).numpy(), physics.resonance_masses(momenta, TTBAR, masses), rtol=1e-12
    )


def test_torch_masses_are_float64_and_differentiable(momenta, masses):
    t = torch.tensor(momenta, dtype=torch.float32, requires_grad=True)
    m = physics.resonance_masses(t, TTBAR, masses)
    assert m.dtype == torch.float64
    m.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all() and (t.grad != 0).any()


def test_mass_of_boosted_w_keeps_precision():
    # a W of 80.4 GeV at pz = 5 TeV: E² − p² cancels to 1 part in 4000
    m_w, pz = 80.4, 5000.0
    e = np.hypot(m_w, pz)
    # two massless daughters back to back in the W frame along x, boosted along z
    beta, gamma = pz / e, e / m_w
    k = m_w / 2
    p1 = np.array([[k, 0.0, gamma * beta * k]])
    p2 = np.array([[-k, 0.0, gamma * beta * k]])
    p = np.stack([p1, p2], axis=1).astype(np.float32)
    m = physics.invariant_mass(p, [0.0, 0.0])
    assert abs(m[0] - m_w) < 0.05  # float32 inputs, float64 arithmetic


def test_pt_balance_of_balanced_event_is_zero(momenta):
    p = momenta.copy()
    p[:, -1, :2] -= p[:, :, :2].sum(axis=1)
    assert np.all(physics.pt_balance(p) < 1e-14)
    assert np.all(physics.pt_balance(momenta) > 1e-6)


def test_delta_r_wraps_phi():
    a = np.array([[1.0, 0.01, 0.0]])
    b = np.array([[1.0, -0.01, 0.0]])
    c = np.array([[-1.0, 0.01, 0.0]])
    assert physics.delta_r(a, b)[0] == pytest.approx(0.02, rel=1e-3)
    assert physics.delta_r(c, np.array([[-1.0, -0.01, 0.0]]))[0] == pytest.approx(0.02, rel=1e-3)
