"""The training loop: losses, EMA, model selection, checkpoints, exact resume and NaN recovery.

The sample's preparation is in `lhcgan.sample`, the device and DDP set-up in `lhcgan.distributed`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lhcgan.atomic import atomic_output
from lhcgan.batches import RealBatches, mmd_columns
from lhcgan.conditions import Conditioning
from lhcgan.config import FitConfig, save_card
from lhcgan.distributed import distributed, gather, init_distributed, select_device
from lhcgan.errors import TrainingError
from lhcgan.events import Events, to_fraction_table
from lhcgan.losses import discriminator_loss, generator_loss, resonance_mmd, roth_regularizer
from lhcgan.model import Bridge, autocast, build_networks
from lhcgan.modelfile import TrainedModel
from lhcgan.preprocessing import Standardizer, make_parametrisation
from lhcgan.sample import check_weights, split_holdout, symmetrised
from lhcgan.selection import Selection
from lhcgan.settings import resolve_settings
from lhcgan.stats import effective_size, row_shares, weighted_mean_std

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
LOSSES = "losses.jsonl"
MAX_RECOVERIES = 10
#: Running mean of D(real) − D(generated) above which the discriminator has won: the run restarts from its
#: last checkpoint (a weighted sample's few heavy events can tip it within a hundred iterations).
COLLAPSE = 0.9
#: ... and above which a checkpoint is not taken as a state to restart from.
SEPARATING = 0.5


class _NonFinite(Exception):
    """A loss or gradient was NaN or infinite."""


class Trainer:
    """Trains the MMD-GAN on ``events``; everything it writes goes into ``run_dir``.

    Args:
        events: the training sample.
        config: the settings.
        run_dir: the run folder (created).
        progress: show a progress bar.
        split_seed: fixes which events are held out (default: the run's seed); an ensemble's
            members share it, so none of them sees the events the others are validated on.
        conditioning: the parameters the model is conditioned on and its training points; the
            events carry their values (`Events.parameters`, see `lhcgan.conditions.join_samples`).
    """

    def __init__(self, events: Events, config: FitConfig, run_dir: str | os.PathLike[str], progress: bool = False,
                 split_seed: int | None = None, conditioning: Conditioning | None = None):
        cfg = config
        events = events.present()  # the process of the channels the sample holds: one channel, no condition
        #: the events training uses, and those held out for model selection and validation
        self.split_seed = cfg.seed if split_seed is None else split_seed
        self.events, self.heldout = split_holdout(events, cfg.holdout, self.split_seed)
        events = self.events
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.dist = dist = distributed()
        self.progress = progress and dist.main
        self.device = select_device(cfg.device)
        if self.device.type == "cuda" and dist.world > 1:
            self.device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(self.device)
        init_distributed(dist, self.device)
        if cfg.batch % dist.world:
            raise TrainingError(f"batch {cfg.batch} does not split into {dist.world} processes",
                                hint="choose a batch divisible by the number of processes")
        self.local_batch = cfg.batch // dist.world
        #: signed training weights (None: unweighted); batches are drawn ∝ |w|^p, w/|w|^p enters the losses
        self.weights = check_weights(events)
        #: the settings as used, resolved once: the model and card.yaml save these
        self.cfg = cfg = resolve_settings(config, events, weighted=self.weights is not None,
                                          conditioning=conditioning, device_type=self.device.type,
                                          world=dist.world, warn=dist.main)
        self.process = events.process
        self.conditioning = conditioning
        #: the events' parameter values (N, P) for a conditioned model, and the poles they set
        values = conditioning.values_of(events) if conditioning else np.zeros((len(events), 0))
        poles = conditioning.poles(values) if conditioning else None

        #: (weighted) fractions of each flavour combination: generated events are drawn with them
        self.flavour_fractions = events.flavour_fractions()
        sym, sym_w = symmetrised(events.momenta, self.weights, cfg.symmetries, cfg.seed)
        images = len(sym) // len(events)  # the symmetrised copies follow each other: their poles too
        sym_poles = {k: np.tile(v, images) for k, v in poles.items()} if poles else None
        # the slots' masses follow each event's modes (a τ); symmetries keep the flavours, so the copies' too
        slot_masses = None if events.process.fixed_masses else np.tile(events.masses, (images, 1))
        self.pre = make_parametrisation(cfg.parametrisation, sym, events.process, sym_w, sym_poles, slot_masses,
                                        cfg.smooth_marginals)
        self.feat = Standardizer.fit(sym, sym_w)
        masses = events.resonance_masses()
        shifts = conditioning.mass_shifts(values, self.process) if conditioning else np.zeros_like(masses)
        m_mean, m_std = weighted_mean_std(masses - shifts, self.weights)
        m_std = np.maximum(m_std, 1e-6)
        self.conserve_pt = bool(cfg.conserve_pt)

        torch.manual_seed(cfg.seed)  # weight initialisation
        self.bridge = Bridge(self.pre, self.feat, self.process, mass_mean=m_mean, mass_scale=m_std,
                             conserve_pt=self.conserve_pt, disc_masses=cfg.disc_masses,
                             disc_coordinates=cfg.disc_coordinates, conditioning=conditioning).to(self.device)
        G, D = build_networks(cfg, self.process, self.bridge)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        # DDP wraps the networks for the updates it synchronises; other forwards use the plain modules
        self.G_train, self.D_train = self.G, self.D
        if dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.G_train = DDP(self.G, device_ids=ids)
            self.D_train = DDP(self.D, device_ids=ids)
        # fused: one kernel per update instead of a dozen small ops per parameter tensor
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=cfg.betas, fused=True)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d or cfg.lr, betas=cfg.betas, fused=True)
        decay: Callable[[int], float] = lambda it: 1.0 / (1.0 + cfg.lr_decay * it)  # noqa: E731
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, decay)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, decay)

        # a sample of several channels: each event's decay modes condition both networks, and so do the
        # parameters of a conditioned model; generated events get conditions drawn with the (weighted)
        # fractions of the sample's
        self.values = values
        cond = self.process.condition(events.pdg)
        if conditioning:
            cond = np.concatenate([cond, conditioning.to_network(values)], axis=1)
        rows, share = row_shares(cond, self.weights)
        self.cond_rows = torch.as_tensor(rows, device=self.device)
        self.cond_prob = torch.as_tensor(share, dtype=torch.float64, device=self.device)
        #: the real-batch source: the training events on the device, their weights, their symmetries
        self.real = RealBatches(events, cond, self.weights, cfg, self.bridge, self.device, dist)
        self.data_gen = self.real.gen
        # the same data stream on every rank (each takes its shard), its own noise stream per rank
        self.noise_gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 2 + 7919 * dist.rank)
        widths = cfg.mmd_widths or {}
        self.widths = [list(widths.get(r.name) or [r.width]) for r in self.process.resonances]
        self.centre = [r.mass for r in self.process.resonances]
        if cfg.mmd_system:  # one more MMD term, on m(tt̄)
            self.widths.append([float(v) for v in cfg.mmd_system])
            self.centre.append(self.real.system_mass)
        if cfg.mmd_top_pt:  # and one on each top's pT
            for _ in self.process.primaries:
                self.widths.append([float(v) for v in cfg.mmd_top_pt])
                self.centre.append(self.real.top_pt)

        self.iteration = 0
        self.recoveries = 0
        self.elapsed = 0.0
        self._good: dict[str, Any] | None = None
        # model selection: the EMA generator's worth, binned in training quantiles, against held-out events
        self.best: dict[str, Any] | None = None
        self.selection: Selection | None = None
        if cfg.select_every:
            if not len(self.heldout) and dist.main:
                warnings.warn("no held-out events (holdout: 0): model selection scores against the training "
                              "events, which rewards memorising them", stacklevel=2)
            self.selection = Selection(events, self.heldout if len(self.heldout) else events, self.flavour_fractions,
                                       cfg.symmetries, cfg.seed, self.device, conditioning, values, self.weights)

    # -- one iteration -----------------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.cfg.bf16, self.cfg.cpu_bf16)

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """A batch of real events (`RealBatches.draw`)."""
        return self.real.draw()

    def _noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's noise (B/K, latent) and, for a conditioned model (channels, parameters), conditions drawn
        with the sample's fractions."""
        z = self.G.noise(self.local_batch, self.noise_gen, self.device)
        if not self.bridge.n_condition:
            return z, None
        pick = torch.multinomial(self.cond_prob, self.local_batch, replacement=True, generator=self.noise_gen)
        return z, self.cond_rows[pick]

    @staticmethod
    def _check(*values: torch.Tensor, params=()) -> None:
        """Raise _NonFinite if a scalar in ``values`` or a gradient of ``params`` is NaN or infinite."""
        # one norm per gradient in a single call: NaN or inf anywhere makes its tensor's norm non-finite
        grads = [p.grad for p in params if p.grad is not None]
        scalars = [v.detach().float().reshape(()) for v in (*values, *(torch._foreach_norm(grads) if grads else []))]
        if scalars and not bool(torch.isfinite(torch.stack(scalars)).all()):
            raise _NonFinite

    def _logs(self, iteration: int) -> bool:
        """Whether the loss-log line is written after ``iteration`` (as well as after each model selection)."""
        return iteration % self.cfg.log_every == 0 or iteration == self.cfg.iterations

    def step(self) -> dict[str, float]:
        """One iteration: ``d_steps`` discriminator updates, one generator update, EMA; advances ``iteration``."""
        cfg = self.cfg
        # one generated batch, with its graph, serves the last discriminator update and the generator update
        z, c = self._noise()
        with self._autocast():
            x = self.G_train(z, c)
        p = self.bridge.to_momenta(x, c)
        m = self.bridge.masses(p, c)
        f_gen = self.bridge.features(p, m, x, condition=c)
        for k in range(cfg.d_steps):
            f_real, _, sign, _ = self._real_batch()
            if k < cfg.d_steps - 1:
                with torch.no_grad():
                    z_k, c_k = self._noise()
                    with self._autocast():
                        x_k = self.G(z_k, c_k)
                    f_fake = self.bridge.features(self.bridge.to_momenta(x_k, c_k), x=x_k, condition=c_k)
            else:
                f_fake = f_gen
            # lazy regularisation: every reg_every-th step, weighted up to keep the average
            lazy = cfg.reg_weight > 0 and self.iteration % cfg.reg_every == 0
            # input gradients only where the regulariser needs them
            f_real = f_real.detach().requires_grad_(lazy)
            f_fake = f_fake.detach().requires_grad_(lazy)
            with self._autocast():
                l_real, l_fake = self.D_train(torch.cat([f_real, f_fake])).float().split(len(f_real))
            loss_d = discriminator_loss(l_real, l_fake, sign)
            reg = roth_regularizer(l_real, f_real, l_fake, f_fake) if lazy else loss_d.new_zeros(())
            self._check(loss_d, reg)
            self.opt_d.zero_grad(set_to_none=True)
            (loss_d + 0.5 * cfg.reg_weight * cfg.reg_every * reg).backward()
            self._check(params=self.D.parameters())
            self.opt_d.step()

        _, m_real, _, sign_mmd = self._real_batch()
        self.D.requires_grad_(False)  # the generator step needs D's input gradients only
        try:
            with self._autocast():
                l_gen = self.D(f_gen).float()
            loss_adv = generator_loss(l_gen)
            # the MMD sees the whole batch: generated masses gathered from every rank
            slots = self.bridge.slot_masses(c)
            m = mmd_columns(cfg, self.bridge, p, m, self.process.masses if slots is None else slots, c)
            # the real events' own kernel sum has no gradient: computed only where the value is logged
            logged = self._logs(self.iteration + 1)
            loss_mmd = resonance_mmd(gather(m, self.dist), m_real, self.widths, cfg.mmd_kernel, self.centre,
                                     real_weights=sign_mmd, constant=logged)
            loss_g = loss_adv + cfg.mmd_weight * loss_mmd
            self._check(loss_g)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        finally:  # also when a non-finite loss sends the run back to its checkpoint: D must train again
            self.D.requires_grad_(True)
        self._check(params=self.G.parameters())
        self.opt_g.step()
        self.sched_g.step()
        self.sched_d.step()
        if cfg.ema > 0:
            with torch.no_grad():
                torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1 - cfg.ema)
        else:
            self.G_ema.load_state_dict(self.G.state_dict())
        self.iteration += 1
        out = {"loss_d": loss_d.item(), "reg": reg.item(), "loss_g": loss_adv.item(),
               "d_real": torch.sigmoid(l_real).mean().item(), "d_fake": torch.sigmoid(l_fake).mean().item()}
        return out | {"mmd": loss_mmd.item()} if logged else out

    # -- model selection ---------------------------------------------------------------------------

    def selection_score(self) -> float:
        """The EMA generator's `Selection.score`: 1 / its events' worth on the held-out events; lower is better."""
        return self.selection.score(self.G_ema, self.bridge.to_momenta, self._autocast)

    def _select(self) -> float:
        score = self.selection_score()
        if self.best is None or score < self.best["score"]:
            self.best = {"score": score, "iteration": self.iteration,
                         "G_ema": {k: v.detach().cpu().clone() for k, v in self.G_ema.state_dict().items()}}
        return score

    # -- checkpoints -------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly where the run is."""
        return {
            "iteration": self.iteration,
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
            "data_gen": self.data_gen.get_state(), "noise_gen": self.noise_gen.get_state(),
            "config": self.cfg.to_dict(), "preprocessing": self.feat.state_dict(),
            "recoveries": self.recoveries, "elapsed": self.elapsed, "best": self.best,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.data_gen.set_state(state["data_gen"])
        self.noise_gen.set_state(state["noise_gen"])
        self.iteration = int(state["iteration"])
        self.recoveries = int(state["recoveries"])
        self.elapsed = float(state["elapsed"])
        self.best = copy.deepcopy(state.get("best"))

    def save_checkpoint(self) -> None:
        """Rank 0 writes the checkpoint; every rank keeps its in-memory copy for NaN recovery."""
        state = self.state()
        if self.dist.main:
            with atomic_output(self.run_dir / CHECKPOINT) as tmp:
                torch.save(state, tmp)
        self._barrier()
        self._good = copy.deepcopy(state)

    def _barrier(self) -> None:
        if self.dist.world > 1:
            import torch.distributed as td

            td.barrier()

    def resume(self) -> None:
        """Continue from ``run_dir/checkpoint.pt``; the loss log is cut back to that iteration."""
        path = self.run_dir / CHECKPOINT
        if not path.is_file():
            raise TrainingError("no checkpoint to resume from", path=path, hint="start without --resume")
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)  # never unpickle code
        except Exception as exc:  # torch raises many types for damaged or foreign files
            raise TrainingError(f"cannot load the checkpoint ({type(exc).__name__})", path=path,
                                hint="the file is damaged or not an lhcgan checkpoint: start without --resume") from exc
        if state["config"] != self.cfg.to_dict():
            changed = sorted(k for k in state["config"] if state["config"][k] != self.cfg.to_dict().get(k))
            raise TrainingError(f"the checkpoint was made with other settings ({', '.join(changed)})", path=path,
                                hint="resume with the run's card.yaml settings")
        if not np.allclose(state["preprocessing"]["mean"], self.feat.mean):
            raise TrainingError("the checkpoint was made with another training sample", path=path,
                                hint="resume with the same input file")
        self.load_state(state)
        self._good = copy.deepcopy(state)
        log = self.run_dir / LOSSES
        if log.is_file():
            lines = [ln for ln in log.read_text().splitlines() if json.loads(ln).get("iteration", 0) <= self.iteration]
            log.write_text("".join(ln + "\n" for ln in lines))

    def _separation(self, running: dict[str, float]) -> float:
        """The running mean of D(real) − D(generated), averaged over the ranks (they decide together)."""
        sep = torch.tensor([running.get("d_real", 0.5) - running.get("d_fake", 0.5)], device=self.device)
        if self.dist.world > 1:
            import torch.distributed as td

            td.all_reduce(sep)
            sep /= self.dist.world
        return float(sep)

    def _recover(self, event: str = "nan_recovery") -> None:
        self.recoveries += 1
        if self.recoveries > MAX_RECOVERIES or self._good is None:
            raise TrainingError(
                f"training diverged: {self.recoveries} restarts (non-finite losses or gradients, or a discriminator "
                f"that separated every event) by iteration {self.iteration}",
                path=self.run_dir, hint="lower lr or mmd_weight, or check the training sample")
        recoveries = self.recoveries
        at = self.iteration
        state = copy.deepcopy(self._good)
        # keep the random streams going, so the batch that failed is not drawn again
        state["data_gen"], state["noise_gen"] = self.data_gen.get_state(), self.noise_gen.get_state()
        self.load_state(state)
        self.recoveries = recoveries
        self._log({"event": event, "at": at, "restored": self.iteration})

    def _log(self, record: dict[str, Any]) -> None:
        if not self.dist.main:
            return
        with open(self.run_dir / LOSSES, "a") as f:
            f.write(json.dumps(record) + "\n")

    # -- the loop ----------------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> TrainedModel:
        """Train to ``config.iterations``; return the trained model (also saved as ``model.pt``)."""
        from tqdm import tqdm

        cfg = self.cfg
        if self.dist.main:
            save_card(cfg, self.run_dir / "card.yaml")
        if resume:
            self.resume()
        else:
            if self.dist.main:
                (self.run_dir / LOSSES).unlink(missing_ok=True)
            self.save_checkpoint()
        running: dict[str, float] = {}
        bar = tqdm(total=cfg.iterations, initial=self.iteration, disable=not self.progress, unit="it", desc="fit")
        t0 = time.perf_counter() - self.elapsed
        with bar:
            while self.iteration < cfg.iterations:
                try:
                    losses = self.step()
                except _NonFinite:
                    self._recover()
                    bar.n = self.iteration
                    continue
                bar.update(1)
                for k, v in losses.items():
                    running[k] = v if k not in running else 0.98 * running[k] + 0.02 * v
                check = self.iteration % cfg.log_every == 0 or self.iteration % cfg.checkpoint_every == 0
                separation = self._separation(running) if check else 0.0
                if separation > COLLAPSE:  # the generator gets no useful gradient any more: start again from before
                    self._recover("collapse_recovery")
                    running.clear()
                    bar.n = self.iteration
                    continue
                record: dict[str, Any] = {}
                if cfg.select_every and (self.iteration % cfg.select_every == 0 or self.iteration == cfg.iterations):
                    inverse = self._select()
                    # the held-out worth; 1e12 where the held-out events cannot resolve it
                    record["selection"] = 1 / inverse if inverse > 1e-12 else 1e12
                    record["selection_inverse"] = inverse
                if record or self._logs(self.iteration):
                    self._log({"iteration": self.iteration, **losses, "lr": self.sched_g.get_last_lr()[0], **record})
                    bar.set_postfix(D=f"{running['loss_d']:.3f}", G=f"{running['loss_g']:.3f}",
                                    MMD=f"{losses.get('mmd', running.get('mmd', float('nan'))):.2e}")
                if (self.iteration % cfg.checkpoint_every == 0 or self.iteration == cfg.iterations) and (
                        separation < SEPARATING or self.iteration == cfg.iterations):
                    self.elapsed = time.perf_counter() - t0
                    self.save_checkpoint()
        model = self.with_variations(self.refined(self.trained_model()))
        if self.dist.main:
            model.save(self.run_dir / MODEL)
            self.plot_losses()
        self._barrier()
        return model

    def plot_losses(self) -> None:
        """loss_curves.png in the run folder, from losses.jsonl."""
        import matplotlib.pyplot as plt

        from lhcgan.validate.plots import loss_figure

        fig = loss_figure(self.run_dir / LOSSES)
        with atomic_output(self.run_dir / "loss_curves.png") as tmp:
            fig.savefig(tmp, dpi=90, format="png")
        plt.close(fig)

    def refined(self, model: TrainedModel) -> TrainedModel:
        """``model`` with a refiner fitted on the training events where ``refine`` is on (`lhcgan.refine`).
        Deterministic, so every DDP rank fits the same one."""
        if not model.config.refine:
            return model
        from lhcgan.refine import refine

        model = refine(model, self.events)
        if self.dist.main:
            self._log({"iteration": self.iteration, "refine_acceptance": model.meta["refine_acceptance"],
                       "refine_generated": model.meta["refine_generated"]})
        return model

    def with_variations(self, model: TrainedModel) -> TrainedModel:
        """``model`` with the sample's theory variations learnt as ratios per event (`lhcgan.variation_model`),
        where the sample has them and ``variations`` is on; scored on the held-out events. Deterministic."""
        if not (model.config.variations and self.events.variation_set is not None):
            return model
        from lhcgan.variation_model import fit_variations

        t0 = time.perf_counter()
        model = dataclasses.replace(model, variation_model=fit_variations(
            self.events, self.heldout if len(self.heldout) else None, seed=self.cfg.seed))
        if self.dist.main:
            self._log({"iteration": self.iteration, "variations": self.events.variation_set.summary(),
                       "variations_seconds": round(time.perf_counter() - t0, 1)})
        return model

    def trained_model(self) -> TrainedModel:
        """The model to ship: the EMA generator, or with selection on, its best-scoring state so far."""
        generator = copy.deepcopy(self.G_ema).cpu()
        if self.best is not None:
            generator.load_state_dict(self.best["G_ema"])
        return TrainedModel.from_networks(
            generator=generator,
            bridge=copy.deepcopy(self.bridge).cpu(),
            process=self.process,
            config=self.cfg,
            flavour_fractions=self.flavour_fractions,
            conditioning=self.conditioning,
            meta={
                "ecm": self.events.meta.get("ecm"),
                # σ depends on a conditioned parameter (m_t, √s): one sample's σ would be wrong elsewhere
                "cross_section_pb": None if self.conditioning else self.events.meta.get("cross_section_pb"),
                "conditioning": self.conditioning.to_dict() if self.conditioning else None,
                "source": str(self.events.meta.get("source")),
                "training_events": len(self.events),
                "training_effective_events": effective_size(self.weights, len(self.events)),
                "weighted": self.weights is not None,
                "heldout_events": len(self.heldout),
                "split_seed": self.split_seed,
                "iterations": self.iteration,
                "selected_iteration": self.best["iteration"] if self.best else self.iteration,
                "selection_score": self.best["score"] if self.best else None,
                "seed": self.cfg.seed,
                "training_seconds": round(self.elapsed, 1),
                "flavour_fractions": to_fraction_table(self.flavour_fractions),
            },
        )

