"""What a generated sample is worth, on truth the model never saw: trains, generates, measures.

    python benchmarks/precision.py [--sizes 25000 300000] [--seeds 1 2 3] [--truth truth_2M.root]
                                   [--generate 1000000] [--strong] [--model M.pt ...] [--set KEY=VALUE ...]
                                   [--generation-seeds 7 8 9]

For each training size and seed it simulates an independent Pythia 8 training
sample (Pythia seed 100 + seed), trains the default `lhcgan fit` settings on it
(as a new user would, plus any --set), generates --generate events and measures
them against a large independent truth sample (Pythia seed 3003; 2M events unless
--truth is given):

* worth: the truth events the generated sample is worth (`lhcgan.validate.worth`), of three kinds:
  the partons' marginals (as before), the tt̄-system observables (pT and y of each top, m(tt̄),
  |Δy|) and pairs of them on 10×10 quantile cells; each in aggregate and its least member;
* deciles: generated/truth in the truth's deciles of pT(t), y(t) and m(tt̄), the largest deviation
  of each (the 25k goal: within 3 %);
* self-assessment: the fit's own worth estimate, from its held-out events binned on its training
  events as `lhcgan fit` reports it, its 1σ range, and whether that range holds the worth measured
  against the independent truth;
* AUC of lhcgan validate's classifier and, with --strong, of the L-GATr-style one;
* max W1/σ of the quarks' pT, η, φ;
* m(tt̄): the generated fraction above 1 and 1.5 TeV over truth's, with its pull, and
  the largest deviation of generated/truth in 50 GeV bins up to 1.5 TeV, against the
  whole truth sample;
* the fit time.

Beside each trained model it prints the reference: the training sample itself,
measured the same way (a truth sample is worth its size), the same model without
its refinement (`lhcgan.refine`, the previous default), and any --model given (one generated sample per
--generation-seeds seed: a worth near the generated sample's own size varies by 15–20 % between samples).
--reuse measures the models of an earlier run's folder again (refining those
trained before refinement was the default: what `fit` would have done).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from machine import cpu_name  # benchmarks/machine.py, beside this script

import lhcgan
from lhcgan import physics
from lhcgan.config import load_card, parse_assignment
from lhcgan.events import Events
from lhcgan.modelfile import TrainedModel, load_model
from lhcgan.refine import refine, training_events
from lhcgan.simulate import simulate
from lhcgan.train import Trainer
from lhcgan.validate.metrics import (
    amplification,
    classifier_auc,
    observables,
    particle_w1,
    strong_classifier_auc,
    wasserstein1,
)
from lhcgan.validate.worth import WorthReference, all_names, worth_by_kind

TAILS = (1000.0, 1500.0)


def mtt_figures(gen: Events, truth: Events) -> dict:
    """m(tt̄) tail fractions, generated over truth, their pulls, and the worst 50 GeV bin up to 1.5 TeV."""
    mg = physics.invariant_mass(gen.momenta, gen.masses)
    mt = physics.invariant_mass(truth.momenta, truth.masses)
    out = {}
    for cut in TAILS:
        fg, ft = np.mean(mg > cut), np.mean(mt > cut)
        sigma = np.sqrt(fg * (1 - fg) / len(mg) + ft * (1 - ft) / len(mt))
        out[f">{cut:.0f}"] = {"ratio": fg / ft, "pull": (fg - ft) / sigma}
    edges = np.arange(300.0, 1501.0, 50.0)
    hg, _ = np.histogram(mg, edges)
    ht, _ = np.histogram(mt, edges)
    ratio = (hg / len(mg)) / np.maximum(ht / len(mt), 1e-300)
    ok = ht >= 100  # bins truth resolves to 10 % or better
    k = int(np.argmax(np.where(ok, np.abs(ratio - 1), -1)))
    out["worst_bin"] = {"from": float(edges[k]), "ratio": float(ratio[k])}
    return out


DECILES = ("pt_t", "y_t", "m_ttbar")


def decile_edges(reference: np.ndarray) -> np.ndarray:
    """(11,) edges of the reference's deciles, open at both ends."""
    edges = np.quantile(reference, np.linspace(0, 1, 11))
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def deciles(gen: dict, truth: dict, weights: np.ndarray | None = None) -> dict[str, list[float]]:
    """generated/truth in each decile of the truth's pT(t), y(t) and m(tt̄); ``weights``: the generated events'."""
    out = {}
    total = len(gen[DECILES[0]]) if weights is None else float(np.sum(weights))
    for k in DECILES:
        edges = decile_edges(truth[k])
        hg = np.histogram(gen[k], edges, weights=weights)[0] / total
        ht = np.histogram(truth[k], edges)[0] / len(truth[k])
        out[k] = (hg / ht).tolist()
    return out


