"""Theory variations on generated events, against independent truth, and what writing them costs; in one run.

    python benchmarks/variations.py [--model data/ttbar_model.pt] [--train 1000000] [--truth 400000]
                                    [--generate 1000000] [--out runs/variations] [--fit] [--seeds 1]

Samples (Pythia 8, 13 TeV, all-hadronic; `lhcgan simulate --variations`: each event's exact leading-order
9-point scale and 2 PDF-alternative weights):
* training: the shipped model's own sample (1M events, seed 1001, as in data/README.md), now with its weights;
* truth: 400k independent events with their weights (seed 2002);
* varied truth: 400k events made by Pythia itself at 2 μ_R (``SigmaProcess:renormMultFac = 4``, seed 2003)
  and at 2 μ_F (``factorMultFac = 4``, seed 2004), no reweighting involved.

Model: the shipped model's GAN with the variations learnt on its training split of that sample (the
split `fit` made, its held-out events scoring), or with ``--fit`` a new `lhcgan fit` per seed on the
training sample. Prints per variation: the largest deviation of the generated varied/nominal ratio from
the truth's in the bins (≥ 1 % of events) of m(tt̄), pT(t), y(t) and |Δy|, and its pull; the 7-point
m(tt̄) envelope; the same ratio against the samples made at the varied scales; and the generation rate
into ROOT with and without the weights, naming the CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

import lhcgan
from machine import cpu_name  # benchmarks/machine.py, beside this script
from lhcgan.pipeline import fit
from lhcgan.generate import generate
from lhcgan.modelfile import TrainedModel
from lhcgan.sample import split_holdout
from lhcgan.simulate import SCALE_POINTS, simulate
from lhcgan.validate.variations import MIN_SHARE, N_BINS, binned_ratio, compare_variations, observables
from lhcgan.variation_model import fit_variations


def varied_truth_rows(generated: lhcgan.Events, nominal: lhcgan.Events, varied: dict[str, lhcgan.Events]) -> list[str]:
    """dσ(varied)/dσ(nominal) per bin from the samples Pythia made at the varied scales, against the generated
    events' learnt ratio of that variation: the largest |ratio_gen / ratio_varied − 1| and pull per observable."""
    rows = []
    ids = generated.variation_set.ids
    for name, (k_r, k_f) in (("2 μ_R", (2.0, 1.0)), ("2 μ_F", (1.0, 2.0))):
        sample = varied[name]
        col = ids[SCALE_POINTS.index((k_r, k_f))]
        s0, e0 = nominal.meta["cross_section_pb"], nominal.meta["cross_section_error_pb"]
        s1, e1 = sample.meta["cross_section_pb"], sample.meta["cross_section_error_pb"]
        norm, norm_err = s1 / s0, s1 / s0 * np.hypot(e0 / s0, e1 / s1)
        cells = [f"σ ratio {norm:.4f} ± {norm_err:.4f} (generated {generated.variations[:, ids.index(col)].mean():.4f})"]
        og, on, ov = observables(generated), observables(nominal), observables(sample)
        for obs in og:
            lo, hi = np.quantile(on[obs], [0.001, 0.999])
            edges = np.linspace(lo, hi, N_BINS + 1)
            n0 = np.histogram(on[obs], edges)[0].astype(float)
            n1 = np.histogram(ov[obs], edges)[0].astype(float)
            judged = (n0 >= MIN_SHARE * len(nominal)) & (n1 > 0)
            truth = norm * (n1 / len(sample)) / (n0 / len(nominal))
            err = truth * np.sqrt(1 / np.maximum(n0, 1) + 1 / np.maximum(n1, 1) + (norm_err / norm) ** 2)
            r_g = binned_ratio(og[obs], np.ones(len(generated)), generated.variations[:, [ids.index(col)]], edges)[0][:, 0]
            dev = np.where(judged, np.abs(r_g / truth - 1), 0)
            pull = np.where(judged, np.abs(r_g - truth) / err, 0)
            cells.append(f"{obs} {dev.max():.2%} ({pull.max():.1f}σ)")
        rows.append(f"| {name} (Pythia at that scale) | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="the model whose GAN generates (default: the shipped one)")
    ap.add_argument("--train", type=int, default=1_000_000)
    ap.add_argument("--train-seed", type=int, default=1001, help="the shipped model's sample: 1001")
    ap.add_argument("--truth", type=int, default=400_000)
    ap.add_argument("--generate", type=int, default=1_000_000)
    ap.add_argument("--fit", action="store_true", help="train a new model per seed with `lhcgan fit` instead")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--save", help="write the shipped model with its learnt variations here")
    ap.add_argument("--figure", help="draw m(tt̄) with the 7-point scale band, generated against truth, into this PNG")
    ap.add_argument("--out", default="runs/variations")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"train": out / f"train_{args.train}_{args.train_seed}.root", "truth": out / f"truth_{args.truth}.root",
             "2 μ_R": out / f"truth_muR2_{args.truth}.root", "2 μ_F": out / f"truth_muF2_{args.truth}.root"}
    jobs = {"train": (args.train, args.train_seed, True, ()), "truth": (args.truth, 2002, True, ()),
            "2 μ_R": (args.truth, 2003, False, ("SigmaProcess:renormMultFac = 4",)),
            "2 μ_F": (args.truth, 2004, False, ("SigmaProcess:factorMultFac = 4",))}
    for key, (n, seed, weights, extra) in jobs.items():
        if not paths[key].is_file():
            t0 = time.perf_counter()
            simulate(n, paths[key], seed=seed, variations=weights, settings=extra)
            print(f"simulated {key}: {n} events in {time.perf_counter() - t0:.0f} s", flush=True)
    truth = lhcgan.read(paths["truth"])
    varied = {k: lhcgan.read(paths[k]) for k in ("2 μ_R", "2 μ_F")}
    sample = lhcgan.read(paths["train"])
    print(sample.report.summary())
    models = {}
    if args.fit:
        for seed in args.seeds:
            run = out / f"fit_seed{seed}"
            if not (run / "model.pt").is_file():
                fit([paths["train"]], out=run, validate=False, events=1000, overrides={"seed": seed})
            models[f"`lhcgan fit` seed {seed}"] = TrainedModel.load(run / "model.pt")
    else:
        model = TrainedModel.load(args.model)
        training, heldout = split_holdout(sample, model.config.holdout, model.meta.get("split_seed", model.config.seed))
        t0 = time.perf_counter()
        vm = fit_variations(training, heldout, seed=model.config.seed)
        print(f"variations learnt on {len(training)} events in {time.perf_counter() - t0:.0f} s "
              f"(held out {len(heldout)})", flush=True)
        model = dataclasses.replace(model, variation_model=vm)
        models["shipped GAN, variations learnt"] = model
        if args.save:  # the GAN and its refinement untouched, the variations and where they come from added
            dataclasses.replace(model, meta=model.meta | {"variations": (
                f"{vm.variations.summary()}: exact LO weights of `lhcgan simulate --events {args.train} --seed "
                f"{args.train_seed} --variations`, learnt on {len(training)} events, {len(heldout)} held out "
                "(benchmarks/variations.py --save)")}).save(args.save)
    header = ["| sample | variations passing (within 1 %, or z σ) | largest deviation (where) | largest pull | "
              "7-point m(tt̄) envelope width vs truth |", "|---|---|---|---|---|"]
    table, checks = list(header), []
    # the reference: the training sample's own weights against the truth, as a physicist would have them
    for name, gen in [("training sample's own weights", sample)] + [(k, None) for k in models]:
        if gen is None:
            path = out / f"generated_{name.split()[0].strip('`')}_{len(table)}.root"
            generate(args.generate, path, model=models[name], seed=7)
            gen = lhcgan.read(path)
            checks += varied_truth_rows(gen, truth, varied)
            if args.figure and not Path(args.figure).exists():
                from lhcgan.validate.plots import scale_band_figure

                scale_band_figure(gen, truth).savefig(args.figure, dpi=90)
        res = compare_variations(gen, truth)
        recs = res["variations"]
        worst = max(recs.items(), key=lambda kv: kv[1]["max_deviation"])
        table.append(f"| {name} ({len(gen):,}) | {sum(r['passed'] for r in recs.values())} of {len(recs)} | "
                     f"{worst[1]['max_deviation']:.2%} ({worst[0]}: {worst[1]['worst']}) | "
                     f"{max(r['max_pull'] for r in recs.values()):.1f} | "
                     f"{res.get('envelope', {}).get('m_ttbar', float('nan')):.1%} |")
        print("\n".join(table), flush=True)
    # what the weights cost: generation into ROOT with and without them, one model, same stream
    model = next(iter(models.values()))
    with tempfile.TemporaryDirectory() as tmp:
        generate(20_000, Path(tmp) / "warm.root", model=model)
        rates = {}
        for label, m in (("with variations", model), ("without", dataclasses.replace(model, variation_model=None))):
            t0 = time.perf_counter()
            generate(args.generate, Path(tmp) / "g.root", model=m, seed=3)
            rates[label] = args.generate / (time.perf_counter() - t0)
    print("\n".join(table))
    print("\n| against the samples Pythia made at the varied scales | normalisation | m(tt̄) | pT(t) | y(t) | |Δy| |")
    print("|---|---|---|---|---|---|")
    print("\n".join(checks))
    print(f"\ngeneration → ROOT on {cpu_name()}: {rates['with variations']:,.0f} ev/s with {len(model.variation_model.variations)} "
          f"variation weights per event, {rates['without']:,.0f} ev/s without "
          f"(the weights cost {1 - rates['with variations'] / rates['without']:.0%})")


if __name__ == "__main__":
    main()
