"""The sample's theory variations learnt as functions of the event, for every generated event.

The GAN learns the nominal distribution. Each variation k is then a ratio to it,

    r_k(x) = E[w_k | x] / E[w_0 | x],

which a regression weighted by the nominal weight estimates: minimising Σ_i w_0,i (r_ik − f_k(x_i))²
gives f_k(x) = E[w_0 r_k | x] / E[w_0 | x] = E[w_k | x] / E[w_0 | x], signed weights included (where
E[w_0 | x] > 0, which any sample that describes a positive cross section has). One small network
with K outputs learns all of them; `generate` evaluates it on each generated event and writes the
ratios under the input's names (`lhcgan.variations`).

Its inputs (`inputs`) are the tt̄ system's kinematics (`lhcgan.system`: m(tt̄), y(tt̄), Δy, both tops'
pT and, for a recoiling sample, pT(tt̄)), every parton's pT and η, and the decay channel, each event
reflected in z so that its system moves forward: pp collisions and their variations are symmetric
under z → −z. Scale and PDF weights depend on the hard process (x₁, x₂ and the scales follow from
m(tt̄), y(tt̄) and the tops' pT at leading order); shower weights also on the decays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lhcgan import physics
from lhcgan.events import Events
from lhcgan.numpynet import Mlp
from lhcgan.process import Process
from lhcgan.system import recoils, system_features
from lhcgan.variations import VariationSet

if TYPE_CHECKING:
    import torch

HIDDEN, LAYERS = 64, 3
#: Training: Adam steps of this many events, scored on held-out events every `SCORE_EVERY` steps.
STEPS, BATCH, LR, SCORE_EVERY = 3000, 4096, 2e-3, 250
SLICE = 65_536  # events per network call in training's held-out scores


def inputs(momenta: np.ndarray, masses: np.ndarray, pdg: np.ndarray, process: Process, recoil: bool) -> np.ndarray:
    """The regression's raw inputs (N, F) float64 of events' momenta (N, 6, 3) GeV, slot masses (N, 6) GeV and
    PDG ids (N, 6), each event seen reflected in z so that its tt̄ system moves forward (pp is symmetric under
    z → −z, and so are its variations): log m(tt̄)/GeV, |y(tt̄)|, the signed Δy, log(1 + pT/GeV) of each top (and
    of the system where the sample recoils), then log pT/GeV and the (reflected) η of every parton, and last
    the decay channel's condition columns. The hard process fixes scale and PDF weights at leading order; the
    partons let shower weights and a sample's own choices follow the decays."""
    return np.stack(_columns(momenta, masses, pdg, process, recoil), axis=1)