def self_assessment(gen: Events, model: TrainedModel, events: Events) -> dict:
    """The fit's own marginal worth estimate of ``gen``: its held-out events as the reference, its training
    events as the binning (the split `lhcgan fit` made), as its last line reports it."""
    from lhcgan.sample import split_holdout

    training, heldout = split_holdout(events, model.config.holdout, int(model.meta.get("split_seed", model.config.seed)))
    amp = amplification(observables(gen), observables(heldout), binning=observables(training),
                        training_size=len(events))
    return {"worth": amp["worth"], "range": amp["worth_range"], "heldout": len(heldout),
            "system": amp["system"]["worth"], "pairwise": amp["pairwise"]["worth"]}


def measure(gen: Events, truth: Events, ref: WorthReference, strong: bool, whole: Events | None = None) -> dict:
    """The figures of ``gen`` against ``truth`` (the reference half); the m(tt̄) tails against ``whole``, all the
    truth there is, where given: each half of 2M events is itself off by about 1 % above 1 TeV."""
    og, ot = observables(gen), observables(truth)
    kinds = worth_by_kind(og, ref, gen.weights)
    w = kinds["marginal"]
    # the quarks' pT, η, φ: pT(tt̄) of a balanced sample is float rounding (exactly 0 in generated events)
    w1 = max(particle_w1({k: wasserstein1(og[k], ot[k]) / np.std(ot[k]) for k in og}).values())
    out = {"worth": w["worth"], "worst": w["worst"], "worst_observable": w["worst_observable"],
           "auc": classifier_auc(gen, truth, max_events=200_000), "w1": w1,
           "mtt": mtt_figures(gen, truth if whole is None else whole),
           "system": {k: kinds["system"][k] for k in ("worth", "worst", "worst_observable")},
           "pairwise": {k: kinds["pairwise"][k] for k in ("worth", "worst", "worst_observable")},
           "deciles": deciles(og, observables(truth if whole is None else whole))}
    if strong:
        out["strong_auc"] = strong_classifier_auc(gen, truth)
    return out


def row(label: str, size: int, m: dict, seconds: float | None) -> str:
    t = m["mtt"]
    text = (f"{label:<26} {m['worth']:>10,.0f} {m['worth'] / size:>6.2f} {m['worst']:>9,.0f} "
            f"{m['worst_observable']:<12} {m['auc']:>6.3f} {m.get('strong_auc', float('nan')):>6.3f} "
            f"{m['w1']:>6.3f} {t['>1000']['ratio']:>5.2f} ({t['>1000']['pull']:+5.1f}σ) "
            f"{t['>1500']['ratio']:>5.2f} ({t['>1500']['pull']:+5.1f}σ) "
            f"{t['worst_bin']['ratio']:>5.2f}@{t['worst_bin']['from']:.0f}")
    text += f" {seconds / 60:>6.1f}" if seconds is not None else f" {'':>6}"
    sy, pw = m["system"], m["pairwise"]
    text += (f" | {sy['worth']:>9,.0f} {sy['worst']:>8,.0f} {sy['worst_observable']:<11} {pw['worth']:>9,.0f} "
             f"{pw['worst']:>8,.0f} {pw['worst_observable']:<18}")
    text += " " + " ".join(f"{max(abs(r - 1) for r in m['deciles'][k]):>6.1%}" for k in DECILES)
    return text


def decile_row(label: str, m: dict) -> str:
    return f"  {label} deciles of pT(t), gen/truth: " + " ".join(f"{r:.3f}" for r in m["deciles"]["pt_t"])


HEADER = (f"{'sample':<26} {'worth':>10} {'×size':>6} {'worst':>9} {'(of)':<12} {'AUC':>6} {'strong':>6} "
          f"{'W1/σ':>6} {'m(tt̄)>1 TeV':>14} {'>1.5 TeV':>14} {'worst bin':>10} {'fit min':>7}"
          f" | {'system':>9} {'least':>8} {'(of)':<11} {'pairwise':>9} {'least':>8} {'(of)':<18}"
          f" {'dec pT(t)':>6} {'y(t)':>6} {'m(tt̄)':>6}")


