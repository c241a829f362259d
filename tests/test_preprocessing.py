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
