"""The invertible map between 3-momenta (N, 6, 3) GeV and the network's (N, 18) tensor.

Each of the 18 coordinates is standardised to zero mean and unit variance, with
statistics fitted on the training sample and saved with the model. The map is
linear, so it is exactly invertible and works on numpy arrays and torch tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lhcgan.physics import Array, lib


class Standardizer:
    """Per-coordinate standardisation of flattened momenta.

    Attributes:
        mean: (18,) float64, GeV.
        scale: (18,) float64, GeV, strictly positive.
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.scale = np.asarray(scale, dtype=np.float64).reshape(-1)
        assert self.mean.shape == self.scale.shape and (self.scale > 0).all()

    @property
    def dim(self) -> int:
        return len(self.mean)

    @classmethod
    def fit(cls, momenta: np.ndarray) -> "Standardizer":
        """Fit on training momenta (N, n, 3) GeV."""
        flat = np.asarray(momenta, dtype=np.float64).reshape(len(momenta), -1)
        scale = flat.std(axis=0)
        return cls(flat.mean(axis=0), np.where(scale > 0, scale, 1.0))

    def _constants(self, like: Array) -> tuple[Any, Any]:
        if lib(like) is np:
            return self.mean.astype(like.dtype), self.scale.astype(like.dtype)
        torch = lib(like)
        kw = {"dtype": like.dtype, "device": like.device}
        return torch.as_tensor(self.mean, **kw), torch.as_tensor(self.scale, **kw)

    def forward(self, momenta: Array) -> Array:
        """(N, n, 3) GeV → (N, 3n) standardised."""
        flat = momenta.reshape(momenta.shape[0], -1)
        mean, scale = self._constants(flat)
        return (flat - mean) / scale

    def inverse(self, x: Array) -> Array:
        """(N, 3n) standardised → (N, n, 3) GeV."""
        mean, scale = self._constants(x)
        return (x * scale + mean).reshape(x.shape[0], -1, 3)

    def state_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, list[float]]) -> "Standardizer":
        return cls(np.array(state["mean"]), np.array(state["scale"]))
