"""Training settings: one dataclass, filled from YAML cards and overridden by the command line."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lhcgan.errors import ConfigError

CARDS = Path(__file__).resolve().parent / "cards"
REFINE_EXTRA = ("y_t", "y_tbar")  # the refiner's optional features (`lhcgan.system.refine_features`)
#: every feature the refiner may tilt on, alone or in a pair (`lhcgan.system.refine_features`)
REFINE_FEATURES = ("m_system", "dy_primaries", "y_system", "pt_t", "pt_tbar", "pt_system") + REFINE_EXTRA


@dataclass
class FitConfig:
    """Everything that defines a training run. Units: GeV for widths.

    The defaults are those of ``cards/default.yaml`` (a test holds them equal), so a run from
    Python and one from the command line train alike.

    Attributes:
        layers, hidden: generator depth and width (hidden layers × units).
        disc_layers, disc_hidden: discriminator depth and width.
        latent: dimension of the (unit logistic) noise.
        residual: the generator adds its noise's first 3n components to its output (needs latent ≥ 3n for n
            particles; checked when training starts, where the process is known).
        parametrisation: what the generator's 18 outputs mean: "decay" (top pT, η, φ, masses and
            decay angles; every event on its mass shells) or "momenta" (standardised 3-momenta).
        batch: events per batch, for both networks and the MMD.
        iterations: generator updates; None: 4000 for a training sample of up to 100 000 events, 10 000
            for a larger one (at 25 000 events 4000 were worth as much as 10 000 on independent truth).
        lr, betas, lr_decay: Adam settings; the learning rate decays as lr / (1 + lr_decay · iteration);
            lr_decay None: 5 / iterations, so the last iteration runs at lr / 6.
        lr_d: the discriminator's learning rate, if other than lr (two time-scale updates).
        d_steps: discriminator updates per generator update.
        reg_weight: weight γ of the Roth et al. gradient regulariser, added as γ/2 · Ω.
        reg_weight_weighted: γ for a weighted sample (None: ``reg_weight``); it replaces ``reg_weight``
            in the settings such a fit saves.
        reg_every: compute Ω only every n-th step, weighted by n (lazy regularisation).
        mmd_weight: weight of the resonance-mass MMD² in the generator loss.
        mmd_kernel: "breit-wigner", "gauss" or "cauchy".
        mmd_widths: kernel widths per resonance name, GeV; None: the physical widths.
        mmd_system: kernel widths (GeV) of one more MMD term, on the invariant mass of the whole
            event (m(tt̄)); empty: none.
        mmd_top_pt: kernel widths (GeV) of one more MMD term on each primary resonance's (each top's)
            transverse momentum; empty: none.
        disc_masses: give the discriminator the standardised resonance masses too.
        disc_coordinates: give the discriminator the decay parametrisation's coordinates too.
        conserve_pt: project generated events onto Σpx = Σpy = 0; None: on when the sample balances.
        ema: decay of the exponential moving average of the generator used for sampling (0: none).
        symmetries: exact symmetries of the collisions (`lhcgan.symmetry`): "azimuth" (rotation about
            the beam), "reflect_z" (z → −z, for equal beams). Each real event the discriminator sees is
            transformed at random, the generator's quantile maps are fitted on the symmetrised sample,
            and every generated event is transformed at random, which makes the symmetry exact.
        holdout: fraction of the sample held out of training (at most 100 000 events): model
            selection scores on it, and `lhcgan fit` validates against it.
        select_every: every this many iterations score the (EMA) generator, the worth of its events
            in truth events measured against the held-out events (against training events without
            a hold-out), and ship the best-scoring state (0: the last).
        weight_power: for weighted samples, real events are drawn ∝ |w|^p and enter the losses
            with w / |w|^p (normalised): 1 samples ∝ |w| (every drawn event counts the same), 0 draws
            uniformly and weights the losses (the tails of a biased sample are seen as often as they
            were generated), 0.5 between.
        smooth_marginals: fit the decay parametrisation's maps of each top's log pT and η on the sample
            smoothed (`lhcgan.stats.smoothed_cdf`, Gaussian kernels of Silverman's width), not on its
            empirical CDF: the residual generator starts from its maps' marginals, and so no longer from the
            sample's own fluctuations in the tops' pT and rapidity. At 25k events (four fits) the system worth
            rose from 43 000–63 000 to 100 000–215 000, the pairwise worth from 44 000–108 000 to 71 000–144 000.
        refine: after training, fit a smooth reweighting of the generated events onto the training
            events in the tt̄ system's kinematics (`lhcgan.refine`), applied by rejection so the output
            stays unweighted. Not for a model conditioned on m_t or √s (their systems move with the value).
        refine_strength: the refiner's smoothness penalty, in events (it fades as the sample grows).
        refine_extra: features the refiner tilts on beside the tt̄ system's six (m(tt̄), |Δy|, |y(tt̄)|,
            each top's pT, pT(tt̄) where it recoils): "y_t", "y_tbar", each top's rapidity (absolute with
            the z-reflection). With them, at 25k events, the system worth rose by 30 % and y(t)'s deciles
            came within 1.1 % of truth (4.0 % without).
        refine_pairs: pairs of the refiner's features (`REFINE_FEATURES`) that get a joint term each,
            bilinear on the grid of their knots: correlations the sum of single terms cannot correct. By
            default each top's pT with its rapidity: on the 1M-event model the least pair's worth rose from
            235 000 to 312 000, at 25k the pairwise worth by 26–35 %; generation keeps 6–7 % fewer events.
        variations: where the sample carries theory variations (scale, PDF, shower weights), learn each
            one's ratio to the nominal as a function of the event (`lhcgan.variation_model`), so that
            every generated event carries them under the input's names.
        seed: the one seed of the run.
        checkpoint_every: iterations between checkpoints.
        log_every: iterations between loss-log lines.
        device: "auto" (CUDA when present), "cpu" or "cuda".
        bf16: bf16 autocast for the networks on CUDA.
        cpu_bf16: bf16 autocast for the networks on the CPU; None: when the CPU has native bf16
            (AVX-512 bf16 or AMX). Generation runs bf16 where the CPU has it natively, unless the
            model's setting is false.
    """

    layers: int = 6
    hidden: int = 256
    disc_layers: int = 6
    disc_hidden: int = 256
    latent: int = 18
    residual: bool = True
    parametrisation: str = "decay"
    batch: int = 1024
    iterations: int | None = None
    lr: float = 2e-4
    lr_d: float | None = None
    betas: tuple[float, float] = (0.5, 0.9)
    lr_decay: float | None = None
    d_steps: int = 1
    reg_weight: float = 1e-3
    reg_weight_weighted: float | None = 1e-2
    reg_every: int = 4
    mmd_weight: float = 5.0
    mmd_kernel: str = "breit-wigner"
    mmd_widths: dict[str, list[float]] | None = None
    mmd_system: list[float] = field(default_factory=lambda: [50.0, 200.0])
    mmd_top_pt: list[float] = field(default_factory=list)
    disc_masses: bool = True
    disc_coordinates: bool = True
    conserve_pt: bool | None = None
    ema: float = 0.999
    select_every: int = 250
    symmetries: list[str] = field(default_factory=lambda: ["azimuth", "reflect_z"])
    holdout: float = 0.1
    weight_power: float = 0.5
    smooth_marginals: bool = True
    refine: bool = True
    refine_strength: float = 100.0
    refine_extra: list[str] = field(default_factory=lambda: ["y_t", "y_tbar"])
    refine_pairs: list[list[str]] = field(default_factory=lambda: [["pt_t", "y_t"], ["pt_tbar", "y_tbar"]])
    variations: bool = True
    seed: int = 1
    checkpoint_every: int = 1000
    log_every: int = 50
    device: str = "auto"
    bf16: bool = True
    cpu_bf16: bool | None = None
    preset: str = field(default="default", compare=False)

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        from lhcgan.kernels import KERNELS
        from lhcgan.preprocessing import PARAMETRISATIONS

        if self.mmd_kernel not in KERNELS:
            raise ConfigError(f"mmd_kernel must be one of {tuple(KERNELS)}, got {self.mmd_kernel!r}")
        for name in ("layers", "hidden", "disc_layers", "disc_hidden", "latent", "batch", "iterations", "d_steps", "reg_every",
                     "checkpoint_every", "log_every"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:  # None: resolved by the fit
                raise ConfigError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if int(self.select_every) < 0:
            raise ConfigError(f"select_every must be ≥ 0, got {self.select_every}")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema must be in [0, 1), got {self.ema}")
        from lhcgan.symmetry import SYMMETRIES

        self.symmetries = list(self.symmetries or [])
        unknown = [name for name in self.symmetries if name not in SYMMETRIES]
        if unknown:
            raise ConfigError(f"unknown symmetries {unknown}; known are {list(SYMMETRIES)}")
        if not 0 <= self.weight_power <= 1:
            raise ConfigError(f"weight_power must be in [0, 1], got {self.weight_power}")
        for name in ("reg_weight", "reg_weight_weighted"):
            value = getattr(self, name)
            if value is not None and not float(value) >= 0:
                raise ConfigError(f"{name} must be ≥ 0, got {value}")
        self.refine_extra = list(self.refine_extra or [])
        unknown = [name for name in self.refine_extra if name not in REFINE_EXTRA]
        if unknown:
            raise ConfigError(f"unknown refine_extra features {unknown}; known are {list(REFINE_EXTRA)}")
        self.refine_pairs = [list(pair) for pair in self.refine_pairs or []]
        bad = [pair for pair in self.refine_pairs if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(REFINE_FEATURES)]
        if bad:
            raise ConfigError(f"refine_pairs must be pairs of two different features of {list(REFINE_FEATURES)}, got {bad}")
        if not self.refine_strength > 0:
            raise ConfigError(f"refine_strength must be > 0, got {self.refine_strength}")
        if not 0 <= self.holdout < 1:
            raise ConfigError(f"holdout must be a fraction in [0, 1), got {self.holdout}")
        if self.parametrisation not in PARAMETRISATIONS:
            raise ConfigError(f"parametrisation must be one of {tuple(PARAMETRISATIONS)}, got {self.parametrisation!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FitConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        d = dict(d)
        d.setdefault("reg_weight_weighted", None)  # older models: one γ for every sample
        d.setdefault("refine_extra", [])  # older models: a refiner on the tt̄ system's features alone
        d.setdefault("refine_pairs", [])  # older models (before 0.4): no joint terms
        d.setdefault("smooth_marginals", False)  # older models: empirical quantile maps
        if "random_azimuth" in d:  # older models: rotated generated events only
            legacy = d.pop("random_azimuth")
            d.setdefault("symmetries", ["azimuth"] if legacy else [])
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown settings {sorted(unknown)}; known are {sorted(known)}")
        return cls(**d)

    def replace(self, **changes: Any) -> "FitConfig":
        return FitConfig.from_dict(self.to_dict() | changes)


def presets() -> list[str]:
    return sorted(p.stem for p in CARDS.glob("*.yaml"))


def load_card(preset: str = "default", card: str | os.PathLike[str] | None = None,
              overrides: dict[str, Any] | None = None) -> FitConfig:
    """Settings of a preset, updated by a YAML card file, then by explicit overrides."""
    if preset not in presets():
        raise ConfigError(f"unknown preset {preset!r}; choose from {presets()}")
    values = _read_yaml(CARDS / f"{preset}.yaml")
    values["preset"] = preset
    if card is not None:
        values |= _read_yaml(Path(card))
    values |= {k: v for k, v in (overrides or {}).items() if v is not None}
    return FitConfig.from_dict(values)


def save_card(config: FitConfig, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))


def parse_assignment(text: str) -> tuple[str, Any]:
    """'key=value' from the command line; the value is read as YAML (numbers, lists, null)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set takes KEY=VALUE, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError("card not found", path=path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML ({exc})".replace("\n", " "), path=path) from exc
    if not isinstance(data, dict):
        raise ConfigError("a card must be a mapping of settings", path=path)
    return data


def _attribute_docs() -> dict[str, str]:
    """FitConfig's "Attributes:" section as name → text (names listed together share their text)."""
    doc = (FitConfig.__doc__ or "").split("Attributes:", 1)[1]
    out: dict[str, str] = {}
    names: list[str] = []
    for line in doc.splitlines():
        head, sep, text = line.strip().partition(": ")
        if sep and line.startswith(" " * 8) and not line.startswith(" " * 9) and all(
                n.strip().isidentifier() for n in head.split(",")):
            names = [n.strip() for n in head.split(",")]
            for n in names:
                out[n] = text.strip()
        elif line.strip() and names:
            for n in names:
                out[n] += " " + line.strip()
    return out


def _yaml_text(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def settings_reference() -> str:
    """The settings reference (docs/settings.md), Markdown made from FitConfig's fields and docstring and
    the presets' cards, so that it cannot drift from them: ``python -m lhcgan.config > docs/settings.md``."""
    docs = _attribute_docs()
    cards = {p: load_card(p).to_dict() for p in presets()}  # what each preset resolves to
    others = [p for p in cards if p != "default"]
    lines = ["# Settings reference", "",
             "<!-- made by `python -m lhcgan.config > docs/settings.md`; a test holds it equal -->", "",
             "Every setting of `lhcgan fit`: set one with `--set KEY=VALUE` (the value read as YAML), several in a "
             "YAML card (`--card card.yaml`), or in Python with `lhcgan.pipeline.fit(..., overrides={...})`. "
             "Settings left open (`null`) are decided for the sample and machine when training starts "
             "(`lhcgan.settings.resolve_settings`); a run's `card.yaml` and its model save the settings as used.", "",
             "| setting | default | " + " | ".join(others) + (" | " if others else "") + "meaning |",
             "|---|---|" + "---|" * len(others) + "---|"]
    for f in dataclasses.fields(FitConfig):
        if f.name == "preset":
            continue
        default = _yaml_text(FitConfig().to_dict()[f.name])
        cells = [f"`{default}`"]
        for p in others:
            value = _yaml_text(cards[p][f.name])
            cells.append(f"`{value}`" if value != default else "")
        text = docs.get(f.name, "").replace("|", "\\|")
        lines.append(f"| `{f.name}` | " + " | ".join(cells) + f" | {text} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(settings_reference(), end="")
