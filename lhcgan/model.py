"""The networks and the bridge between their 18 numbers and physical momenta."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lhcgan import physics
from lhcgan.preprocessing import DecayParametrisation, Standardizer
from lhcgan.process import Process


def mlp(n_in: int, hidden: int, layers: int, n_out: int) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units with LeakyReLU, then a linear output."""
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    mods.append(nn.Linear(width, n_out))
    return nn.Sequential(*mods)


def project_pt(p: torch.Tensor) -> torch.Tensor:
    """Orthogonal projection onto Σpx = Σpy = 0: (B, n, 3) → (B, n, 3), GeV.

    The same shift goes to every particle, the smallest change that balances the event.
    """
    shift = p[..., :2].mean(dim=-2, keepdim=True)
    return torch.cat([p[..., :2] - shift, p[..., 2:]], dim=-1)


Parametrisation = Standardizer | DecayParametrisation


def make_parametrisation(kind: str, momenta: np.ndarray, process: Process) -> Parametrisation:
    """Fit the generator's parametrisation: "decay" (default) or "momenta"."""
    if kind == "decay":
        return DecayParametrisation.fit(momenta, process)
    if kind == "momenta":
        return Standardizer.fit(momenta)
    raise ValueError(f"unknown parametrisation {kind!r}")


def parametrisation_to_dict(param: Parametrisation) -> dict:
    kind = "decay" if isinstance(param, DecayParametrisation) else "momenta"
    return {"kind": kind, "state": param.state_dict()}


def parametrisation_from_dict(d: dict, process: Process) -> Parametrisation:
    if d["kind"] == "decay":
        return DecayParametrisation.from_state_dict(d["state"], process)
    return Standardizer.from_state_dict(d["state"])


class Bridge(nn.Module):
    """Maps network outputs to momenta and momenta to discriminator features.

    Holds the generator's parametrisation and, as buffers that travel with the
    model's device, the standardisation of the discriminator's features.
    """

    def __init__(self, param: Parametrisation, feat: Standardizer, process: Process, mass_mean: np.ndarray,
                 mass_scale: np.ndarray, conserve_pt: bool, disc_masses: bool) -> None:
        super().__init__()
        self.param = param
        self.process = process
        self.conserve_pt = conserve_pt
        self.disc_masses = disc_masses
        self.register_buffer("mean", torch.as_tensor(feat.mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(feat.scale, dtype=torch.float32))
        self.register_buffer("mass_mean", torch.as_tensor(mass_mean, dtype=torch.float32))
        self.register_buffer("mass_scale", torch.as_tensor(mass_scale, dtype=torch.float32))

    @property
    def n_features(self) -> int:
        return len(self.mean) + (len(self.mass_mean) if self.disc_masses else 0)

    def to_momenta(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 18) network output → (B, 6, 3) float64 GeV, balanced in pT when ``conserve_pt``."""
        x = x.double()
        if isinstance(self.param, DecayParametrisation):
            return self.param.inverse(x, conserve_pt=self.conserve_pt)
        p = self.param.inverse(x)
        return project_pt(p) if self.conserve_pt else p

    def masses(self, p: torch.Tensor) -> torch.Tensor:
        """Resonance masses (B, n_resonances), computed in float64, GeV."""
        return physics.resonance_masses(p, self.process)

    def features(self, p: torch.Tensor, masses: torch.Tensor | None = None) -> torch.Tensor:
        """Discriminator inputs (float32): standardised momenta, and standardised masses if enabled."""
        x = ((p.reshape(p.shape[0], -1) - self.mean.double()) / self.scale.double()).float()
        if not self.disc_masses:
            return x
        m = self.masses(p) if masses is None else masses
        return torch.cat([x, ((m - self.mass_mean.double()) / self.mass_scale.double()).float()], dim=-1)


class Generator(nn.Module):
    """Noise (B, latent) → standardised momenta (B, 18)."""

    def __init__(self, latent: int, hidden: int, layers: int, n_out: int) -> None:
        super().__init__()
        self.latent = latent
        self.net = mlp(latent, hidden, layers, n_out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """Features (B, n_features) → logits (B,)."""

    def __init__(self, n_in: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.net = mlp(n_in, hidden, layers, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)
