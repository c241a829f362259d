"""The MMD kernels of the resonance-mass loss, by name: what the `mmd_kernel` setting may say."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lhcgan.physics import Array, lib


@dataclass(frozen=True)
class Kernel:
    """An MMD kernel of the squared distance d² (GeV²), in one of two families the fused MMD evaluates:
    "exp", k = exp(c d²), or "rational", k = c / (d² + c), with c = ``constant(width)``.

    Attributes:
        name: the `mmd_kernel` setting.
        family: "exp" or "rational".
        constant: kernel width (GeV) → c.
    """

    name: str
    family: str
    constant: Callable[[Any], Any]

    def __call__(self, d2: Array, width: float) -> Array:
        """k of the squared distances d² (GeV², numpy or torch) at ``width`` GeV."""
        c = self.constant(width)
        return lib(d2).exp(c * d2) if self.family == "exp" else c / (d2 + c)


#: Every kernel by name:
#: * breit-wigner: (Γ/2)² / (d² + (Γ/2)²), a Lorentzian whose full width at half maximum is Γ = width;
#: * cauchy: 1 / (1 + d² / σ²), the same family with σ = width as half width;
#: * gauss: exp(−d² / 2σ²).
KERNELS: dict[str, Kernel] = {k.name: k for k in (
    Kernel("breit-wigner", "rational", lambda w: (w / 2) ** 2),
    Kernel("cauchy", "rational", lambda w: w**2),
    Kernel("gauss", "exp", lambda w: -0.5 / w**2),
)}
