"""Every tt̄ decay channel from one model: `lhcgan fit` on a full-decay Pythia 8 sample, judged per channel
against independent truth, beside the training sample itself (the reference: what the physicist already had).

    python benchmarks/channels.py [--events 100000] [--truth 400000] [--generate 1000000] [--seeds 1 2]
                                  [--out runs/channels]

Samples (Pythia 8, 13 TeV, `lhcgan simulate --channel all`: W → q q̄′, e ν, μ ν, τ ν; seeds fixed): a training
sample and an independent truth sample. One model per seed, default settings. Prints, per channel and for
the whole sample: the channel fraction (generated over truth, and the generated fraction's pull against the
fraction the model learnt from its training split, in σ of the generated count), the smallest in-peak ratio, the classifier
AUC, the largest W1/σ of the six particles' pT, η, φ, W1/σ of the missing pT (the neutrinos') and of
m(tt̄), what the sample is worth in truth events of that channel (`lhcgan.validate.worth`), and the fit time.
``--reuse`` measures the models of an earlier run again instead of fitting.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import lhcgan
from lhcgan.config import parse_assignment
from lhcgan.pipeline import fit
from lhcgan.modelfile import TrainedModel
from lhcgan.simulate import simulate
from lhcgan.validate.metrics import particle_w1, summarise


def cells(s: dict, fraction: str) -> list[str]:
    kin = particle_w1(s["w1_over_sigma"]).values()
    met = s["w1_over_sigma"].get("met")
    return [fraction, f"{min(s['in_peak_ratio'].values()):.3f}", f"{s['auc']:.3f}", f"{max(kin):.3f}",
            "–" if met is None or not s["w1_over_sigma"].get("met") else f"{met:.3f}",
            f"{s['w1_over_sigma']['m_ttbar']:.3f}", f"{s['amplification']['worth']:,.0f}"]


def rows(name: str, sample: lhcgan.Events, truth: lhcgan.Events, fit_s: float | None,
         reference: dict[str, float] | None = None) -> list[str]:
    """Table rows of ``sample`` against ``truth``; ``reference``: the channel fractions the model learnt,
    against which a generated sample's fractions get their pull."""
    if len(sample.channel_counts()) == 1:  # a model of one channel: against that channel's truth
        (channel,) = sample.channel_counts()
        s = summarise(sample.channel(channel), truth.channel(channel), auc_events=200_000)
        return ["| " + " | ".join([name, channel, *cells(s, "–"), f"{fit_s / 60:.1f} min" if fit_s else ""]) + " |"]
    s = summarise(sample, truth, auc_events=200_000)
    fg, ft = s["channel_fractions_generated"], s["channel_fractions_truth"]
    out = ["| " + " | ".join([name, "all", *cells(s, "1"), f"{fit_s / 60:.1f} min" if fit_s else ""]) + " |"]
    for channel, sub in s["channels"].items():
        fraction = f"{fg.get(channel, 0) / ft[channel]:.3f}"
        if reference:  # the generated count is multinomial about the learnt fraction: σ² = f(1 − f)/N
            f0 = reference[channel]
            fraction += f" ({(fg.get(channel, 0) - f0) / np.sqrt(f0 * (1 - f0) / len(sample)):+.1f}σ)"
        out.append("| " + " | ".join([name, channel, *cells(sub, fraction), ""]) + " |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000, help="training sample size")
    ap.add_argument("--truth", type=int, default=400_000, help="truth sample size")
    ap.add_argument("--generate", type=int, default=1_000_000, help="generated events per model")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--out", default="runs/channels")
    ap.add_argument("--set", nargs="*", default=[], help="extra KEY=VALUE settings for every fit")
    ap.add_argument("--channel", help="train on this channel alone (`fit --channel`), to compare a model per channel "
                                      "with the conditioned model of every channel")
    ap.add_argument("--reuse", action="store_true", help="measure the generated events of an earlier run again")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    train, truth_path = out / f"train_{args.events}.root", out / f"truth_{args.truth}.root"
    if not train.is_file():
        simulate(args.events, train, seed=7101, channel="all")
    if not truth_path.is_file():
        simulate(args.truth, truth_path, seed=7102, channel="all")
    truth, sample = lhcgan.read(truth_path), lhcgan.read(train)
    print(sample.report.summary())
    table = ["| sample | channel | fraction gen/truth (pull vs learnt) | in-peak (min ratio) | AUC | max W1/σ (pT, η, φ) | "
             "W1/σ missing pT | W1/σ m(tt̄) | worth (truth events of the channel) | fit |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    if args.channel:
        sample = sample.channel(args.channel)
    table += rows(f"training sample ({len(sample)})", sample, truth, None)
    for seed in args.seeds:
        run = out / (f"fit_{args.channel}_seed{seed}" if args.channel else f"fit_seed{seed}")
        t0 = time.perf_counter()
        sets = dict(parse_assignment(kv) for kv in args.set)
        only = [args.channel] if args.channel else None
        fit_s = None
        if not (args.reuse and (run / "generated.root").is_file()):
            fit([train], out=run, validate=False, events=args.generate, channels=only,
                overrides={**sets, "seed": seed})
            fit_s = time.perf_counter() - t0
        learnt = TrainedModel.load(run / "model.pt").channel_fractions()  # of its training split, 10 % held out
        table += rows(f"`lhcgan fit` seed {seed}, {args.generate // 1000}k generated",
                      lhcgan.read(run / "generated.root"), truth, fit_s, learnt)
        print("\n".join(table), flush=True)
    print("\n".join(table))


if __name__ == "__main__":
    main()
