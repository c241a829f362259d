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