#: the seed of a --model file's generated sample by default (its results' key names no seed, as before the option)
GENERATION_SEED = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000])
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--truth", help="truth file (default: simulate 2M events with seed 3003)")
    parser.add_argument("--truth-events", type=int, default=2_000_000)
    parser.add_argument("--generate", type=int, default=1_000_000, help="generated events per model")
    parser.add_argument("--strong", action="store_true", help="also the L-GATr-style classifier (slow)")
    parser.add_argument("--model", nargs="*", default=[], help="also measure these model files")
    parser.add_argument("--generation-seeds", type=int, nargs="+", default=[GENERATION_SEED],
                        help="the --model files' generated samples, one per seed (one sample's worth near its "
                             "own size is measured to ±15–20 %%)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--work", default="precision-work", help="folder for samples and runs")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--reuse", action="store_true", help="measure the models already in --work's run folders")
    args = parser.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    truth_path = Path(args.truth) if args.truth else work / f"truth_{args.truth_events}.root"
    if not truth_path.is_file():
        simulate(args.truth_events, truth_path, seed=3003)
    truth = lhcgan.read(truth_path)
    ref = WorthReference.from_truth(observables(truth), names=all_names(observables(truth)))
    # the comparison samples for AUC and m(tt̄): the reference half is independent of the binning half
    probe = truth[np.random.default_rng(1).permutation(len(truth))[: args.generate]]
    print(f"CPU: {cpu_name()}")
    print(f"truth: {len(truth):,} events ({truth_path}); worth binned on one half, measured against the other")
    overrides = dict(parse_assignment(a) for a in args.set)
    results: dict[str, dict] = {}
    print(HEADER)
    for path in args.model:
        model = load_model(path)  # one model or an ensemble (its mixture)
        size = int(model.meta.get("training_events") or 1) + int(model.meta.get("heldout_events") or 0)
        for g in args.generation_seeds:
            m = measure(model.sample(args.generate, seed=g), probe, ref, args.strong, truth)
            results[f"model:{path}" + (f":{g}" if g != GENERATION_SEED else "")] = m  # the default keeps its old key
            print(row(f"{'/'.join(Path(path).parts[-2:])} g{g}", size, m, None), flush=True)
    for size in args.sizes:
        for seed in args.seeds:
            sample = work / f"train_{size}_s{seed}.root"
            if not sample.is_file():
                simulate(size, sample, seed=100 + seed)
            events = lhcgan.read(sample)
            m = measure(events, probe, ref, args.strong, truth)
            results[f"truth:{size}:{seed}"] = m
            print(row(f"training sample {size // 1000}k s{seed}", len(events), m, None), flush=True)
            run = work / f"run_{size}_s{seed}"
            if args.reuse and (run / "model.pt").is_file():
                model = TrainedModel.load(run / "model.pt")
                seconds = float(model.meta["training_seconds"])
                if model.refiner is None and model.config.refine:
                    model = refine(model, training_events(model, events))
            else:
                config = load_card("default", overrides=overrides | {"seed": seed})
                t0 = time.perf_counter()
                model = Trainer(events, config, run).fit()
                seconds = time.perf_counter() - t0
            if model.refiner is not None:
                plain = dataclasses.replace(model, refiner=None)
                m = measure(plain.sample(args.generate, seed=seed + 10), probe, ref, args.strong, truth)
                results[f"unrefined:{size}:{seed}"] = m
                print(row("  same, unrefined", len(events), m, None), flush=True)
            gen = model.sample(args.generate, seed=seed + 10)
            m = measure(gen, probe, ref, args.strong, truth)
            m["fit_seconds"] = seconds
            m["acceptance"] = model.refiner.acceptance if model.refiner else 1.0
            own = m["self_assessment"] = self_assessment(gen, model, events)
            own["covers"] = bool(own["range"][0] <= m["worth"] <= own["range"][1])
            results[f"gan:{size}:{seed}"] = m
            print(row(f"lhcgan fit {size // 1000}k s{seed}", len(events), m, seconds),
                  f"(refinement keeps {m['acceptance']:.0%})" if model.refiner else "", flush=True)
            print(decile_row(f"lhcgan fit {size // 1000}k s{seed}", m))
            print(f"  its own estimate from {own['heldout']:,} held-out events: worth {own['worth']:,.0f} "
                  f"(1σ {own['range'][0]:,.0f} to {own['range'][1]:,.0f}), independent truth {m['worth']:,.0f}: "
                  f"{'covered' if own['covers'] else 'NOT covered'}", flush=True)
    fits = [m["self_assessment"] for k, m in results.items() if k.startswith("gan:")]
    if fits:
        print(f"self-assessment: the fit's 1σ range holds the independent worth in {sum(f['covers'] for f in fits)}"
              f" of {len(fits)} fits")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
