"""What the refinement does to a fit's deciles: the fit's generator refined at other strengths, and a perfect
generator (truth itself) refined the same way.

    python benchmarks/refiner.py --truth truth_2000000.root --fits run_25000_s6/model.pt=train_25000_s6.root ...
                                 [--strengths 100 300 1000] [--knots 13] [--perfect]

Each fit (a model `lhcgan fit` wrote and the sample it learnt) is refit with the refiner of each strength
(and knot count) on the stream `lhcgan.refine.refine` uses, then measured on 1M unrefined events of another
stream, weighted by the tilt: the expectation of what rejection would emit, without its noise. Beside them
the training events themselves, the unrefined generator, and, with ``--perfect``, truth events refined onto
the same training events (the first half's first 10 per training event as the generator, the rest as its output): what the tilt does
where the generator has no bias to correct, its own floor. Columns: the marginal, system and pairwise worth
(`lhcgan.validate.worth`, against the truth's second half) and the largest deviation from truth in the
truth's deciles of pT(t), y(t) and m(tt̄), as `benchmarks/precision.py` prints them.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from machine import cpu_name  # benchmarks/machine.py, beside this script
from precision import deciles  # benchmarks/precision.py: the deciles, measured the same way

import lhcgan
from lhcgan.events import Events
from lhcgan.modelfile import TrainedModel
from lhcgan.refine import KNOT_Z, Refiner, fit_arguments, fitted_size, fitted_stream, training_events
from lhcgan.validate.metrics import observables
from lhcgan.validate.worth import WorthReference, all_names, worth_by_kind

EVALUATED = 1_000_000


class Figures:
    """The truth's reference: its worth bins, and its observables for the deciles."""

    def __init__(self, truth: dict[str, np.ndarray]) -> None:
        self.reference = WorthReference.from_truth(truth, names=all_names(truth))
        self.truth = truth

    def line(self, tag: str, sample: dict[str, np.ndarray], weights: np.ndarray | None = None) -> str:
        kinds = worth_by_kind(sample, self.reference, weights)
        worst = [100 * max(abs(r - 1) for r in ratios) for ratios in deciles(sample, self.truth, weights).values()]
        worth = "  ".join(f"{kinds[k]['worth']:8,.0f} ({kinds[k]['worst']:7,.0f})" for k in ("marginal", "system", "pairwise"))
        return f"  {tag:22s} {worth}   {' / '.join(f'{d:.1f}' for d in worst)} %"


def refiners(train: Events, generated: Events, model: TrainedModel, strengths: list[float],
             knots: list[int]) -> dict[str, Refiner]:
    """One refiner per strength and knot count, otherwise as ``model``'s settings make it."""
    settings = fit_arguments(model.config)
    return {f"strength {s:g}" + ("" if k == len(KNOT_Z) else f", {k} knots"):
            Refiner.fit(train, generated, **(settings | {"strength": s}),
                        knot_z=np.linspace(KNOT_Z[0], KNOT_Z[-1], k))
            for s in strengths for k in knots}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", required=True, help="truth file (precision.py's 2M events, seed 3003)")
    parser.add_argument("--fits", nargs="+", required=True, help="model.pt=training sample, one per fit")
    parser.add_argument("--strengths", type=float, nargs="+", default=[100.0, 300.0, 1000.0])
    parser.add_argument("--knots", type=int, nargs="+", default=[len(KNOT_Z)])
    parser.add_argument("--perfect", action="store_true", help="also refine truth events onto each sample")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}")
    truth = lhcgan.read(args.truth)
    half = len(truth) // 2
    figures = Figures(observables(truth[np.arange(half, len(truth))]))
    print(f"{'':24s} {'marginal (least)':>19s}  {'system (least)':>18s}  {'pairwise (least)':>18s}   deciles pT(t) / y(t) / m(tt̄)")
    for fit in args.fits:
        path, sample = fit.split("=")
        model = TrainedModel.load(path)
        train = training_events(model, lhcgan.read(sample))
        plain = dataclasses.replace(model, refiner=None)
        n = fitted_size(len(train))
        fitted = fitted_stream(model, n)
        out = Events.concatenate(list(plain.iterate(EVALUATED, seed=model.config.seed + 77)))
        seen = observables(out)
        print(f"{path} (seed {model.config.seed}, {len(train):,} training events)")
        print(figures.line("training events", observables(train)))
        print(figures.line("unrefined", seen))
        for tag, r in refiners(train, fitted, model, args.strengths, args.knots).items():
            print(figures.line(tag, seen, np.exp(r.log_weights(out))))
        if args.perfect:  # from the first half: the second is the reference
            made, emitted = truth[np.arange(0, n)], truth[np.arange(n, half)]
            seen = observables(emitted)
            for tag, r in refiners(train, made, model, args.strengths, args.knots).items():
                print(figures.line(f"truth, {tag}", seen, np.exp(r.log_weights(emitted))))


if __name__ == "__main__":
    main()
