"""Model selection: the score of a generator state, what its events are worth on the held-out events."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from lhcgan.conditions import Conditioning
from lhcgan.events import Events, sample_flavours
from lhcgan.stats import row_shares

if TYPE_CHECKING:
    from lhcgan.model import Generator

SELECT_EVENTS = 50_000  # generated events a score is measured on


class Selection:
    """Scores generator states against the held-out events (against the training events without them).

    The quantile bins come from the training events; the scored events come from fixed noise, fixed
    flavours (and parameters) and fixed symmetry transforms, so two states differ only by their weights.

    Args:
        training, reference: the training events and the events scored against.
        flavour_fractions: the flavour combinations generated events are drawn with.
        symmetries: the symmetries generated events are transformed by.
        seed: the run's seed.
        device: where the generator runs.
        conditioning, values, weights: for a conditioned model, its parameters, each training event's values
            (N, P) and the training weights, to draw the scored events' parameters with the training points' shares.
    """

    def __init__(self, training: Events, reference: Events, flavour_fractions: dict, symmetries: list[str], seed: int,
                 device: torch.device, conditioning: Conditioning | None = None, values: np.ndarray | None = None,
                 weights: np.ndarray | None = None) -> None:
        from lhcgan.validate.metrics import observables
        from lhcgan.validate.worth import WorthReference

        self.reference = WorthReference.from_samples(observables(training), observables(reference),
                                                     binning_weights=training.weights,
                                                     reference_weights=reference.weights)
        self.process, self.symmetries, self.seed, self.device = training.process, symmetries, seed, device
        self.pdg = sample_flavours(SELECT_EVENTS, flavour_fractions, np.random.default_rng([seed, 4]))
        cond = self.process.condition(self.pdg)
        if conditioning:
            rows, share = row_shares(values, weights)
            pick = np.random.default_rng([seed, 5]).choice(len(rows), SELECT_EVENTS, p=share)
            cond = np.concatenate([cond, conditioning.to_network(rows[pick])], axis=1)
        self.condition = torch.as_tensor(cond, device=device) if cond.shape[1] else None

    @torch.no_grad()
    def score(self, generator: "Generator", to_momenta: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
              autocast: Callable[[], contextlib.AbstractContextManager]) -> float:
        """1 / (what ``generator``'s events are worth in truth events), their own statistical noise subtracted
        (`WorthReference.measure` with ``intrinsic``). Lower is better; it goes on ranking below zero, where
        the held-out events can no longer resolve the worth itself. The same on every DDP rank."""
        from lhcgan.symmetry import randomise
        from lhcgan.validate.metrics import observables

        z = generator.noise(SELECT_EVENTS, torch.Generator(device=self.device).manual_seed(self.seed + 3), self.device)
        with autocast():
            x = generator(z, self.condition)
        p = to_momenta(x, self.condition).cpu().numpy()
        ok = np.isfinite(p).all(axis=(1, 2))
        p = randomise(p[ok], self.symmetries, np.random.default_rng([self.seed, 3]).random)
        gen = Events(p, self.pdg[ok], process=self.process)
        return float(self.reference.measure(observables(gen), intrinsic=True, uncertainty=False)["inverse_worth"])
