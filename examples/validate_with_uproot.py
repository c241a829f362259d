"""Validate generated events against truth in your own analysis code: uproot + vector + hist, no lhcgan.

    python examples/validate_with_uproot.py generated.root truth.root [out_dir]

Opens both lhcgan ROOT files, builds vector Momentum4D objects from the branches,
and draws the top-quark mass peak and the pT of the b quark, generated over truth
with a ratio panel. Slot order: [b, q from W+, q̄′ from W+, b̄, q from W-, q̄′ from W-].
"""

import sys
from pathlib import Path

import awkward as ak
import hist
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import uproot  # noqa: E402
import vector  # noqa: E402

vector.register_awkward()


def momenta(path: str) -> ak.Array:
    with uproot.open(path) as f:
        a = f["Events"].arrays(["LHEPart_pt", "LHEPart_eta", "LHEPart_phi", "LHEPart_mass"])
    return ak.zip({"pt": a.LHEPart_pt, "eta": a.LHEPart_eta, "phi": a.LHEPart_phi, "mass": a.LHEPart_mass},
                  with_name="Momentum4D")


def ratio_plot(gen: np.ndarray, truth: np.ndarray, axis: hist.axis.Regular, xlabel: str, path: Path) -> None:
    hg, ht = hist.Hist(axis).fill(gen), hist.Hist(axis).fill(truth)
    fig, (ax, rax) = plt.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    centres, width = ht.axes[0].centers, ht.axes[0].widths
    for h, colour, label in ((ht, "black", "truth"), (hg, "tab:red", "generated")):
        n = h.values().sum()
        ax.errorbar(centres, h.values() / n, yerr=np.sqrt(h.values()) / n, xerr=width / 2, fmt="none", color=colour, label=label)
    ax.legend()
    ax.set_ylabel("fraction of events")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (hg.values() / hg.values().sum()) / (ht.values() / ht.values().sum())
        err = r * np.sqrt(1 / hg.values() + 1 / ht.values())
    rax.errorbar(centres, r, yerr=err, fmt="o", ms=3, color="tab:red")
    rax.axhline(1, color="black")
    rax.set_ylim(0.5, 1.5)
    rax.set_xlabel(xlabel)
    rax.set_ylabel("gen / truth")
    fig.savefig(path, dpi=100)
    plt.close(fig)


gen_path, truth_path = sys.argv[1], sys.argv[2]
out = Path(sys.argv[3] if len(sys.argv) > 3 else ".")
out.mkdir(parents=True, exist_ok=True)
gen, truth = momenta(gen_path), momenta(truth_path)
m_top = {k: ak.to_numpy((p[:, 0] + p[:, 1] + p[:, 2]).mass) for k, p in (("gen", gen), ("truth", truth))}
ratio_plot(m_top["gen"], m_top["truth"], hist.axis.Regular(50, 165, 180), "m(t) [GeV]", out / "top_mass.png")
ratio_plot(ak.to_numpy(gen[:, 0].pt), ak.to_numpy(truth[:, 0].pt), hist.axis.Regular(50, 0, 400), "pT(b) [GeV]",
           out / "b_pt.png")
inside = {k: np.mean(np.abs(v - 172.5) < 1.42) for k, v in m_top.items()}
print(f"top mass within 172.5 ± 1.42 GeV: generated {inside['gen']:.3f}, truth {inside['truth']:.3f}, "
      f"ratio {inside['gen'] / inside['truth']:.3f}")
print(f"wrote {out / 'top_mass.png'} and {out / 'b_pt.png'}")