def _columns(momenta: np.ndarray, masses: np.ndarray, pdg: np.ndarray, process: Process, recoil: bool,
             features: dict[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """The F columns (N,) of `inputs`, each contiguous; ``features``: the events' signed `system_features`,
    where already computed."""
    f = system_features(momenta, masses, process, signed=True) if features is None else features
    forward = np.where(f["y_system"] < 0, -1.0, 1.0)
    cols = [np.log(np.maximum(f["m_system"], 1e-3)), f["y_system"] * forward, f["dy_primaries"] * forward]
    cols += [np.log1p(f[f"pt_{r.name}"]) for r in process.primaries]
    if recoil:
        cols.append(np.log1p(f["pt_system"]))
    pt = np.maximum(physics.pt(momenta), 1e-6)
    eta = np.arcsinh(momenta[..., 2] / pt) * forward[:, None]
    cols += [np.log(pt[:, i]) for i in range(pt.shape[1])] + [eta[:, i] for i in range(eta.shape[1])]
    condition = process.condition(pdg)
    return cols + [condition[:, i].astype(np.float64) for i in range(condition.shape[1])]


@dataclass
class VariationModel:
    """K ratios r_k(x) to the nominal weight, of the events of one process.

    Attributes:
        variations: what the K columns are (names, kinds, texts, header), as the input had them.
        state: the MLP's weights (a torch ``nn.Sequential``'s state dict as float32 arrays), from standardised
            inputs (F,) to standardised ratios (K,); evaluated in numpy (`numpynet.Mlp`).
        x_mean, x_scale: the inputs' standardisation (F,).
        y_mean, y_scale: the ratios' standardisation (K,): r = y_mean + y_scale · net(x); a scale of 0 keeps a
            ratio that is constant in the sample (the nominal point) exactly at its value.
        recoil: whether pT(tt̄) is an input (the training sample recoils).
    """

    variations: VariationSet
    state: dict[str, np.ndarray]
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray
    recoil: bool

    def __post_init__(self) -> None:
        self.state = {k: np.asarray(v, np.float32) for k, v in self.state.items()}
        self.net = Mlp.from_state(self.state)

    def features(self, momenta: np.ndarray, masses: np.ndarray, pdg: np.ndarray, process: Process,
                 system: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Standardised inputs (N, F) float32 of events' momenta (N, 6, 3) GeV, slot masses (N, 6) GeV and
        PDG ids (N, 6); ``system``: their signed `system_features`, where already computed."""
        cols = _columns(momenta, masses, pdg, process, self.recoil, system)
        x = np.empty((len(cols), len(momenta)), np.float32)  # column by column: 3× faster than the (N, F) array
        for i, c in enumerate(cols):
            x[i] = (c - self.x_mean[i]) / self.x_scale[i]
        return x.T

    def predict(self, momenta: np.ndarray, masses: np.ndarray, pdg: np.ndarray, process: Process,
                system: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The ratios w_k / w_0 (N, K) float64 of events (see `features`)."""
        x = self.features(momenta, masses, pdg, process, system)
        y = self.net(x) if len(x) else np.zeros((0, len(self.y_mean)), np.float32)
        return self.y_mean + self.y_scale * y.astype(np.float64)

    def predict_events(self, events: Events) -> np.ndarray:
        return self.predict(events.momenta, events.masses, events.pdg, events.process)

    def to_dict(self) -> dict[str, Any]:
        return {"variations": self.variations.to_dict(), "state": dict(self.state),
                "n_in": len(self.x_mean), "x_mean": self.x_mean.tolist(), "x_scale": self.x_scale.tolist(),
                "y_mean": self.y_mean.tolist(), "y_scale": self.y_scale.tolist(), "recoil": self.recoil,
                "hidden": HIDDEN, "layers": LAYERS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VariationModel":
        vs = VariationSet.from_dict(d["variations"])
        state = {k: np.asarray(v, np.float32) for k, v in d["state"].items()}
        n_in, width, n_out = state["0.weight"].shape[1], state["0.weight"].shape[0], len(vs)
        if (n_in, width, n_out) != (int(d["n_in"]), int(d["hidden"]), state[f"{2 * int(d['layers'])}.weight"].shape[0]):
            raise ValueError("the variation model's weights do not match its shape")
        return cls(vs, state, *(np.asarray(d[k], np.float64) for k in ("x_mean", "x_scale", "y_mean", "y_scale")),
                   bool(d["recoil"]))


def _weighted_moments(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (F,) of x (N, F), weighted by |w|."""
    mean = np.average(x, axis=0, weights=np.abs(w))
    return mean, np.sqrt(np.average((x - mean) ** 2, axis=0, weights=np.abs(w)))


def fit_variations(training: Events, heldout: Events | None = None, *, seed: int = 1,
                   steps: int = STEPS) -> VariationModel:
    """The `VariationModel` of a sample with variation weights: the nominal-weighted regression of its ratios
    on the event, on ``training``, keeping the state that scores best on ``heldout`` (or on the training
    events without). Deterministic for a seed."""
    import torch

    from lhcgan.model import mlp

    assert training.variations is not None and training.variation_set is not None, "the sample has no variations"
    recoil = recoils(system_features(training.momenta, training.masses, training.process))
    x = inputs(training.momenta, training.masses, training.pdg, training.process, recoil)
    r = training.variations
    w = np.ones(len(training)) if training.weights is None else training.weights
    x_mean, x_scale = _weighted_moments(x, w)
    x_scale = np.maximum(x_scale, 1e-9)
    y_mean, y_scale = _weighted_moments(r, w)
    y_scale = np.where(y_scale > 1e-9, y_scale, 0.0)  # a constant ratio (the nominal, a dummy weight) stays exact

    def tensors(ev: Events | None, xs: np.ndarray | None = None) -> tuple[torch.Tensor, ...]:
        if ev is None:
            ev, xs = training, x
        elif xs is None:
            xs = inputs(ev.momenta, ev.masses, ev.pdg, ev.process, recoil)
        ww = np.ones(len(ev)) if ev.weights is None else ev.weights
        return (torch.as_tensor((xs - x_mean) / x_scale, dtype=torch.float32),
                torch.as_tensor((ev.variations - y_mean) / np.where(y_scale > 0, y_scale, 1.0), dtype=torch.float32),
                torch.as_tensor(ww / np.abs(ww).mean(), dtype=torch.float32))

    xt, yt, wt = tensors(None)
    xh, yh, wh = tensors(heldout) if heldout is not None and len(heldout) else (xt, yt, wt)
    gen = torch.Generator().manual_seed(int(seed) + 17)
    torch.manual_seed(int(seed) + 17)
    net = mlp(x.shape[1], HIDDEN, LAYERS, r.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)

    def loss(xb: torch.Tensor, yb: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
        return (wb[:, None] * (net(xb) - yb) ** 2).mean()

    best, best_state = np.inf, None
    for step in range(1, steps + 1):
        idx = torch.randint(len(xt), (min(BATCH, len(xt)),), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss(xt[idx], yt[idx], wt[idx]).backward()
        opt.step()
        sched.step()
        if step % SCORE_EVERY == 0 or step == steps:
            with torch.no_grad():
                score = float(sum(loss(a, b, c) * len(a) for a, b, c in
                                  zip(xh.split(SLICE), yh.split(SLICE), wh.split(SLICE))) / len(xh))
            if score < best:
                best, best_state = score, {k: v.clone() for k, v in net.state_dict().items()}
    assert best_state is not None
    net.load_state_dict(best_state)
    state = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    return VariationModel(training.variation_set, state, x_mean, x_scale, y_mean, y_scale, recoil)
