"""Figures: generated over truth with a ratio panel, as PNG files and one multi-page PDF."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import hist  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from lhcgan import physics  # noqa: E402
from lhcgan.events import Events  # noqa: E402
from lhcgan.validate.metrics import Observables  # noqa: E402
from lhcgan.validate.worth import recoils  # noqa: E402

GEN, TRUTH = "#d62728", "black"


@dataclass
class Figure:
    """A figure file and the observable whose metric goes beside it."""

    name: str
    title: str
    observable: str | None = None


@dataclass
class Bands:
    """The ensemble members' observables, for error bands, and the coverage tally of the figures drawn.

    Attributes:
        members: one `Observables` per ensemble member.
        covered, bins: bins where |generated − truth| is within the combined 1σ band, and bins counted
            (those with at least 10 truth events), over every one-dimensional figure of a measured observable.
    """

    members: list[Observables]
    covered: int = 0
    bins: int = 0

    def band(self, key: str, hg: hist.Hist) -> np.ndarray:
        """Per-bin standard deviation of the members' fractions of events in ``hg``'s bins."""
        fractions = []
        for m in self.members:
            h = hist.Hist(hg.axes[0]).fill(m[key])
            fractions.append(h.values() / max(h.values().sum(), 1))
        return np.std(fractions, axis=0, ddof=1)

    def tally(self, dens_g, dens_t, sigma, counts_t) -> None:
        ok = counts_t >= 10
        self.covered += int(np.sum(np.abs(dens_g - dens_t)[ok] < sigma[ok]))
        self.bins += int(ok.sum())

    @property
    def coverage(self) -> float:
        return self.covered / self.bins if self.bins else float("nan")


def _ratio_figure(hg: hist.Hist, ht: hist.Hist, xlabel: str, *, logy: bool = False, logx: bool = False,
                  band: np.ndarray | None = None, bands: Bands | None = None) -> plt.Figure:
    fig, (ax, rax) = plt.subplots(2, 1, figsize=(6, 5.5), sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05})
    # fractions of Σw; errors from Σw² (the counts for unweighted events)
    ng, nt = _norm(hg.values().sum()), _norm(ht.values().sum())
    dens_g, dens_t = hg.values() / ng, ht.values() / nt
    err_g, err_t = np.sqrt(hg.variances()) / abs(ng), np.sqrt(ht.variances()) / abs(nt)
    edges = ht.axes[0].edges
    mplhep.histplot(dens_t, edges, ax=ax, color=TRUTH, label="truth", yerr=err_t)
    mplhep.histplot(dens_g, edges, ax=ax, color=GEN, label="generated", yerr=err_g)
    if band is not None:
        ax.stairs(dens_g + band, edges, baseline=np.clip(dens_g - band, 0, None), fill=True, color=GEN, alpha=0.25,
                  label="ensemble spread")
        has = dens_t > 0
        safe = np.where(has, dens_t, 1.0)
        mid, rel = np.where(has, dens_g / safe, np.nan), np.where(has, band / safe, np.nan)
        rax.stairs(mid + rel, edges, baseline=mid - rel, fill=True, color=GEN, alpha=0.25)
        if bands is not None:
            n_t = np.divide(ht.values() ** 2, ht.variances(), out=np.zeros(len(dens_t)), where=ht.variances() > 0)
            bands.tally(dens_g, dens_t, np.sqrt(err_g**2 + err_t**2 + band**2), n_t)  # effective truth counts
    ax.set_ylabel("fraction of events")
    ax.legend()
    if logy:
        ax.set_yscale("log")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = dens_g / dens_t
        rerr = ratio * np.sqrt((err_g / dens_g) ** 2 + (err_t / dens_t) ** 2)
    centres = ht.axes[0].centers
    rax.errorbar(centres, ratio, yerr=rerr, fmt="o", ms=2.5, color=GEN, elinewidth=0.8)
    rax.axhline(1, color=TRUTH, lw=0.8)
    rax.set_ylim(0.5, 1.5)
    rax.set_ylabel("gen / truth")
    rax.set_xlabel(xlabel)
    if logx:
        ax.set_xscale("log")
    return fig


def _hists(a: np.ndarray, b: np.ndarray, lo: float, hi: float, bins: int = 60, log: bool = False, *,
           wa: np.ndarray | None = None, wb: np.ndarray | None = None) -> tuple[hist.Hist, hist.Hist]:
    """Histograms of a and b (with weights wa, wb where given; Σw² kept for the errors)."""
    axis = hist.axis.Regular(bins, lo, hi, transform=hist.axis.transform.log if log else None)
    return (hist.Hist(axis, storage=hist.storage.Weight()).fill(a, weight=1.0 if wa is None else wa),
            hist.Hist(axis, storage=hist.storage.Weight()).fill(b, weight=1.0 if wb is None else wb))


def _norm(total: float) -> float:
    return total if total != 0 else 1.0


def _range(x: np.ndarray, q: float = 0.001) -> tuple[float, float]:
    lo, hi = np.quantile(x, [q, 1 - q])
    return float(lo), float(hi)


def make_figures(generated: Events, truth: Events, og: Observables, ot: Observables,
                 out: Path, losses: Path | None = None, bands: Bands | None = None) -> Iterator[tuple[Figure, plt.Figure]]:
    """Yield every figure with its description; the caller saves and closes them.

    With ``bands`` each one-dimensional figure of an observable gets the ensemble's band,
    and ``bands`` tallies how many bins it covers.
    """
    proc = truth.process
    wg, wt = generated.weights, truth.weights

    def hists(a: np.ndarray, b: np.ndarray, *args, **kw) -> tuple[hist.Hist, hist.Hist]:
        return _hists(a, b, *args, wa=wg, wb=wt, **kw)  # every figure weighted as its sample is

    def ratio(key: str, hists: tuple[hist.Hist, hist.Hist], xlabel: str, **kw) -> plt.Figure:
        band = bands.band(key, hists[0]) if bands is not None else None
        return _ratio_figure(*hists, xlabel, band=band, bands=bands, **kw)

    for slot in proc.slots:
        key = f"pt_{slot.name}"
        hi = _range(ot[key])[1]
        yield Figure(key, f"pT of {slot.name}", key), ratio(key, hists(og[key], ot[key], 0, hi), f"$p_T$ of {slot.label} [GeV]")
        # the tail on a log scale, as in the reference paper
        hi_tail = float(np.quantile(ot[key], 0.99995))
        yield (Figure(key + "_tail", f"pT tail of {slot.name} (log scale)", key),
               ratio(key, hists(og[key], ot[key], 0, hi_tail, 50), f"$p_T$ of {slot.label} [GeV]", logy=True))
        for var, label in (("eta", r"$\eta$"), ("phi", r"$\phi$")):
            key = f"{var}_{slot.name}"
            lo, hi = (-np.pi, np.pi) if var == "phi" else (-5.0, 5.0)
            yield Figure(key, f"{var} of {slot.name}", key), ratio(key, hists(og[key], ot[key], lo, hi, 50), f"{label} of {slot.label}")
    for r in proc.resonances:
        key = f"m_{r.name}"
        lo, hi = r.mass - 40 * r.width, r.mass + 40 * r.width
        yield Figure(key, f"mass of {r.name}", key), ratio(key, hists(og[key], ot[key], lo, hi, 80), f"$m$({r.label}) [GeV]", logy=True)
        lo, hi = r.mass - 5 * r.width, r.mass + 5 * r.width
        yield (Figure(key + "_peak", f"mass of {r.name}, ±5Γ around the peak", key),
               ratio(key, hists(og[key], ot[key], lo, hi, 50), f"$m$({r.label}) [GeV]"))
    hi = _range(ot["m_ttbar"])[1]
    lo = 10 * np.floor(float(np.min(ot["m_ttbar"])) / 10)  # the threshold, wherever the masses put it
    yield Figure("m_ttbar", "mass of the tt̄ system", "m_ttbar"), ratio("m_ttbar", hists(og["m_ttbar"], ot["m_ttbar"], lo, hi), r"$m(t\bar{t})$ [GeV]", logy=True)
    for r in proc.primaries:  # the top observables analyses unfold
        key = f"pt_{r.name}"
        hi = _range(ot[key])[1]
        yield Figure(key, f"pT of {r.name}", key), ratio(key, hists(og[key], ot[key], 0, hi), f"$p_T$({r.label}) [GeV]", logy=True)
        key = f"y_{r.name}"
        yield Figure(key, f"rapidity of {r.name}", key), ratio(key, hists(og[key], ot[key], -3.0, 3.0, 50), f"$y$({r.label})")
    hi = _range(ot["absdy_ttbar"])[1]
    yield (Figure("absdy_ttbar", "rapidity gap of the tops", "absdy_ttbar"),
           ratio("absdy_ttbar", hists(og["absdy_ttbar"], ot["absdy_ttbar"], 0, hi, 50), r"$|\Delta y(t, \bar{t})|$"))
    if "met" in ot and "met" in og and np.any(ot["met"] > 0):  # neutrinos: the missing pT an analysis sees
        hi = float(np.quantile(ot["met"], 0.999))
        yield (Figure("met", "missing transverse momentum (the neutrinos' pT)", "met"),
               ratio("met", hists(og["met"], ot["met"], 0, hi), r"$p_T^{miss}$ [GeV]", logy=True))
    if recoils(ot):  # the tt̄ system recoils against radiation
        hi = float(np.quantile(ot["pt_ttbar"], 0.999))
        yield (Figure("pt_ttbar", "pT of the tt̄ system", "pt_ttbar"),
               ratio("pt_ttbar", hists(og["pt_ttbar"], ot["pt_ttbar"], 0, hi), r"$p_T(t\bar{t})$ [GeV]", logy=True))
    for key, label in (("sum_px", r"$\sum p_x$ [GeV]"), ("sum_py", r"$\sum p_y$ [GeV]")):
        spread = max(float(np.max(np.abs(ot[key]))), float(np.quantile(np.abs(og[key]), 0.99)), 1e-9)
        yield Figure(key, key.replace("_", " "), key), _ratio_figure(*hists(og[key], ot[key], -spread, spread, 50), label)
    bg = np.clip(physics.pt_balance(generated.momenta), 1e-18, 1)
    bt = np.clip(physics.pt_balance(truth.momenta), 1e-18, 1)
    yield (Figure("pt_balance", "relative transverse-momentum balance", None),
           _ratio_figure(*hists(bg, bt, 1e-18, 1, 72, log=True), r"$|\sum \vec{p}_T| / \sum |\vec{p}_T|$", logx=True))
    # the slots the primary resonances decay into directly (b and b̄): their rapidity correlation
    first = [s for s in proc.slots if s.parent in {r.name for r in proc.primaries}]
    if len(first) == 2:
        a, b = (f"eta_{s.name}" for s in first)
        yield Figure(f"{a}_vs_{b}", f"η of {first[0].name} vs η of {first[1].name}", None), _two_d(
            og[a], og[b], ot[a], ot[b], (-4, 4), (-4, 4), f"$\\eta$ of {first[0].label}", f"$\\eta$ of {first[1].label}")
    for r in proc.resonances:
        if r.parent is None:
            continue
        i, j = r.members
        dr_g = physics.delta_r(generated.momenta[:, i], generated.momenta[:, j])
        dr_t = physics.delta_r(truth.momenta[:, i], truth.momenta[:, j])
        w_pt_g = physics.pt(generated.momenta[:, [i, j]].sum(axis=1))
        w_pt_t = physics.pt(truth.momenta[:, [i, j]].sum(axis=1))
        yield Figure(f"dR_{r.name}_vs_pt", f"ΔR of the {r.name} daughters vs pT of the {r.name}", None), _two_d(
            w_pt_g, dr_g, w_pt_t, dr_t, (0, 500), (0, 5), f"$p_T$({r.label}) [GeV]", f"$\\Delta R$ of {r.label} daughters")
    if generated.variation_set is not None and truth.variation_set is not None and len(truth.variation_set.envelope()) == 7:
        yield Figure("m_ttbar_scale_band", "m(tt̄) with its 7-point scale envelope", None), scale_band_figure(generated, truth)
    if losses is not None and losses.is_file():
        yield Figure("loss_curves", "training losses", None), loss_figure(losses)


def scale_band_figure(generated: Events, truth: Events, bins: int = 40) -> plt.Figure:
    """m(tt̄) of both samples with their 7-point scale envelopes (the extremes of the varied distributions,
    each normalised as the nominal is: a fraction of its Σw), and below, each envelope relative to its nominal."""
    from lhcgan.validate.variations import observables as variation_observables

    xg, xt = variation_observables(generated)["m_ttbar"], variation_observables(truth)["m_ttbar"]
    lo = 10 * np.floor(float(np.min(xt)) / 10)
    edges = np.linspace(lo, float(np.quantile(xt, 0.995)), bins + 1)
    fig, (ax, rax) = plt.subplots(2, 1, figsize=(6, 5.5), sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05})
    for events, x, colour, label in ((truth, xt, TRUTH, "truth"), (generated, xg, GEN, "generated")):
        w = np.ones(len(events)) if events.weights is None else events.weights
        cols = [events.variation_set.ids.index(truth.variation_set.ids[k]) for k in truth.variation_set.envelope()]
        nominal = np.histogram(x, edges, weights=w)[0]
        varied = np.stack([np.histogram(x, edges, weights=w * events.variations[:, k])[0] for k in cols])
        total = nominal.sum()
        up, down = varied.max(axis=0) / total, varied.min(axis=0) / total
        mplhep.histplot(nominal / total, edges, ax=ax, color=colour, label=f"{label}, nominal")
        safe = np.where(nominal > 0, nominal / total, 1.0)
        if label == "truth":  # the truth's envelope filled, the generated one's edges drawn over it
            ax.stairs(up, edges, baseline=down, fill=True, color="grey", alpha=0.35, label="truth, 7-point scale envelope")
            rax.stairs(up / safe, edges, baseline=down / safe, fill=True, color="grey", alpha=0.35)
        else:
            for band, name in ((up, "generated, 7-point scale envelope"), (down, None)):
                ax.stairs(band, edges, baseline=None, color=colour, lw=1, ls="--", label=name)
                rax.stairs(band / safe, edges, baseline=None, color=colour, lw=1.2, ls="--")
    ax.set_yscale("log")
    ax.set_ylabel("fraction of events per bin")
    ax.legend(fontsize=8)
    rax.axhline(1, color="grey", lw=0.8)
    rax.set_ylabel("varied / nominal")
    rax.set_xlabel(r"$m(t\bar{t})$ [GeV]")
    return fig


def _two_d(xg, yg, xt, yt, xr, yr, xl: str, yl: str) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, x, y, title in ((axes[0], xt, yt, "truth"), (axes[1], xg, yg, "generated")):
        h = hist.Hist(hist.axis.Regular(50, *xr), hist.axis.Regular(50, *yr)).fill(x, y)
        mplhep.hist2dplot(h / max(h.values().sum(), 1), ax=ax, cbar=True)
        ax.set_title(title)
        ax.set_xlabel(xl)
    axes[0].set_ylabel(yl)
    fig.tight_layout()
    return fig


def loss_figure(path: Path) -> plt.Figure:
    """Loss curves from a run's losses.jsonl."""
    records = [json.loads(ln) for ln in path.read_text().splitlines()]
    records = [r for r in records if "loss_d" in r]
    it = np.array([r["iteration"] for r in records])
    selected = [r for r in records if "selection" in r]
    fig, axes = plt.subplots(1, 3 if selected else 2, figsize=(15 if selected else 10, 4))
    for key, label in (("loss_d", "discriminator"), ("loss_g", "generator (adversarial)")):
        axes[0].plot(it, [r[key] for r in records], label=label)
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("loss")
    axes[0].legend()
    mmd = [r for r in records if "mmd" in r]  # training computes the MMD's value on logged steps only
    axes[1].semilogy([r["iteration"] for r in mmd], [max(r["mmd"], 1e-12) for r in mmd], color="tab:green")
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel("resonance-mass MMD²")
    if selected:
        axes[2].semilogy([r["iteration"] for r in selected], [r["selection"] for r in selected], "o-", color="tab:red")
        axes[2].set_xlabel("iteration")
        axes[2].set_ylabel("model selection: worth on held-out events")
    fig.tight_layout()
    return fig
