"""Measure a model against the quality bar on a held-out Pythia 8 sample.

    python benchmarks/quality.py [--model data/ttbar_model.pt] [--events 200000] [--seed 2002]

Simulates a truth sample with a seed other than the training one, generates as
many events, and prints the bar's figures: in-peak ratios (|m − m₀| < Γ),
median pT balance, W1/σ of pT, η, φ of the six quarks, and the classifier AUC.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import lhcgan
from lhcgan.modelfile import TrainedModel
from lhcgan.simulate import simulate
from lhcgan.validate.metrics import summarise

BAR = {"in_peak_ratio": 0.9, "pt_balance_median": 1e-6, "w1_over_sigma": 0.02, "auc": 0.60}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2002, help="Pythia seed of the held-out truth sample")
    parser.add_argument("--truth", help="use this truth file instead of simulating one")
    parser.add_argument("--json", help="also write the metrics here")
    args = parser.parse_args()

    model = TrainedModel.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        truth_path = args.truth or Path(tmp) / "truth.root"
        if not args.truth:
            simulate(args.events, truth_path, seed=args.seed)
        truth = lhcgan.read(truth_path)
        t0 = time.perf_counter()
        generated = model.sample(len(truth), seed=args.seed + 1)
        t_gen = time.perf_counter() - t0
    metrics = summarise(generated, truth, training_size=model.meta.get("training_events"))
    w1 = {k: v for k, v in metrics["w1_over_sigma"].items() if k.split("_")[0] in ("pt", "eta", "phi")}
    print(f"model: {args.model or 'shipped'}, trained {model.meta.get('iterations')} iterations "
          f"in {model.meta.get('training_seconds')} s on {model.meta.get('training_events')} events")
    print(f"truth: {len(truth)} Pythia 8 events, seed {args.seed}; generated {len(generated)} in {t_gen:.1f} s")
    print(f"{'figure':<34} {'value':>10} {'bar':>10}  pass")
    for name, r in metrics["in_peak_ratio"].items():
        print(f"{'in-peak ratio ' + name:<34} {r:>10.3f} {'≥ 0.9':>10}  {r >= BAR['in_peak_ratio']}")
    b = metrics["pt_balance_median"]
    print(f"{'median |ΣpT|/Σ|pT|':<34} {b:>10.2e} {'≤ 1e-6':>10}  {b <= BAR['pt_balance_median']}")
    worst = max(w1, key=w1.get)
    print(f"{'max W1/σ (pT, η, φ): ' + worst:<34} {w1[worst]:>10.4f} {'≤ 0.02':>10}  {w1[worst] <= BAR['w1_over_sigma']}")
    print(f"{'classifier AUC':<34} {metrics['auc']:>10.3f} {'≤ 0.60':>10}  {metrics['auc'] <= BAR['auc']}")
    amp = metrics["amplification"]
    print(f"{'worth truth events':<34} {amp['worth']:>10,.0f}  (least for {amp['worst_observable']}: "
          f"{amp['worst']:,.0f}; halves of the truth sample as bins and reference)")
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
