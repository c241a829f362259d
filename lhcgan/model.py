"""The networks and the bridge between their 18 numbers and physical momenta."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from lhcgan import cpu
from lhcgan.conditions import Conditioning
from lhcgan.decoder import Decoder
from lhcgan.errors import ConfigError
from lhcgan.preprocessing import LOGISTIC, DecayParametrisation, Parametrisation, Poles, Standardizer
from lhcgan.process import Process

if TYPE_CHECKING:
    from lhcgan.config import FitConfig


def mlp(n_in: int, hidden: int, layers: int, n_out: int) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units with LeakyReLU, then a linear output."""
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    mods.append(nn.Linear(width, n_out))
    return nn.Sequential(*mods)


def autocast(device: torch.device, bf16: bool = True, cpu_bf16: bool | None = None) -> contextlib.AbstractContextManager:
    """bf16 autocast for the networks: on CUDA if ``bf16``; on the CPU if ``cpu_bf16`` (None: if native)."""
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and (cpu.cpu_has_bf16() if cpu_bf16 is None else cpu_bf16):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class Bridge(nn.Module):
    """Maps network outputs to momenta and momenta to discriminator features.

    Holds the generator's parametrisation and, as buffers that travel with the
    model's device, the standardisation of the discriminator's features.

    The condition (B, n_condition) both networks see is the decay channel's columns
    (``process.n_condition``), then the ``conditioning``'s parameters mapped onto [−1, 1].
    A pole-mass parameter sets the pole each event's mass coordinates are measured from,
    and the discriminator sees resonance masses relative to it.
    """

    def __init__(self, param: Parametrisation, feat: Standardizer, process: Process, *, mass_mean: np.ndarray,
                 mass_scale: np.ndarray, conserve_pt: bool, disc_masses: bool, disc_coordinates: bool = False,
                 conditioning: Conditioning | None = None) -> None:
        super().__init__()
        self.decoder = Decoder(param, process, conserve_pt, conditioning)
        self.disc_masses = disc_masses
        self.disc_coordinates = disc_coordinates and isinstance(param, DecayParametrisation)
        self.register_buffer("mean", torch.as_tensor(feat.mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(feat.scale, dtype=torch.float32))
        self.register_buffer("mass_mean", torch.as_tensor(mass_mean, dtype=torch.float32))
        self.register_buffer("mass_scale", torch.as_tensor(mass_scale, dtype=torch.float32))

    @property
    def param(self) -> Parametrisation:
        return self.decoder.param

    @property
    def process(self) -> Process:
        return self.decoder.process

    @property
    def conditioning(self) -> Conditioning | None:
        return self.decoder.conditioning

    @property
    def conserve_pt(self) -> bool:
        return self.decoder.conserve_pt

    @property
    def n_condition(self) -> int:
        """Condition columns: the decay channel's, then the parameters'."""
        return self.process.n_condition + (self.conditioning.n if self.conditioning else 0)

    @property
    def n_features(self) -> int:
        return (len(self.mean) + (len(self.mass_mean) if self.disc_masses else 0)
                + (len(self.mean) if self.disc_coordinates else 0) + self.n_condition)

    def values(self, condition: torch.Tensor | None) -> torch.Tensor | None:
        """The parameter values (B, P) float64, in their units, of a condition (B, n_condition); None if none."""
        return self.decoder.values(condition)

    def poles(self, condition: torch.Tensor | None) -> Poles | None:
        """The per-event poles {particle: (B,) GeV} a condition (B, n_condition) sets, or None."""
        return self.decoder.poles(condition)

    def slot_masses(self, condition: torch.Tensor | None) -> torch.Tensor | None:
        """The slots' masses (B, 6) float64 GeV a condition sets (`Decoder.slot_masses`); None where fixed."""
        return self.decoder.slot_masses(condition)

    def to_momenta(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 18) network output and its condition → (B, 6, 3) float64 GeV (`Decoder.to_momenta`)."""
        return self.decoder.to_momenta(x, condition)

    def masses(self, p: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Resonance masses (B, n_resonances), computed in float64, GeV (`Decoder.masses`)."""
        return self.decoder.masses(p, condition)

    def relative_masses(self, m: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        """Resonance masses (B, R) GeV moved by each event's pole shift: m − (m₀(event) − m₀(process)).

        Where a condition sets the poles, the line shapes at every pole then lie on each other.
        """
        values = self.values(condition)
        return m if values is None else m - self.conditioning.mass_shifts(values, self.process).to(m.dtype)

    def features(self, p: torch.Tensor, masses: torch.Tensor | None = None,
                 x: torch.Tensor | None = None, coords: torch.Tensor | None = None,
                 condition: torch.Tensor | None = None) -> torch.Tensor:
        """Discriminator inputs (B, n_features) float32 from momenta (B, 6, 3) GeV.

        Standardised momenta; then, if enabled, the standardised resonance masses and the
        decay parametrisation's coordinates (top pT, η, φ, masses, helicity angles), where
        the production and decay correlations are plain to see. ``masses`` (B, R) GeV and,
        for generated events, the network output ``x`` (B, 18) they were built from spare
        recomputing them: the coordinates then come from ``realised(x)``, not from a map
        back from momenta. ``coords`` (B, 18), if known, are the coordinates themselves.
        Last, the events' condition (B, n_condition): the decay modes for a process of several
        channels, and the parameters of a conditioned model; the discriminator then judges
        p(event | condition). The masses are relative to each event's poles (`relative_masses`).
        """
        parts = [((p.reshape(p.shape[0], -1) - self.mean.double()) / self.scale.double()).float()]
        if self.disc_masses:
            m = self.relative_masses(self.masses(p, condition) if masses is None else masses, condition)
            parts.append(((m - self.mass_mean.double()) / self.mass_scale.double()).float())
        if self.disc_coordinates:
            if coords is None:
                poles, slot_masses = self.poles(condition), self.slot_masses(condition)
                coords = (self.param.forward(p, poles, slot_masses) if x is None
                          else self.param.realised(x, self.conserve_pt, poles, slot_masses))
            parts.append(coords.float())
        if self.n_condition:
            assert condition is not None, "a conditioned model needs the events' condition"
            parts.append(condition.float())
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]


class Generator(nn.Module):
    """Noise (B, latent) and a condition (B, n_condition) → the parametrisation's coordinates (B, n_out).

    The noise is unit-variance logistic, the distribution the decay parametrisation gives
    each coordinate. With ``residual`` the network learns a correction to the identity on
    the first n_out noise components: it starts from independent, already correct
    marginals and has to learn the correlations and the remaining shape. The condition
    (the decay channel, as 0/1 columns) enters the network beside the noise.
    """

    def __init__(self, latent: int, hidden: int, layers: int, n_out: int, residual: bool = False,
                 n_condition: int = 0) -> None:
        super().__init__()
        assert not residual or latent >= n_out, "a residual generator needs latent ≥ n_out"
        self.latent = latent
        self.n_out = n_out
        self.residual = residual
        self.n_condition = n_condition
        #: the arguments that rebuild it: what a model file saves and `from_spec` takes
        self.spec = {"latent": latent, "hidden": hidden, "layers": layers, "n_out": n_out, "residual": residual,
                     "n_condition": n_condition}
        self.net = mlp(latent + n_condition, hidden, layers, n_out)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Generator":
        """The (untrained) generator of a `spec` (files of earlier versions lack n_condition: 0)."""
        return cls(int(spec["latent"]), int(spec["hidden"]), int(spec["layers"]), int(spec["n_out"]),
                   bool(spec["residual"]), int(spec.get("n_condition", 0)))

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """(B, latent) and (B, n_condition) → (B, n_out) float32.

        Under bf16 autocast a plain generator runs its output layer in float32, so the
        coordinates carry float32 resolution, not bf16's three digits. A residual one
        stays in bf16 throughout: it only outputs a correction to its float32 noise,
        which bf16 rounds by a few MeV on a mass.
        """
        inputs = z
        if self.n_condition:
            assert condition is not None and condition.shape[-1] == self.n_condition, "the generator needs its condition"
            inputs = torch.cat([z, condition.to(z.dtype)], dim=-1)
        if self.residual:
            return self.net(inputs).float() + z[:, : self.n_out]
        h = self.net[:-1](inputs)
        with torch.autocast(z.device.type, enabled=False):
            return self.net[-1](h.float())

    def noise(self, n: int, generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> torch.Tensor:
        """(n, latent) unit-variance logistic noise, float32."""
        u = torch.rand(n, self.latent, generator=generator, device=device).clamp_(1e-7, 1 - 1e-7)
        return torch.logit(u) * LOGISTIC


def build_networks(cfg: "FitConfig", process: Process, bridge: Bridge) -> tuple[Generator, "Discriminator"]:
    """The generator and discriminator a fit of ``process`` with settings ``cfg`` trains (the generator is what
    a model file rebuilds with `Generator.from_spec`)."""
    n_out = 3 * process.n_particles
    if cfg.residual and cfg.latent < n_out:
        raise ConfigError(f"a residual generator needs latent ≥ {n_out} (3 per particle), got {cfg.latent}",
                          hint=f"--set latent={n_out}, or residual=false")
    generator = Generator(cfg.latent, cfg.hidden, cfg.layers, n_out, cfg.residual, bridge.n_condition)
    return generator, Discriminator(bridge.n_features, cfg.disc_hidden, cfg.disc_layers)


class Discriminator(nn.Module):
    """Features (B, n_features) → logits (B,)."""

    def __init__(self, n_in: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.net = mlp(n_in, hidden, layers, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)
