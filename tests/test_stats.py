import numpy as np

from lhcgan.stats import weighted_mean_std


def test_integer_weights_equal_duplicated_events():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    k = rng.integers(1, 5, size=200)
    mean, std = weighted_mean_std(x, k.astype(float))
    np.testing.assert_allclose(mean, np.repeat(x, k, axis=0).mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, np.repeat(x, k, axis=0).std(0), rtol=1e-12)
    np.testing.assert_allclose(weighted_mean_std(x)[1], x.std(0), rtol=1e-12)


def test_negative_weights_take_events_back():
    x = np.array([0.0, 1.0, 5.0, 5.0])
    mean, std = weighted_mean_std(x, np.array([1.0, 1.0, 1.0, -1.0]))  # the 5s cancel
    assert mean == 0.5 and std == 0.5
