"""The generator's coordinates back to momenta, written once for numpy arrays and torch tensors.

Training maps its generated batches back in torch (`model.Bridge` holds a `Decoder`); generation on a CPU
without native bf16 does the same in numpy, without importing torch (`lhcgan.numpynet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lhcgan import physics
from lhcgan.conditions import Conditioning
from lhcgan.physics import Array, lib
from lhcgan.preprocessing import DecayParametrisation, Parametrisation, Poles
from lhcgan.process import Process


def project_pt(p: Array) -> Array:
    """Orthogonal projection onto Σpx = Σpy = 0: (B, n, 3) → (B, n, 3), GeV.

    The same shift goes to every particle, the smallest change that balances the event.
    """
    shift = p[..., :2].sum(-2)[..., None, :] / p.shape[-2]
    return lib(p).concatenate([p[..., :2] - shift, p[..., 2:]], -1)


@dataclass
class Decoder:
    """Network coordinates (B, 18) and their condition (B, n_condition) → momenta (B, 6, 3) float64 GeV.

    The condition is the decay channel's columns (``process.n_condition``), then the ``conditioning``'s
    parameters mapped onto [−1, 1]; a pole-mass parameter sets the pole each event's masses are measured from.
    """

    param: Parametrisation
    process: Process
    conserve_pt: bool
    conditioning: Conditioning | None = None

    def values(self, condition: Array | None) -> Array | None:
        """The parameter values (B, P) float64, in their units, of a condition (B, n_condition); None if none."""
        if self.conditioning is None or condition is None:
            return None
        return self.conditioning.from_network(condition[:, self.process.n_condition:])

    def poles(self, condition: Array | None) -> Poles | None:
        """The per-event poles {particle: (B,) GeV} a condition (B, n_condition) sets, or None."""
        values = self.values(condition)
        return None if values is None or self.conditioning is None else self.conditioning.poles(values) or None

    def slot_masses(self, condition: Array | None) -> Array | None:
        """The slots' masses (B, 6) float64 GeV that a condition (B, n_condition) sets through its decay modes
        (a τ has its mass); None where the process fixes them."""
        if self.process.fixed_masses:
            return None
        assert condition is not None, "a process whose channels differ in mass needs the events' condition"
        modes = physics.to_float64(condition[:, : self.process.n_condition])
        base, delta = (physics.as_masses(a, modes) for a in self.process.condition_masses())
        return base + modes @ delta

    def to_momenta(self, x: Array, condition: Array | None = None) -> Array:
        """(B, 18) network output and its condition → (B, 6, 3) float64 GeV, balanced in pT when ``conserve_pt``."""
        x = physics.to_float64(x)
        if isinstance(self.param, DecayParametrisation):
            return self.param.inverse(x, conserve_pt=self.conserve_pt, poles=self.poles(condition),
                                      masses=self.slot_masses(condition))
        p = self.param.inverse(x)
        return project_pt(p) if self.conserve_pt else p

    def masses(self, p: Array, condition: Array | None = None) -> Any:
        """Resonance masses (B, n_resonances), computed in float64, GeV; the condition (B, n_condition) gives
        the slots' masses where the process does not fix them."""
        return physics.resonance_masses(p, self.process, self.slot_masses(condition))
