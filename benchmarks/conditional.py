"""One model for a range of top masses: `lhcgan fit … --condition mt`, judged at masses it never saw.

    python benchmarks/conditional.py [--train 169.5 171.5 173.5 175.5] [--heldout 172.5 174.5]
                                     [--events 200000] [--truth 400000] [--generate 1000000]
                                     [--seed 1] [--out runs/conditional] [--ecm 8000 13600 --ecm-heldout 13000]

Samples (Pythia 8, 13 TeV, all-hadronic, `lhcgan simulate --mt M`): a training sample per training
mass (Pythia seed 1) and an independent truth sample (seed 2) at every held-out and training mass.
One conditioned model with the default settings, trained as a user would (the CLI).

Prints, per held-out mass, beside the nearest training sample (what a physicist without the model
would use): the median of the top masses (t and t̄) within ±5 Γ_t of the pole, generated and truth,
and their difference with its statistical error; the smallest in-peak ratio; the classifier AUC; the
largest W1/σ of the quarks' pT, η, φ; W1/σ of m(tt̄) and of the b's energy in its top's rest frame
(which m_t sets); the median pT balance. Then the calibration: the generated peak position against the
input m_t over the whole range (13 points), with the truth points, a straight-line fit of each, and
the figure calibration.png. With ``--ecm E1 E2`` also a model conditioned on √s, judged at each energy
(and at the ``--ecm-heldout`` energies it never saw) against independent truth, beside the nearest
training sample.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import lhcgan
from lhcgan import physics
from lhcgan import pipeline
from lhcgan.config import parse_assignment
from lhcgan.modelfile import TrainedModel
from lhcgan.simulate import simulate
from lhcgan.validate.metrics import particle_w1, summarise

GAMMA_T = 1.42  # the window for the peak position: ±5 Γ_t (Γ_t at 172.5 GeV)


def peak(events: lhcgan.Events, mt: float) -> tuple[float, float]:
    """Median of the t and t̄ masses within ±5 Γ_t of ``mt``, GeV, and its statistical error
    (1 / (2 f √N), the density f at the median from the fraction within ±0.25 GeV; t and t̄ of one event
    are independent decays)."""
    m = events.resonance_masses()[:, [events.process.resonances.index(events.process.resonance(n))
                                      for n in ("t", "tbar")]].ravel()
    m = m[np.abs(m - mt) < 5 * GAMMA_T]
    med = float(np.median(m))
    density = np.mean(np.abs(m - med) < 0.25) / 0.5
    return med, float(1 / (2 * density * np.sqrt(len(m))))


def b_energy_at_rest(events: lhcgan.Events) -> np.ndarray:
    """Energy of b and b̄ in their top's rest frame, GeV (N·2,): m_t moves it at fixed m_W."""
    p4 = events.to_four_momenta()
    out = []
    for top in ("t", "tbar"):
        r = events.process.resonance(top)
        t4 = p4[:, list(r.members)].sum(1)
        b = next(i for i in r.members if events.process.slots[i].parent == top)
        mt = np.sqrt(np.maximum(t4[:, 0] ** 2 - (t4[:, 1:] ** 2).sum(-1), 0))
        out.append(physics.boost(p4[:, b], t4, mt, to_rest=True)[:, 0])
    return np.concatenate(out)


def w1_sigma(a: np.ndarray, b: np.ndarray) -> float:
    from lhcgan.validate.metrics import wasserstein1

    return float(wasserstein1(a, b) / b.std())


def row(name: str, sample: lhcgan.Events, truth: lhcgan.Events, mt: float, fit: str = "") -> str:
    s = summarise(sample, truth, auc_events=200_000, per_channel=False)
    kin = particle_w1(s["w1_over_sigma"]).values()
    (pg, eg), (pt, et) = peak(sample, mt), peak(truth, mt)
    return "| " + " | ".join([
        name, f"{pg:.3f} ± {eg:.3f}", f"{pt:.3f} ± {et:.3f}", f"{pg - pt:+.3f} ± {np.hypot(eg, et):.3f}",
        f"{min(s['in_peak_ratio'].values()):.3f}", f"{s['auc']:.3f}", f"{max(kin):.3f}",
        f"{s['w1_over_sigma']['m_ttbar']:.3f}", f"{w1_sigma(b_energy_at_rest(sample), b_energy_at_rest(truth)):.3f}",
        f"{s['pt_balance_median']:.1e} ({s['pt_balance_median_truth']:.1e})", fit]) + " |"


