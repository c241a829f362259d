"""The real-batch source of training: the training events on the device, drawn with their weights,
transformed by the symmetries, as the discriminator's features and the MMD's masses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from lhcgan import physics
from lhcgan.events import Events

if TYPE_CHECKING:
    from lhcgan.config import FitConfig
    from lhcgan.distributed import Dist
    from lhcgan.model import Bridge


def mmd_columns(cfg: "FitConfig", bridge: "Bridge", p: torch.Tensor, m: torch.Tensor, masses: object,
                condition: torch.Tensor | None) -> torch.Tensor:
    """The columns the MMD compares (B, R[+1][+T]), GeV, of real and generated events alike: the resonance
    masses ``m`` (B, R) relative to each event's poles, m(tt̄) with ``mmd_system`` (``masses``: the slots'),
    and each top's pT with ``mmd_top_pt``, from the momenta ``p`` (B, n, 3)."""
    cols = [bridge.relative_masses(m, condition)]
    if cfg.mmd_system:
        cols.append(physics.invariant_mass(p, masses)[:, None])
    if cfg.mmd_top_pt:
        cols.append(physics.primary_pts(p, bridge.process).to(cols[0].dtype))
    return torch.cat(cols, dim=1) if len(cols) > 1 else cols[0]


class RealBatches:
    """The training events, ready to draw batches from.

    Attributes:
        p, m, c: momenta (N, n, 3) GeV float64, resonance masses (N, R) GeV, conditions (N, C).
        f: the discriminator's features (N, F) of every event, precomputed where no symmetry transforms them.
        coords: the decay coordinates of every event and of its z-reflection (2, N, 18), where symmetries
            move events and the discriminator sees coordinates.
        mmd: the MMD's columns (N, R[+1][+T]): the masses relative to each event's poles, m(tt̄) with
            ``mmd_system``, each top's pT with ``mmd_top_pt``, GeV.
        cdf, loss_weight: for a weighted sample, the CDF events are drawn with (∝ |w|^p) and each drawn
            event's loss weight w/|w|^p (normalised); None when unweighted.
        gen: the data stream, the same on every rank (each takes its shard).
    """

    def __init__(self, events: Events, cond: np.ndarray, weights: np.ndarray | None, cfg: "FitConfig",
                 bridge: "Bridge", device: torch.device, dist: "Dist") -> None:
        self.cfg, self.bridge, self.dist = cfg, bridge, dist
        self.p = torch.as_tensor(events.momenta, dtype=torch.float64, device=device)
        self.m = torch.as_tensor(events.resonance_masses(), dtype=torch.float64, device=device)
        self.c = torch.as_tensor(cond, device=device)
        poles, slots = bridge.poles(self.c), bridge.slot_masses(self.c)
        # with symmetries, real features are made per batch from transformed events; the decay coordinates
        # of every event and of its z-reflection are computed once, a rotation then moves only the tops' φ
        self.f = self.coords = None
        with torch.no_grad():
            if not cfg.symmetries:
                self.f = bridge.features(self.p, self.m, condition=self.c)
            elif bridge.disc_coordinates:
                from lhcgan.symmetry import reflect_z

                flipped = reflect_z(self.p, torch.ones(len(self.p), dtype=torch.bool, device=device))
                self.coords = torch.stack([bridge.param.forward(self.p, poles, slots),
                                           bridge.param.forward(flipped, poles, slots)]).float()
        self.gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.cdf = self.loss_weight = None
        if weights is not None:
            w = torch.as_tensor(weights, dtype=torch.float64)
            q = w.abs() ** cfg.weight_power  # drawn ∝ |w|^p
            self.cdf = torch.cumsum(q, 0) / q.sum()
            # each drawn event's loss weight w/|w|^p, normalised so that a batch estimates Σ w·f / Σ w
            self.loss_weight = (w / q * (q.sum() / w.sum())).float().to(device)
        # the MMD's real masses: the resonances' (relative to each event's poles where conditioned), and with
        # mmd_system the whole event's
        self.mmd = mmd_columns(cfg, bridge, self.p, self.m, events.masses, self.c)
        n_res, n_top = len(bridge.process.resonances), len(bridge.process.primaries)
        self.system_mass = float(self.mmd[:, n_res].median()) if cfg.mmd_system else None
        self.top_pt = float(self.mmd[:, -n_top:].median()) if cfg.mmd_top_pt else None

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """This rank's shard of the features (B/K, F), the whole batch's MMD columns (B, R[+1][+T]), and
        for a weighted sample the signs of both (normalised to mean 1 over the sample; None when unweighted).

        With symmetries every event is transformed at random first (the masses do not change).
        """
        from lhcgan.symmetry import randomise

        cfg, bridge = self.cfg, self.bridge
        if self.cdf is None:
            idx = torch.randint(len(self.p), (cfg.batch,), generator=self.gen)
        else:
            u = torch.rand(cfg.batch, generator=self.gen, dtype=torch.float64)
            idx = torch.searchsorted(self.cdf, u).clamp_(max=len(self.p) - 1)
        idx = idx.to(self.p.device)
        r, lb = self.dist.rank, cfg.batch // self.dist.world
        mine = idx[r * lb : (r + 1) * lb]
        signs = (None, None) if self.loss_weight is None else (self.loss_weight[mine], self.loss_weight[idx])
        if self.f is not None:
            return self.f[mine], self.mmd[idx], *signs
        # every rank draws the whole batch's numbers, so the data stream stays the same on all ranks
        u = torch.rand(len(cfg.symmetries), cfg.batch, generator=self.gen, dtype=torch.float64)
        u = u[:, r * lb : (r + 1) * lb].to(self.p.device)
        draws = iter(u)
        p = randomise(self.p[mine], cfg.symmetries, lambda n: next(draws))
        coords = None
        if self.coords is not None:  # the same transforms, on the precomputed coordinates
            flip = u[cfg.symmetries.index("reflect_z")] < 0.5 if "reflect_z" in cfg.symmetries else None
            coords = self.coords[0, mine] if flip is None else torch.where(
                flip[:, None], self.coords[1, mine], self.coords[0, mine])
            if "azimuth" in cfg.symmetries:
                angle = (2 * u[cfg.symmetries.index("azimuth")] - 1) * np.pi
                coords = bridge.param.rotated(coords, angle)
        with torch.no_grad():
            return (bridge.features(p, self.m[mine], coords=coords, condition=self.c[mine]), self.mmd[idx], *signs)
