"""The noise floor of the decile goal: how close to truth a sample of N truth events itself is.

    python benchmarks/floor.py [--truth truth_2000000.root] [--sizes 25000] [--samples 40]
                               [--fits precision.json ...]

Issue 23 asks that every decile of pT(t), y(t) and m(tt̄) of a 25k fit be within 3 % of truth. A
fit knows only its training events (0.9 N; the rest are held out), and those fluctuate: a decile of
22 500 events holds 2 250 ± 47, 2.1 % of its content. This script measures that floor on truth
itself: it cuts the truth sample's first half into independent samples of the sizes asked, and
measures each in the second half's deciles, as `benchmarks/precision.py` measures fits. Beside the
samples it measures the same samples smoothed (`lhcgan.stats.smoothed_cdf`, two Gaussian-kernel passes
of Silverman's width, on log pT, y and log m(tt̄): the best a one-dimensional smoothing does without
knowing the shape), and, given `--fits`, the fits that `precision.py --json` wrote.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from machine import cpu_name  # benchmarks/machine.py, beside this script
from precision import decile_edges  # benchmarks/precision.py: the fits' deciles, measured the same way

import lhcgan
from lhcgan.simulate import simulate
from lhcgan.stats import smoothed_cdf
from lhcgan.validate.metrics import observables

#: the observables of the goal and the map each is smoothed in (both positive ones on a log scale)
OBSERVABLES = {"pt_t": np.log, "y_t": lambda v: v, "m_ttbar": np.log}
GOAL = 0.03


def worst_decile(fractions: np.ndarray) -> float:
    """The largest |content / 0.1 − 1| of ten decile fractions (10,)."""
    return float(np.max(np.abs(fractions / 0.1 - 1)))


def measure(sample: np.ndarray, edges: np.ndarray, to_scale) -> tuple[float, float]:
    """The worst decile of a sample (n,) in the reference's edges: as it is, and smoothed in ``to_scale``."""
    empirical = np.diff(np.searchsorted(np.sort(sample), edges, side="right")) / len(sample)
    grid, cdf = smoothed_cdf(to_scale(sample))
    with np.errstate(divide="ignore"):
        at = to_scale(np.clip(edges, 0, None)) if to_scale is np.log else edges
    smooth = np.diff(np.interp(at, grid, cdf, left=0.0, right=1.0))
    return worst_decile(empirical), worst_decile(smooth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", help="truth file (default: simulate 2M events with seed 3003)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000])
    parser.add_argument("--samples", type=int, default=40, help="independent samples per size")
    parser.add_argument("--fits", nargs="*", default=[], help="precision.py --json files whose fits to list")
    args = parser.parse_args()
    truth_path = Path(args.truth or "truth_2000000.root")
    if not truth_path.is_file():
        simulate(2_000_000, truth_path, seed=3003)
    obs = observables(lhcgan.read(truth_path))
    half = len(obs["pt_t"]) // 2
    edges = {k: decile_edges(obs[k][half:]) for k in OBSERVABLES}
    print(f"CPU: {cpu_name()}")
    print(f"truth: {2 * half:,} events ({truth_path}); samples cut from the first half, deciles of the second")
    print(f"{'events':>8} {'samples':>7} {'estimate':<10} " + " ".join(f"{k + ' mean':>13} {'≤3 %':>5}" for k in OBSERVABLES)
          + f" {'all ≤3 %':>8}")
    for size in args.sizes:
        for n in (size, int(0.9 * size)):  # the whole sample, and the training events a fit learns from
            k_max = min(args.samples, half // n)
            worst = {"as it is": [], "smoothed": []}
            for k in range(k_max):
                rows = [measure(obs[key][k * n:(k + 1) * n], edges[key], f) for key, f in OBSERVABLES.items()]
                worst["as it is"].append([r[0] for r in rows])
                worst["smoothed"].append([r[1] for r in rows])
            for label, values in worst.items():
                v = np.array(values)
                cols = " ".join(f"{v[:, j].mean():>13.1%} {np.mean(v[:, j] <= GOAL):>5.2f}" for j in range(v.shape[1]))
                print(f"{n:>8,} {k_max:>7} {label:<10} {cols} {np.mean((v <= GOAL).all(axis=1)):>8.2f}")
    for path in args.fits:
        for key, m in json.loads(Path(path).read_text()).items():
            if "deciles" in m and not key.startswith("unrefined"):
                print(f"{key:<28} " + " ".join(f"{k} {max(abs(r - 1) for r in m['deciles'][k]):.1%}"
                                               for k in OBSERVABLES))


if __name__ == "__main__":
    main()
