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
