"""How honest is `lhcgan fit`'s own worth estimate? Its 1σ range against the worth on independent truth.

    python benchmarks/selfassessment.py --truth truth_2M.root --model data/ttbar_model.pt runs/x/model.pt
                                        [--seeds 10] [--sizes 25000 250000]

`fit` measures its generated sample's worth against its held-out events (10 % of the sample), binned
on its training events, and reports a 1σ range. This script repeats that measurement many times, as
fits of each size and seed would make it, without training: for each generator (each --model, and a
truth sample of known worth, its size) and each sample size N it draws, from one half of the truth, a
training-like binning sample (0.9 N) and a held-out-like reference (0.1 N), different for every seed;
measures the generator's 1M events (the models) against them as `fit` does; and checks whether the range
holds the generator's worth measured against the other half of the truth (1M events, which resolves it
well). It prints the coverage (68 % is honest) of today's range, whose estimate takes the held-out
events' own error out by measuring the binning events (truth of known worth) against them as well (the
control, `WorthReference.from_samples`), beside the range without the control (0.4) and the range that
counted every bin as independent (0.3), and the median estimates with and without the control.
"""

from __future__ import annotations

import argparse

import numpy as np

import lhcgan
from lhcgan.modelfile import load_model
from lhcgan.validate.metrics import observables
from lhcgan.validate.worth import WorthReference, worth_names
from machine import cpu_name  # benchmarks/machine.py, beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--truth", required=True, help="a large truth file (2M events: `lhcgan simulate`)")
    parser.add_argument("--model", nargs="*", default=[], help="model files whose samples are measured")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per generator and size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 250_000], help="fit sample sizes N")
    parser.add_argument("--generate", type=int, default=1_000_000)
    parser.add_argument("--known", type=int, default=50_000, help="size of the truth sample of known worth")
    args = parser.parse_args()

    truth = lhcgan.read(args.truth)
    obs = observables(truth)
    names = worth_names(obs)
    obs = {k: obs[k] for k in names}
    n = len(truth)
    perm = np.random.default_rng(0).permutation(n)
    pool, indep = perm[: n // 2], perm[n // 2 :]
    take = lambda idx: {k: v[idx] for k, v in obs.items()}  # noqa: E731
    # the independent worth: binned on a quarter, measured against the other half
    judge = WorthReference.from_samples(take(pool[: n // 4]), take(indep), names=names)
    samples = {f"truth, {args.known:,} events (worth {args.known:,})": take(pool[-args.known:])}
    for path in args.model:
        gen = load_model(path).sample(args.generate, seed=7)
        samples[path] = {k: v for k, v in observables(gen).items() if k in names}
    usable = pool[: -args.known]
    print(f"CPU: {cpu_name()}; truth {n:,} events ({args.truth}); {args.seeds} seeds per generator and size")
    print(f"{'generator':<44} {'N':>8} {'held out':>8} {'independent worth':>18} {'covered':>8} {'no control':>10} "
          f"{'indep. bins':>11} {'median estimate':>15} {'no control':>10}")
    for label, sample in samples.items():
        true = judge.measure(sample)["worth"]
        for size in args.sizes:
            hold = size // 10
            covered = {"control": 0, "covariance": 0, "independent": 0}
            estimates: dict[str, list[float]] = {"control": [], "covariance": []}
            for seed in range(args.seeds):
                pick = np.random.default_rng([seed, size]).choice(len(usable), size, replace=False)
                binning, held = take(usable[pick[hold:]]), take(usable[pick[:hold]])
                ref = WorthReference.from_samples(binning, held, names=names, control=True)
                plain = WorthReference.from_samples(binning, held, names=names)
                for kind, got in (("control", ref.measure(sample)), ("covariance", plain.measure(sample)),
                                  ("independent", plain.measure(sample, uncertainty=False))):
                    covered[kind] += got["worth_range"][0] <= true <= got["worth_range"][1]
                    if kind in estimates:
                        estimates[kind].append(got["worth"])
            share = {k: v / args.seeds for k, v in covered.items()}
            print(f"{label[:44]:<44} {size:>8,} {hold:>8,} {true:>18,.0f} {share['control']:>8.0%} "
                  f"{share['covariance']:>10.0%} {share['independent']:>11.0%} "
                  f"{np.median(estimates['control']):>15,.0f} {np.median(estimates['covariance']):>10,.0f}", flush=True)


if __name__ == "__main__":
    main()
