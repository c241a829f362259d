import numpy as np

from lhcgan.stats import kernel_cdf, smoothed_cdf, smoothed_quantiles, weighted_mean_std


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


def test_the_kernel_cdf_keeps_the_sample_mean_and_variance():
    x = np.random.default_rng(1).gamma(3.0, 2.0, 20_000)
    edges, cdf = kernel_cdf(x)
    assert cdf[0] == 0 and abs(cdf[-1] - 1) < 1e-12 and (np.diff(cdf) >= 0).all()
    centres, p = 0.5 * (edges[1:] + edges[:-1]), np.diff(cdf)
    mean = (p * centres).sum()
    var = (p * (centres - mean) ** 2).sum()
    # binning moves each event by at most half a cell: the mean by ≤ Δ/2, the variance by ≤ σΔ + Δ²
    cell, sd = edges[1] - edges[0], x.std()
    assert abs(mean - x.mean()) <= cell
    assert abs(var - sd**2) <= 2 * sd * cell + cell**2
    # a Gaussian kernel of Silverman's width, 1.06 σ N^(−1/5), shrunk: the CDF reaches beyond the sample by 6 of them
    h = 1.06 * sd * len(x) ** -0.2
    assert edges[0] < x.min() - 5 * h / np.sqrt(1 + (h / sd) ** 2)


def test_smoothing_takes_out_part_of_a_sample_fluctuations_in_deciles_without_a_bias():
    """30 samples of 20 000 Gumbel events (skewed, with one steep and one long tail): the squared deviations of
    their deciles from the exact CDF's sum to 0.67–0.73 of the empirical ones' smoothed (seeds 6–11)."""
    rng = np.random.default_rng(6)
    edges = np.concatenate([[-np.inf], -np.log(-np.log(np.linspace(0.1, 0.9, 9))), [np.inf]])
    empirical, smoothed = [], []
    for _ in range(30):
        x = rng.gumbel(size=20_000)
        grid, cdf = smoothed_cdf(x)
        assert (np.diff(cdf) >= 0).all() and cdf[0] < 1e-12 and cdf[-1] > 1 - 1e-9
        empirical.append(np.diff(np.searchsorted(np.sort(x), edges)) / len(x) / 0.1 - 1)
        smoothed.append(np.diff(np.interp(edges, grid, cdf, left=0.0, right=1.0)) / 0.1 - 1)
    empirical, smoothed = np.array(empirical), np.array(smoothed)
    # the empirical deviations have the binomial variance 0.9 / 2 000 per decile, within their noise
    assert 0.8 < (empirical**2).mean() / (0.9 / 2000) < 1.25
    assert (smoothed**2).sum() < 0.85 * (empirical**2).sum()
    # the mean over 30 samples is 2.1 %/√30 = 0.4 % noisy per decile: a bias of 1.5 % would be 3.5σ
    assert np.abs(smoothed.mean(axis=0)).max() < 0.015


def test_weighted_smoothing_follows_signed_weights():
    rng = np.random.default_rng(2)
    base, excess = rng.normal(0.0, 1.0, 40_000), rng.normal(2.0, 0.5, 10_000)
    x = np.concatenate([base, excess, excess])
    w = np.concatenate([np.ones(40_000), np.ones(10_000), -np.ones(10_000)])  # the excess taken back
    q = smoothed_quantiles(x, np.array([0.25, 0.5, 0.75]), w)
    # the base's quartiles, ±0.674, to the base's sampling noise (≈ 0.007) and the kernel's shape (≈ 0.01)
    np.testing.assert_allclose(q, [-0.674, 0.0, 0.674], atol=0.03)
