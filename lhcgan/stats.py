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
