"""Weighted, negative-weight and recoiling samples: what `lhcgan fit` makes of them, against independent,
unweighted Pythia 8 truth, beside the training sample itself (weighted, and with its weights ignored,
which is what training on it used to do).

    python benchmarks/weighted.py [--events 100000] [--truth 400000] [--out runs/weighted] [--repeats 1]

Samples (all Pythia 8, 13 TeV, seeds fixed):
* biased: `lhcgan simulate --bias 2` (generated ∝ (p̂T/100 GeV)², weighted back);
* negative: an unweighted sample plus, in m(tt̄) > 700 GeV, the events of a second independent sample
  with weight +1 and those of a third with weight −1: the signed sum is the truth distribution, the
  unsigned sum has the region twice over;
* isr: `lhcgan simulate --isr` (the tt̄ system recoils), against ISR truth.

`--repeats K` makes and fits K independent training samples of each kind (seeds + r): a fit follows its
training sample's fluctuations, which for a biased sample are large where few heavy events carry it.
`--scatter K` fits nothing: it makes K biased samples (seeds 6001 …) and prints how far their own weighted
m(tt̄) tails and pT(t) < 30 GeV fractions scatter about truth, the precision a fit on one of them starts from.

Prints one table: in-peak ratios (smallest), AUC, largest W1/σ of the quarks' pT, η, φ, the m(tt̄)
fractions above 1 and 1.5 TeV over truth with their pulls, the fraction with pT(t) < 30 GeV over truth
(where a sample biased ∝ p̂T² has few, heavy events), W1/σ of pT(tt̄), and the fit time.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from pathlib import Path

import numpy as np

import lhcgan
from lhcgan import physics
from lhcgan.config import parse_assignment
from lhcgan.pipeline import fit
from lhcgan.generate import generate
from lhcgan.modelfile import TrainedModel
from lhcgan.refine import refine, training_events
from lhcgan.system import system_features
from lhcgan.simulate import simulate
from lhcgan.validate.metrics import particle_w1, summarise


def tail(events: lhcgan.Events, cut: float) -> tuple[float, float]:
    """Fraction of Σw with m(tt̄) > cut and its statistical error."""
    m = physics.invariant_mass(events.momenta, events.masses)
    w = np.ones(len(m)) if events.weights is None else events.weights
    f = np.sum(w * (m > cut)) / w.sum()
    return float(f), float(np.sqrt(np.sum(w**2 * ((m > cut) - f) ** 2)) / w.sum())


def row(name: str, sample: lhcgan.Events, truth: lhcgan.Events, fit_s: float | None) -> str:
    s = summarise(sample, truth, auc_events=200_000)
    quark = list(particle_w1(s["w1_over_sigma"]).values())
    cells = [name, f"{min(s['in_peak_ratio'].values()):.3f}", f"{s['auc']:.3f}", f"{max(quark):.3f}"]
    for cut in (1000.0, 1500.0):
        (fs, es), (ft, et) = tail(sample, cut), tail(truth, cut)
        cells.append(f"{fs / ft:.2f} ({(fs - ft) / np.hypot(es, et):+.1f}σ)")
    low = [np.average(system_features(e.momenta, e.masses, e.process)["pt_t"] < 30.0, weights=e.weights) for e in (sample, truth)]
    cells.append(f"{low[0] / low[1]:.2f}")
    cells.append(f"{s['w1_over_sigma']['pt_ttbar']:.3f}" if "pt_ttbar" in s["w1_over_sigma"] else "–")
    cells.append(f"{fit_s / 60:.1f} min" if fit_s else "")
    return "| " + " | ".join(cells) + " |"


def negative_sample(n: int, out: Path, repeat: int = 0) -> lhcgan.Events:
    parts = []
    for k in range(3):
        part = out / f"neg{k}{suffix(repeat)}.root"
        simulate(n, part, seed=5201 + 3 * repeat + k)
        parts.append(lhcgan.read(part))
    region = [physics.invariant_mass(p.momenta, p.masses) > 700 for p in parts]
    plus, minus = parts[1][region[1]], parts[2][region[2]]
    w = np.concatenate([np.ones(len(parts[0]) + len(plus)), -np.ones(len(minus))])
    return lhcgan.Events(np.concatenate([parts[0].momenta, plus.momenta, minus.momenta]),
                         np.concatenate([parts[0].pdg, plus.pdg, minus.pdg]), w, meta={"ecm": 13000.0})


def scatter(k: int, n: int, truth: lhcgan.Events, out: Path) -> None:
    """Print the scatter about truth of the weighted tail fractions of k biased samples of n events."""
    def fractions(e: lhcgan.Events) -> np.ndarray:
        f = system_features(e.momenta, e.masses, e.process)
        return np.array([np.average(x, weights=e.weights)
                         for x in (f["m_system"] > 1000.0, f["m_system"] > 1500.0, f["pt_t"] < 30.0)])

    ref = fractions(truth)
    ratios = []
    for seed in range(6001, 6001 + k):
        simulate(n, out / "scatter.root", seed=seed, bias=2.0)
        ratios.append(fractions(lhcgan.read(out / "scatter.root")) / ref)
    (out / "scatter.root").unlink()
    r = np.array(ratios)
    print(f"| {k} biased samples of {n:,} events, weighted, over truth | m(tt̄) > 1 TeV | > 1.5 TeV | pT(t) < 30 GeV |\n"
          "|---|---|---|---|")
    for name, v in (("mean", r.mean(0)), ("median", np.median(r, 0)), ("standard deviation", r.std(0, ddof=1)),
                    ("smallest", r.min(0)), ("largest", r.max(0))):
        print(f"| {name} | " + " | ".join(f"{x:.3f}" for x in v) + " |")


def suffix(repeat: int) -> str:
    """The file name suffix of repeat r: none for the first."""
    return f"_r{repeat}" if repeat else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000, help="training sample size")
    ap.add_argument("--truth", type=int, default=400_000, help="truth sample size")
    ap.add_argument("--generate", type=int, default=1_000_000, help="generated events per model")
    ap.add_argument("--out", default="runs/weighted")
    ap.add_argument("--samples", nargs="+", default=["biased", "negative", "isr"])
    ap.add_argument("--set", nargs="*", default=[], help="extra KEY=VALUE settings for every fit")
    ap.add_argument("--reuse", action="store_true", help="measure the models already in --out")
    ap.add_argument("--repeats", type=int, default=1, help="independent training samples of each kind")
    ap.add_argument("--scatter", type=int, default=0, metavar="K",
                    help="only print the scatter of K biased samples' own weighted tails about truth")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    truths = {}
    for name, isr, seed in (("plain", False, 5001), ("isr", True, 5002)):
        path = out / f"truth_{name}.root"
        if not path.is_file():
            simulate(args.truth, path, seed=seed, isr=isr)
        truths[name] = lhcgan.read(path)
    if args.scatter:
        scatter(args.scatter, args.events, truths["plain"], out)
        return
    header = ("| sample | in-peak (min ratio) | AUC | max W1/σ | m(tt̄) > 1 TeV | > 1.5 TeV | pT(t) < 30 GeV | "
              "W1/σ pT(tt̄) | fit |\n|---|---|---|---|---|---|---|---|---|")
    lines = []
    for name, repeat in ((n, r) for n in args.samples for r in range(args.repeats)):
        path = out / f"{name}{suffix(repeat)}.root"
        if not path.is_file():
            if name == "biased":
                simulate(args.events, path, seed=5101 + repeat, bias=2.0)
            elif name == "isr":
                simulate(args.events, path, seed=5301 + repeat, isr=True)
            else:
                lhcgan.write(negative_sample(args.events // 2, out, repeat), path)
        name += f" #{repeat + 1}" if args.repeats > 1 else ""
        first = len(lines)
        sample = lhcgan.read(path)
        truth = truths["isr" if name.startswith("isr") else "plain"]
        print(sample.report.summary(), flush=True)
        fit_dir = out / f"fit_{path.stem}"
        t0 = time.perf_counter()
        if not (args.reuse and (fit_dir / "model.pt").is_file()):
            fit([path], out=fit_dir, validate=False, events=1000,
                overrides=dict(parse_assignment(kv) for kv in args.set))
        fit_s = time.perf_counter() - t0
        model = TrainedModel.load(fit_dir / "model.pt")
        if args.reuse:
            fit_s = float(model.meta["training_seconds"])
            if model.refiner is None and model.config.refine:
                model = refine(model, training_events(model, sample))
        weighted = sample.weights is not None and np.ptp(sample.weights) > 0  # equal weights: unweighted
        lines.append(row(f"{name}: training sample{', weighted' if weighted else ''}", sample, truth, None))
        if weighted:
            lines.append(row(f"{name}: training sample, weights ignored", lhcgan.Events(sample.momenta, sample.pdg),
                             truth, None))
        gen_path = out / f"gen_{path.stem}.root"
        if model.refiner is not None:
            generate(args.generate, gen_path, model=dataclasses.replace(model, refiner=None), seed=7)
            lines.append(row(f"{name}: same fit, unrefined", lhcgan.read(gen_path), truth, None))
        generate(args.generate, gen_path, model=model, seed=7)
        accepted = f", keeps {model.refiner.acceptance:.0%}" if model.refiner else ""
        lines.append(row(f"{name}: `lhcgan fit`, 1M generated{accepted}", lhcgan.read(gen_path), truth, fit_s))
        print("\n".join(lines[first:]), flush=True)
    print("\n".join([header, *lines]), flush=True)


if __name__ == "__main__":
    main()