HEADER = ["| m_t = {m} GeV | peak (median ±5Γ), GeV | truth peak | difference | in-peak (min ratio) | AUC | "
          "max W1/σ (pT, η, φ) | W1/σ m(tt̄) | W1/σ E_b in top frame | pT balance (truth) | fit |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]


def sample_path(out: Path, kind: str, value: float) -> Path:
    return out / f"{kind}_{value:g}.root"


def ensure(path: Path, n: int, seed: int, **kw) -> Path:
    if not path.is_file():
        simulate(n, path, seed=seed, progress=False, **kw)
    return path


def fit(run: Path, files: list[Path], condition: str, seed: int, sets: list[str]) -> float:
    t0 = time.perf_counter()
    pipeline.fit(files, conditions=[condition], out=run, validate=False, events=1000,
                 overrides={**dict(parse_assignment(kv) for kv in sets), "seed": seed})
    return time.perf_counter() - t0


def calibration(model: TrainedModel, truths: dict[float, lhcgan.Events], out: Path, n: int, seed: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = model.conditioning.low[0], model.conditioning.high[0]
    inputs = np.round(np.arange(lo, hi + 1e-9, 0.5), 3)
    gen = np.array([peak(model.sample(n, seed=seed + 10, parameters={"mt": m}), m) for m in inputs])
    tm = np.array(sorted(truths))
    tru = np.array([peak(truths[m], m) for m in tm])
    lines = ["| | slope | offset at 172.5 GeV (peak − m_t) | points |", "|---|---|---|---|"]
    fits = {}
    for name, x, (y, e) in (("generated", inputs, gen.T), ("truth", tm, tru.T)):
        (slope, icpt), cov = np.polyfit(x - 172.5, y, 1, w=1 / e, cov="unscaled")
        fits[name] = (slope, icpt)
        lines.append(f"| {name} | {slope:.4f} ± {np.sqrt(cov[0, 0]):.4f} | {icpt - 172.5:+.3f} ± {np.sqrt(cov[1, 1]):.3f} "
                     f"| {len(x)} |")
    fig, (a, r) = plt.subplots(2, 1, figsize=(6, 6), sharex=True, height_ratios=[2, 1])
    a.errorbar(inputs, gen[:, 0], gen[:, 1], fmt="o", label=f"lhcgan ({n // 1000}k events per point)")
    a.errorbar(tm, tru[:, 0], tru[:, 1], fmt="s", mfc="none", label="Pythia 8 truth")
    a.plot(inputs, inputs, "k:", lw=0.8, label="peak = $m_t$")
    for t in model.conditioning.points:
        for ax in (a, r):
            ax.axvline(t[0], color="0.85", lw=3, zorder=0)
    a.set_ylabel(r"median $m_t$ within $\pm5\Gamma_t$ [GeV]")
    a.legend(frameon=False, title="grey: training masses")
    r.errorbar(inputs, gen[:, 0] - inputs, gen[:, 1], fmt="o")
    r.errorbar(tm, tru[:, 0] - tm, tru[:, 1], fmt="s", mfc="none")
    r.axhspan(-0.1, 0.1, color="C2", alpha=0.1)
    r.set_ylabel("peak − input [GeV]")
    r.set_xlabel(r"input $m_t$ [GeV]")
    fig.tight_layout()
    fig.savefig(out / "calibration.png", dpi=100)
    plt.close(fig)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=float, nargs="+", default=[169.5, 171.5, 173.5, 175.5])
    ap.add_argument("--heldout", type=float, nargs="+", default=[172.5, 174.5])
    ap.add_argument("--events", type=int, default=200_000, help="training events per mass")
    ap.add_argument("--truth", type=int, default=400_000, help="truth events per mass")
    ap.add_argument("--generate", type=int, default=1_000_000, help="generated events per held-out mass")
    ap.add_argument("--calibration-events", type=int, default=200_000, help="generated events per calibration point")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="runs/conditional")
    ap.add_argument("--set", nargs="*", default=[], help="extra KEY=VALUE settings for the fit")
    ap.add_argument("--ecm", type=float, nargs="*", default=[], help="also a model conditioned on √s, trained at these energies")
    ap.add_argument("--ecm-heldout", type=float, nargs="*", default=[], help="and judged at these energies too")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")

    files = [ensure(sample_path(out, "train", m), args.events, 1, mt=m) for m in args.train]
    truths = {m: lhcgan.read(ensure(sample_path(out, "truth", m), args.truth, 2, mt=m))
              for m in sorted({*args.heldout, *args.train})}
    run = out / f"fit_mt_seed{args.seed}"
    fit_s = fit(run, files, "mt", args.seed, args.set) if not (run / "model.pt").is_file() else None
    model = TrainedModel.load(run / "model.pt")
    tables = []
    for m in args.heldout:
        near = min(args.train, key=lambda t: (abs(t - m), t))
        table = [h.format(m=f"{m:g}") for h in HEADER]
        table.append(row(f"training sample at {near:g} ({args.events // 1000}k)",
                         lhcgan.read(files[args.train.index(near)]), truths[m], m))
        gen = model.sample(args.generate, seed=args.seed, parameters={"mt": m})
        table.append(row(f"`lhcgan generate --mt {m:g}` ({args.generate // 1000}k)", gen, truths[m], m,
                         f"{fit_s / 60:.1f} min" if fit_s else ""))
        tables.append("\n".join(table))
        print(tables[-1], flush=True)
    tables.append("\n".join(calibration(model, truths, out, args.calibration_events, args.seed)))
    print(tables[-1], flush=True)

    if len(args.ecm) >= 2:
        efiles = {e: ensure(out / f"train_ecm{e:g}.root", args.events, 1, ecm=e) for e in args.ecm}
        erun = out / f"fit_ecm{'_'.join(f'{e:g}' for e in args.ecm)}_seed{args.seed}"
        efit = fit(erun, list(efiles.values()), "ecm", args.seed, args.set) if not (erun / "model.pt").is_file() else None
        emodel = TrainedModel.load(erun / "model.pt")
        table = ["| √s (GeV) | sample | in-peak (min ratio) | AUC | max W1/σ (pT, η, φ) | W1/σ m(tt̄) | fit |",
                 "|---|---|---|---|---|---|---|"]
        for e in sorted({*args.ecm, *args.ecm_heldout}):
            truth = lhcgan.read(ensure(out / f"truth_ecm{e:g}.root", args.truth, 2, ecm=e))
            near = min((t for t in args.ecm if t != e), key=lambda t: abs(t - e))
            kind = "held out" if e not in args.ecm else "trained"
            for name, sample in ((f"training sample at {near:g} GeV", lhcgan.read(efiles[near])),
                                 (f"`lhcgan generate --ecm {e:g}` ({kind})",
                                  emodel.sample(args.generate, seed=args.seed, parameters={"ecm": e}))):
                s = summarise(sample, truth, auc_events=200_000, per_channel=False)
                kin = particle_w1(s["w1_over_sigma"]).values()
                table.append(f"| {e:g} | {name} | {min(s['in_peak_ratio'].values()):.3f} | {s['auc']:.3f} | "
                             f"{max(kin):.3f} | {s['w1_over_sigma']['m_ttbar']:.3f} | "
                             f"{f'{efit / 60:.1f} min' if efit and name.startswith('`') else ''} |")
            print(table[-2] + "\n" + table[-1], flush=True)
        tables.append("\n".join(table))
        print(tables[-1], flush=True)
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
