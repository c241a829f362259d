import numpy as np
import torch

from lhcgan.preprocessing import Standardizer


def sample(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal([[10, -5, 300]] * 6, [[40, 60, 800]] * 6, size=(n, 6, 3))


def test_standardised_coordinates():
    p = sample()
    pre = Standardizer.fit(p)
    x = pre.forward(p)
    assert x.shape == (2000, 18)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=0), 1, rtol=1e-12)


def test_inverse_float64_numpy_and_torch():
    p = sample()
    pre = Standardizer.fit(p)
    np.testing.assert_allclose(pre.inverse(pre.forward(p)), p, rtol=1e-13, atol=1e-10)
    t = torch.tensor(p)
    back = pre.inverse(pre.forward(t))
    assert back.dtype == torch.float64
    np.testing.assert_allclose(back.numpy(), p, rtol=1e-13, atol=1e-10)
    np.testing.assert_allclose(pre.forward(t).numpy(), pre.forward(p), rtol=1e-13)


def test_state_round_trip():
    pre = Standardizer.fit(sample())
    other = Standardizer.from_state_dict(pre.state_dict())
    p = sample(10, 1)
    np.testing.assert_array_equal(other.forward(p), pre.forward(p))


def test_decay_parametrisation_inverse_float64(ttbar):
    from lhcgan.preprocessing import DecayParametrisation

    pre = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    x = pre.forward(ttbar.momenta)
    assert x.shape == (len(ttbar), 18)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-10)
    back = pre.inverse(x)
    np.testing.assert_allclose(back, ttbar.momenta, rtol=1e-9, atol=1e-8)
    # torch gives the same numbers, and gradients flow back to the coordinates
    xt = torch.tensor(x, requires_grad=True)
    bt = pre.inverse(xt)
    np.testing.assert_allclose(bt.detach().numpy(), back, rtol=1e-12, atol=1e-10)
    bt.sum().backward()
    assert torch.isfinite(xt.grad).all()
    state = DecayParametrisation.from_state_dict(pre.state_dict(), ttbar.process)
    np.testing.assert_array_equal(state.forward(ttbar.momenta), x)


def test_decay_parametrisation_is_on_shell_and_balanced_for_any_input(ttbar):
    from lhcgan import physics
    from lhcgan.preprocessing import DecayParametrisation

    pre = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    raw = pre.to_raw(ttbar.momenta)
    masses = ttbar.resonance_masses()
    # the mass coordinates are the resonance masses: t, W+ for the first cascade
    np.testing.assert_allclose(172.5 + 0.71 * np.sinh(raw[:, 3]), masses[:, 2], rtol=1e-12)
    np.testing.assert_allclose(80.4 + 1.0425 * np.sinh(raw[:, 4]), masses[:, 0], rtol=1e-12)
    z = np.random.default_rng(0).normal(0, 2, size=(20000, 18))  # far outside the training region
    p = pre.inverse(z, conserve_pt=True)
    assert np.isfinite(p).all()
    assert physics.pt_balance(p).max() < 1e-13
    m_wp = physics.invariant_mass(p, ttbar.masses, [1, 2])
    m_t = physics.invariant_mass(p, ttbar.masses, [0, 1, 2])
    energy = physics.to_four_momenta(p[:, :3], ttbar.masses[:3])[..., 0].sum(axis=1)
    physical = energy < 6500  # beyond, η reaches 15 and float64 rounding grows like γ²
    assert physical.mean() > 0.5
    assert (m_t[physical] > m_wp[physical] + 4.7 - 1e-6).all()  # above threshold by construction
