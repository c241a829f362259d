"""Weighted sample statistics, shared by preprocessing, training and validation."""

from __future__ import annotations

import numpy as np


def weighted_mean_std(x: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation along axis 0 of x (N, ...), with (N,) weights (signed allowed) where given.

    The variance is clipped at 0, which signed weights can otherwise undershoot.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    mean = np.tensordot(w, x, axes=1) / w.sum()
    var = np.tensordot(w, (x - mean) ** 2, axes=1) / w.sum()
    return mean, np.sqrt(np.clip(var, 0, None))


def row_shares(x: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows (K, D) of x (N, D) and each one's share (K,) of the events, of Σw where weighted
    (a row whose signed sum is negative gets 0); the shares sum to 1 unless every row's sum is ≤ 0."""
    rows, inverse = np.unique(x, axis=0, return_inverse=True)
    share = np.clip(np.bincount(inverse.ravel(), weights=weights, minlength=len(rows)), 0, None)
    return rows, share / (share.sum() or 1.0)


def kish_size(sum_w: float, sum_w2: float) -> float:
    """Kish's effective sample size (Σw)²/Σw² from the two sums (0 for an empty sample)."""
    return sum_w**2 / sum_w2 if sum_w2 > 0 else 0.0


def effective_size(weights: np.ndarray | None, n: int) -> float:
    """(Σw)²/Σw² of (N,) weights; n when unweighted."""
    if weights is None:
        return float(n)
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / max((w * w).sum(), 1e-300))


def weighted_quantiles(x: np.ndarray, levels: np.ndarray, weights: np.ndarray | None = None, *,
                       magnitude: bool = False) -> np.ndarray:
    """Quantiles of x at ``levels`` (K,): (K,) for x (N,), (K, D) for the columns of x (N, D).

    Weighted, they invert the weighted CDF. Signed weights give a CDF that can dip locally: it is made
    monotone (running maximum) first, or with ``magnitude`` built from |w| (bin edges, which need only
    cover the sample).
    """
    x = np.asarray(x)
    if weights is None:
        return np.quantile(x, levels, axis=0)
    w = np.asarray(weights, dtype=np.float64)
    w = np.abs(w) if magnitude else w
    cols = x[:, None] if x.ndim == 1 else x
    out = np.empty((len(levels), cols.shape[1]))
    for d in range(cols.shape[1]):
        order = np.argsort(cols[:, d], kind="stable")
        cdf = np.maximum.accumulate(np.clip(np.cumsum(w[order]) / w.sum(), 0, 1))
        out[:, d] = np.interp(levels, cdf, np.asarray(cols[order, d], dtype=np.float64))
    return out[:, 0] if x.ndim == 1 else out


def weighted_cdf(x: np.ndarray, weights: np.ndarray | None, at: np.ndarray) -> np.ndarray:
    """F(at) = Σ_{x ≤ at} w / Σw of a (weighted) sample x (N,) at the points ``at`` (M,); signed weights enter
    with their sign."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    cw = np.cumsum(np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)[order])
    i = np.searchsorted(xs, at, side="right")
    return np.where(i > 0, cw[np.maximum(i - 1, 0)], 0.0) / cw[-1]


#: grid cells of `kernel_cdf`'s binned kernel density estimate: where 2M events span 60 σ, a cell is still 1/14
#: of the kernel's width
SMOOTH_GRID = 1 << 14


def kernel_cdf(x: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The CDF of a Gaussian kernel density estimate of x (N,) that keeps its mean and variance, on a grid: its
    edges (G + 1,) and the CDF there (G + 1,), G = `SMOOTH_GRID`; signed weights allowed (made monotone).

    The sample is shrunk towards its mean by 1/√(1 + h²/σ²) and each event spread as a Gaussian of width
    h/√(1 + h²/σ²), h = 1.06 σ N_eff^(−1/5) (Silverman's rule), so mean and variance stay the sample's.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    mean, sd = (float(v) for v in weighted_mean_std(x, w))
    h = 1.06 * sd * effective_size(weights, len(x)) ** -0.2
    shrink = 1.0 / np.sqrt(1.0 + (h / sd) ** 2) if sd > 0 else 1.0
    y, width = mean + (x - mean) * shrink, max(h * shrink, 1e-12 * (1.0 + abs(mean)))
    edges = np.linspace(y.min() - 6 * width, y.max() + 6 * width, SMOOTH_GRID + 1)
    mass = np.histogram(y, edges, weights=w)[0] / w.sum()
    step = edges[1] - edges[0]
    reach = int(np.ceil(6 * width / step))
    kernel = np.exp(-0.5 * (np.arange(-reach, reach + 1) * step / width) ** 2)
    density = np.convolve(mass, kernel / kernel.sum(), mode="same")
    cdf = np.maximum.accumulate(np.clip(np.concatenate([[0.0], np.cumsum(density)]), 0, 1))
    return edges, cdf


def smoothed_cdf(x: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A smooth estimate of the CDF of x (N,), on a grid: its edges (G + 1,) and the CDF there (G + 1,).

    Two `kernel_cdf` passes: the first maps x onto y = logit F₁(x), near logistic whatever x's shape; the
    second smooths the sample in y, whose tails are exponential and whose centre has no flat top, so a
    Gaussian kernel's bias stays small there (one pass on x thickens a steep tail and rounds a flat top:
    on 22 500 tt̄ events it moved the tops' η by 2 % in places). An empirical CDF carries the sample's own
    fluctuations (about 2 % in a decile of 22 500 events); this one, on 40 samples of 22 500 tt̄ events, had a worst decile about
    an eighth closer to truth in the tops' log pT and η (3.2 % against 3.7 %, 3.1 % against 3.6 %).
    """
    grid, first = kernel_cdf(x, weights)
    y_grid, second = kernel_cdf(_logit(np.interp(x, grid, first)), weights)
    # beyond the first pass's reach its CDF is 0 or 1: its logit is clipped far outside the second grid's range
    return grid, np.maximum.accumulate(np.interp(_logit(first), y_grid, second, left=0.0, right=1.0))


def _logit(u: np.ndarray) -> np.ndarray:
    """log(u / (1 − u)) of (N,) u ∈ [0, 1], clipped to [1e-16, 1 − 1e-16] first (finite: ±36.8)."""
    u = np.clip(u, 1e-16, 1 - 1e-16)
    return np.log(u) - np.log1p(-u)


def smoothed_quantiles(x: np.ndarray, levels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Quantiles (K,) at ``levels`` (K,) of x (N,)'s `smoothed_cdf`, within the sample's range widened by the
    kernel."""
    edges, cdf = smoothed_cdf(x, weights)
    return np.interp(levels, cdf, edges)
