"""The trained networks evaluated in numpy, float32: generation on a CPU without native bf16 needs no torch.

A `model.mlp` (Linear, LeakyReLU(0.2), …, Linear) becomes an `Mlp` of its weights; `GeneratorNet` is
`model.Generator` on top of one. numpy's BLAS runs these products as fast as torch's fp32 kernels on an AVX2 CPU,
and a process that never imports torch starts 2 s sooner (torch's import alone takes 1.6–2.5 s).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from lhcgan.cpu import net_slice
from lhcgan.preprocessing import LOGISTIC

#: LeakyReLU's slope below zero, as `model.mlp` builds it
SLOPE = 0.2


class Mlp:
    """Linear layers with LeakyReLU between them: (B, n_in) float32 → (B, n_out) float32.

    Attributes:
        weights: per layer (n_in, n_out) float32, the transpose of torch's (out, in) weight.
        biases: per layer (n_out,) float32.
    """

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.weights = [np.ascontiguousarray(w, dtype=np.float32) for w in weights]
        self.biases = [np.ascontiguousarray(b, dtype=np.float32) for b in biases]

    @classmethod
    def from_state(cls, state: Mapping[str, Any], prefix: str = "") -> "Mlp":
        """The Mlp of a torch ``nn.Sequential``'s state dict (arrays or tensors), its keys ``prefix`` + "0.weight", …"""
        index = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(re.escape(prefix) + r"(\d+)\.weight", k)))
        if not index:
            raise ValueError(f"no layers {prefix}N.weight in the state ({', '.join(list(state)[:4])}, …)")
        return cls([np.asarray(state[f"{prefix}{i}.weight"]).T for i in index],
                   [np.asarray(state[f"{prefix}{i}.bias"]) for i in index])

    @property
    def n_in(self) -> int:
        return self.weights[0].shape[0]

    @property
    def width(self) -> int:
        """The widest layer's units."""
        return max(w.shape[1] for w in self.weights)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(B, n_in) → (B, n_out) float32, in slices whose activations stay in one core's L2 cache.

        Every product has the slice's rows, the last slice padded with zeros, on one BLAS thread: OpenBLAS
        rounds a row by where it sits in the product and by how its threads share it, so an event's numbers
        would otherwise depend on the batch around it and on the thread count. Slices this small gain
        little from a second thread; generation's processes keep every core busy instead.
        """
        x = np.asarray(x, np.float32)
        size = net_slice(self.width)
        n = len(x)
        padded = np.zeros((-(-n // size) * size, x.shape[1]), np.float32)
        padded[:n] = x
        out = np.empty((n, self.weights[-1].shape[1]), np.float32)
        with _blas().limit(limits=1, user_api="blas"):
            for i in range(0, n, size):
                out[i: i + size] = self._forward(padded[i: i + size])[: n - i]
        return out

    def _forward(self, x: np.ndarray) -> np.ndarray:
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = x @ w
            x += b
            if k < last:
                np.maximum(x, SLOPE * x, out=x)
        return x


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries (found once: the search walks every loaded library)."""
    return ThreadpoolController()


@dataclass
class GeneratorNet:
    """`model.Generator` in numpy: noise (B, latent) and condition (B, n_condition) → coordinates (B, n_out).

    Attributes:
        spec: the arguments that rebuild the torch generator (latent, hidden, layers, n_out, residual, n_condition).
        state: its state dict as float32 arrays (keys "net.0.weight", …), what a model file saves.
    """

    spec: dict[str, Any]
    state: dict[str, np.ndarray]
    mlp: Mlp = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.spec = {"n_condition": 0, **self.spec}  # files of earlier versions lack n_condition
        self.state = {k: np.asarray(v) for k, v in self.state.items()}
        self.mlp = Mlp.from_state(self.state, "net.")

    @property
    def latent(self) -> int:
        return int(self.spec["latent"])

    @property
    def n_condition(self) -> int:
        return int(self.spec["n_condition"])

    def __call__(self, z: np.ndarray, condition: np.ndarray | None = None) -> np.ndarray:
        """(B, latent) and (B, n_condition) → (B, n_out) float32; a residual generator adds its noise's first
        n_out components, as `model.Generator.forward` does."""
        z = np.asarray(z, np.float32)
        inputs = z
        if self.n_condition:
            assert condition is not None and condition.shape[-1] == self.n_condition, "the generator needs its condition"
            inputs = np.concatenate([z, np.asarray(condition, np.float32)], axis=1)
        x = self.mlp(inputs)
        if self.spec["residual"]:
            x += z[:, : int(self.spec["n_out"])]
        return x


def logistic_noise(n: int, latent: int, rng: np.random.Generator) -> np.ndarray:
    """(n, latent) unit-variance logistic noise, float32, from ``rng``'s uniforms (the generated stream's noise)."""
    u = np.clip(rng.random((n, latent), dtype=np.float32), 1e-7, 1 - 1e-7)
    return (np.log(u / (1 - u)) * np.float32(LOGISTIC)).astype(np.float32, copy=False)
