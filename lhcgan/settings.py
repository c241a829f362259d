"""The settings a fit uses, resolved once from the settings asked for, the sample and the machine.

`resolve_settings` is the one place where a setting left open (None) or one the sample rules out is
decided; the trainer uses what it returns, and the model and card.yaml save exactly that.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from lhcgan import physics
from lhcgan.config import FitConfig

if TYPE_CHECKING:
    from lhcgan.conditions import Conditioning
    from lhcgan.events import Events


#: Iterations of a fit that leaves them open: `QUICK_ITERATIONS` up to `LARGE_SAMPLE` training events, else
#: `FULL_ITERATIONS`. At 25 000 events, 4000 iterations were worth as much as 10 000 on independent truth.
QUICK_ITERATIONS, FULL_ITERATIONS, LARGE_SAMPLE = 4000, 10_000, 100_000
#: lr_decay × iterations where lr_decay is left open: the last iteration runs at lr / (1 + 5).
DECAY_SPAN = 5.0


def default_iterations(n_events: int) -> int:
    """Iterations for a fit on ``n_events`` training events that leaves them open."""
    return QUICK_ITERATIONS if n_events <= LARGE_SAMPLE else FULL_ITERATIONS


def resolve_settings(config: FitConfig, events: "Events", *, weighted: bool, conditioning: "Conditioning | None" = None,
                     device_type: str = "cpu", world: int = 1, warn: bool = True) -> FitConfig:
    """``config`` as a fit on ``events`` (the training events) uses it; idempotent.

    - ``symmetries``: z → −z is dropped where the beams are not symmetric;
    - ``reg_weight``: ``reg_weight_weighted`` for a ``weighted`` sample, where set;
    - ``conserve_pt``: None becomes whether the sample balances in pT;
    - ``cpu_bf16``: None becomes whether the CPU has native bf16, and False under DDP on the CPU (gloo
      processes running oneDNN bf16 kernels were seen to abort at exit);
    - ``refine``: off for a model conditioned on a parameter (one tilt cannot follow a system that moves);
    - ``iterations``: None becomes `default_iterations` of the sample's size; ``lr_decay``: None becomes
      `DECAY_SPAN` / iterations.

    ``warn`` (rank 0) warns where a setting is changed or contradicts the sample.
    """
    from lhcgan.cpu import cpu_has_bf16
    from lhcgan.symmetry import SYMMETRIES

    cfg = config
    broken = [s for s in cfg.symmetries if not SYMMETRIES[s].holds(events.meta)]
    if broken:
        if warn:
            warnings.warn(f"the beams {events.meta.get('beams')} at {events.meta.get('beam_energies')} GeV are not "
                          f"symmetric: {', '.join(broken)} is no symmetry of this sample and is not used", stacklevel=3)
        cfg = cfg.replace(symmetries=[s for s in cfg.symmetries if s not in broken])
    if weighted and cfg.reg_weight_weighted is not None:
        # a weighted sample's few heavy events let a discriminator held at the unweighted γ win and the run
        # collapse (a biased sample did, at 1e-3, from iteration 1600 on)
        cfg = cfg.replace(reg_weight=cfg.reg_weight_weighted)
    balance = float(np.median(physics.pt_balance(events.momenta)))
    if cfg.conserve_pt is None:
        if balance >= physics.BALANCED and warn:
            warnings.warn(f"training sample does not balance in pT (median {balance:.1e}): pT conservation is off",
                          stacklevel=3)
        cfg = cfg.replace(conserve_pt=bool(balance < physics.BALANCED))
    elif cfg.conserve_pt and balance >= physics.BALANCED and warn:
        warnings.warn(f"pT conservation is on, but the training sample does not balance (median {balance:.1e})",
                      stacklevel=3)
    if cfg.cpu_bf16 is None:
        cfg = cfg.replace(cpu_bf16=False if world > 1 and device_type == "cpu" else cpu_has_bf16())
    if cfg.refine and conditioning is not None:
        cfg = cfg.replace(refine=False)
    if cfg.iterations is None:
        cfg = cfg.replace(iterations=default_iterations(len(events)))
    if cfg.lr_decay is None:
        cfg = cfg.replace(lr_decay=DECAY_SPAN / cfg.iterations)
    return cfg
