"""Top-mass templates from one conditioned model, and a template fit of pseudo-data, as an analysis would.

    python examples/mt_templates.py MODEL PSEUDODATA.root [--masses 170 171 …] [--events 200000] [--out DIR]

MODEL is a model conditioned on m_t (`lhcgan fit mt*.root --condition mt`). For every template mass
the model writes a ROOT file (`lhcgan generate --mt M`); the analysis then reads each file with
uproot and vector alone, reconstructs both tops from their b q q̄′, histograms their masses, and
  1. finds each template's peak (a Gaussian fitted to the bins within ±1 GeV of the highest),
  2. measures m_t of PSEUDODATA (any lhcgan ROOT file: a Pythia sample at an m_t the model never saw)
     by comparing its histogram with every template (χ²) and taking the minimum of a parabola
     through the χ² values; the error is where χ² rises by 1.
Prints both tables; writes templates.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib
import numpy as np
import uproot
import vector

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EDGES = np.arange(160.0, 186.0 + 1e-9, 0.25)  # GeV: the top mass histogram


def top_masses(path: Path) -> np.ndarray:
    """Masses of both reconstructed tops, b + q + q̄′ (slots 0-2 and 3-5 of lhcgan's LHEPart), GeV."""
    with uproot.open(path) as f:
        a = f["Events"].arrays(["LHEPart_pt", "LHEPart_eta", "LHEPart_phi", "LHEPart_mass"], library="np")
    p = vector.array({"pt": np.stack(a["LHEPart_pt"]), "eta": np.stack(a["LHEPart_eta"]),
                      "phi": np.stack(a["LHEPart_phi"]), "mass": np.stack(a["LHEPart_mass"])})
    t, tbar = p[:, 0] + p[:, 1] + p[:, 2], p[:, 3] + p[:, 4] + p[:, 5]
    return np.concatenate([t.mass, tbar.mass])


def recorded_mt(path: Path) -> float | None:
    """The m_t a file was made with, from its lhcgan metadata, where recorded."""
    with uproot.open(path) as f:
        if "lhcgan_metadata" not in f:
            return None
        text = str(f["lhcgan_metadata"])  # a TObjString of JSON
    try:
        return float(json.loads(text)["masses"]["t"])
    except (ValueError, KeyError, TypeError):
        return None


def peak(counts: np.ndarray) -> float:
    """Peak position: a parabola through the log counts within ±1 GeV of the highest bin (a Gaussian fit)."""
    centres = (EDGES[:-1] + EDGES[1:]) / 2
    top = centres[np.argmax(counts)]
    near = (np.abs(centres - top) <= 1.0) & (counts > 0)
    a, b, _ = np.polyfit(centres[near] - top, np.log(counts[near]), 2, w=np.sqrt(counts[near]))
    return float(top - b / (2 * a))


def chi2(data: np.ndarray, template: np.ndarray) -> float:
    """χ² of two histograms' shapes, each normalised to 1, with both statistical errors."""
    nd, nt = data.sum(), template.sum()
    var = data / nd**2 + template / nt**2
    ok = var > 0
    return float((((data / nd - template / nt)[ok]) ** 2 / var[ok]).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("pseudodata")
    ap.add_argument("--masses", type=float, nargs="+", help="template masses, GeV (default: 7 across the model's range)")
    ap.add_argument("--events", type=int, default=200_000, help="events per template")
    ap.add_argument("--out", default="mt_templates")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from lhcgan.generate import generate
    from lhcgan.modelfile import load_model

    model = load_model(args.model)
    if model.conditioning is None or "mt" not in model.conditioning.names:
        raise SystemExit(f"{args.model}: not a model conditioned on m_t (train one with `lhcgan fit … --condition mt`)")
    lo, hi = model.conditioning.low[0], model.conditioning.high[0]
    masses = args.masses or list(np.round(np.linspace(lo, hi, 7), 2))

    templates = {}
    print("| template m_t (GeV) | fitted peak (GeV) | peak − m_t |\n|---|---|---|")
    for m in masses:
        path = out / f"template_mt{m:g}.root"
        generate(args.events, path, model=model, seed=1, parameters={"mt": m})
        templates[m] = np.histogram(top_masses(path), EDGES)[0].astype(float)
        p = peak(templates[m])
        print(f"| {m:g} | {p:.3f} | {p - m:+.3f} |")

    data = np.histogram(top_masses(Path(args.pseudodata)), EDGES)[0].astype(float)
    scan = np.array([chi2(data, templates[m]) for m in masses])
    best = int(np.argmin(scan))
    if best in (0, len(masses) - 1):
        print(f"warning: the χ² minimum is at the edge of the templates ({masses[best]:g} GeV): the pseudo-data's "
              "m_t may lie outside them")
    pick = slice(max(min(best - 1, len(masses) - 3), 0), max(min(best + 2, len(masses)), 3))  # the minimum, its neighbours
    a, b, c = np.polyfit(np.array(masses)[pick], scan[pick], 2)
    mt_hat, err = -b / (2 * a), 1 / np.sqrt(a) if a > 0 else float("nan")
    truth = recorded_mt(Path(args.pseudodata))
    print(f"\nχ² scan over {len(masses)} templates ({len(EDGES) - 1} bins): minimum {scan.min():.1f}")
    print(f"measured m_t = {mt_hat:.3f} ± {err:.3f} GeV" + (f" (the pseudo-data was made at {truth:g} GeV)" if truth else ""))

    fig, (ax, sx) = plt.subplots(1, 2, figsize=(10, 4))
    centres = (EDGES[:-1] + EDGES[1:]) / 2
    for m in masses:
        ax.step(centres, templates[m] / templates[m].sum(), where="mid", lw=0.8, label=f"{m:g}")
    ax.errorbar(centres, data / data.sum(), np.sqrt(data) / data.sum(), fmt="k.", ms=3, label="pseudo-data")
    ax.set_xlim(165, 181)
    ax.set_xlabel(r"$m(b q \bar{q}')$ [GeV]")
    ax.legend(title=r"template $m_t$", fontsize=7)
    grid = np.linspace(min(masses), max(masses), 200)
    sx.plot(masses, scan, "o")
    sx.plot(grid, np.polyval([a, b, c], grid), ":")
    sx.set_ylim(scan.min() - 5, scan.min() + 10 * max(1.0, np.median(scan) - scan.min()) ** 0.5 + 20)
    sx.set_xlabel(r"template $m_t$ [GeV]")
    sx.set_ylabel(r"$\chi^2$")
    fig.tight_layout()
    fig.savefig(out / "templates.png", dpi=100)
    print(f"wrote {out / 'templates.png'}")


if __name__ == "__main__":
    main()
