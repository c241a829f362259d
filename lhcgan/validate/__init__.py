"""`lhcgan validate`: generated against truth, in figures and numbers.

Writes into the output folder: one PNG per figure, all of them in ``plots.pdf``,
``metrics.json`` and ``index.html``, which shows every figure beside its metric.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np

from lhcgan.atomic import atomic_output
from lhcgan.events import Events
from lhcgan.reading import read
from lhcgan.validate.metrics import observables, particle_w1, summarise

__all__ = ["validate", "format_table"]


def _load(x: Events | str | os.PathLike[str]) -> Events:
    return x if isinstance(x, Events) else read(x)


def validate(
    generated: Events | str | os.PathLike[str],
    truth: Events | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    run_dir: str | os.PathLike[str] | None = None,
    training_size: int | None = None,
    auc_events: int = 200_000,
    binning: Events | None = None,
    members: list[Events] | None = None,
    quiet: bool = False,
) -> dict:
    """Compare ``generated`` with ``truth``; write figures and metrics into ``out_dir``; return the metrics.

    Args:
        generated, truth: `Events` or files of any supported format.
        run_dir: a `lhcgan fit` run folder, for the loss curves and the training size.
        training_size: events the model was trained on, for the amplification ratio.
        auc_events: events per sample for the classifier test.
        binning: truth events whose quantiles bin the worth (the training events), measured as well as the
            control of the reference's own error (`lhcgan.validate.worth`); without it half of ``truth`` bins.
        members: events of each member of an ensemble (`lhcgan fit --ensemble K`): every
            one-dimensional figure gets their spread as a band, and ``band_coverage`` in the metrics
            is the fraction of bins where |generated − truth| is within the combined 1σ band
            (statistical errors of both samples and the spread, in quadrature).
    """
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from lhcgan.validate.plots import Bands, make_figures

    gen, tru = _load(generated), _load(truth)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    losses = Path(run_dir) / "losses.jsonl" if run_dir is not None else None
    if training_size is None and run_dir is not None and (Path(run_dir) / "model.pt").is_file():
        from lhcgan.modelfile import load_model

        meta = load_model(Path(run_dir) / "model.pt").meta
        training_size = meta.get("training_events", 0) + meta.get("heldout_events", 0)
    metrics = summarise(gen, tru, training_size=training_size, auc_events=auc_events, binning=binning)
    metrics["generated"] = str(gen.meta.get("source"))
    metrics["truth"] = str(tru.meta.get("source"))

    og, ot = observables(gen), observables(tru)
    bands = Bands([observables(m) for m in members]) if members else None
    entries = []
    with atomic_output(out / "plots.pdf") as tmp, PdfPages(tmp) as pdf:
        for fig_info, fig in make_figures(gen, tru, og, ot, out, losses, bands):
            fig.savefig(out / f"{fig_info.name}.png", dpi=90)
            pdf.savefig(fig)
            plt.close(fig)
            entries.append(fig_info)
    if bands is not None:
        metrics["band_coverage"] = bands.coverage
        metrics["band_bins"] = bands.bins
        metrics["ensemble_members"] = len(members)
    with atomic_output(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(_finite(metrics), indent=1))
    with atomic_output(out / "index.html") as tmp:
        tmp.write_text(_index(entries, metrics))
    if not quiet:
        print(format_table(metrics))
        print(f"wrote {len(entries)} figures, plots.pdf, metrics.json and index.html to {out}/")
    return metrics


def _metric_text(metrics: dict, observable: str | None) -> str:
    if observable is None or observable not in metrics["w1_over_sigma"]:
        return ""
    text = f"W1/σ = {metrics['w1_over_sigma'][observable]:.4f}, χ²/ndf = {metrics['chi2_ndf'][observable]:.2f}"
    name = observable.removeprefix("m_")
    if name in metrics["in_peak_ratio"]:
        text += f", in-peak ratio = {metrics['in_peak_ratio'][name]:.3f}"
    return text


def _index(entries, metrics: dict) -> str:
    rows = []
    for e in entries:
        rows.append(f'<div class="fig"><h3>{html.escape(e.title)}</h3><p>{html.escape(_metric_text(metrics, e.observable))}</p>'
                    f'<img src="{e.name}.png" width="480"></div>')
    summary = html.escape(format_table(metrics))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>lhcgan validation</title>"
            "<style>body{font-family:sans-serif}.fig{display:inline-block;margin:8px;vertical-align:top}</style>"
            f"</head><body><h1>lhcgan validation</h1><pre>{summary}</pre>{''.join(rows)}</body></html>\n")


def _finite(x):
    """metrics with inf and NaN as null: strict JSON."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def _events(n: float) -> str:
    return "more than the reference resolves" if not np.isfinite(n) else f"{n:,.0f}"


KIND_LABELS = {"system": "tt̄ system", "pairwise": "pairs"}


def verdict(amp: dict) -> str | None:
    """"more" or "less" where the worth's 1σ range lies on one side of the training sample's size,
    None where it straddles it: the reference cannot tell."""
    if "training_events" not in amp:
        return None
    lo, hi = amp["worth_range"]
    n = amp["training_events"]
    return "more" if lo > n else "less" if hi < n else None


def worth_line(amp: dict) -> str:
    """One sentence: what the sample is worth in truth events (marginals, the tt̄ system, pairs), against
    what, and as a multiple of the training sample, with a verdict only where the 1σ range allows one."""
    lo, hi = amp["worth_range"]
    head = (f"worth {amp['worth']:,.0f} truth events" if np.isfinite(amp["worth"])
            else "worth more truth events than the reference resolves")
    text = (f"{head} (1σ range {_events(lo)} to {_events(hi)}; "
            f"least for {amp['worst_observable']}: {_events(amp['worst'])})")
    for kind, label in KIND_LABELS.items():
        if kind in amp:
            part = amp[kind]
            text += (f"; {label} {_events(part['worth'])} (least {part['worst_observable']}: "
                     f"{_events(part['worst'])})")
    text += f", measured against {amp['reference_events']:,.0f} independent truth events"
    if amp["reference_events"] < amp["worth"]:
        text += " (too few to measure it precisely: validate against a larger independent sample for that)"
    if "amplification" in amp:
        text += f"; {amp['amplification']:.2f}× the {amp['training_events']:,} events of the sample it learnt from"
        side = verdict(amp)
        text += (f": worth {side} than that sample" if side else
                 ": these truth events cannot tell whether it is worth more or less than that sample "
                 "(its 1σ range holds that size)")
    if "model_worth" in amp and amp["events"] < 10 * min(amp["model_worth"], amp["reference_events"]):
        # a sample of few events is worth less than the model that made it: say what more events would be worth
        lo, hi = amp["model_worth_range"]
        text += "; the model itself (its events' own noise subtracted) is worth "
        text += (f"{_events(amp['model_worth'])} (1σ range {_events(lo)} to {_events(hi)})" if np.isfinite(lo)
                 else "more than these truth events resolve")
        text += ": generate more events for a sample worth more"
    return text


def format_table(metrics: dict) -> str:
    """The terminal summary: per-observable W1/σ and χ²/ndf, in-peak fractions, balance, AUC, amplification."""
    lines = [f"{'observable':<14} {'W1/σ':>8} {'χ²/ndf':>8}"]
    for name, w in metrics["w1_over_sigma"].items():
        lines.append(f"{name:<14} {w:>8.4f} {metrics['chi2_ndf'][name]:>8.2f}")
    lines.append(f"{'resonance':<14} {'gen':>8} {'truth':>8} {'ratio':>8}   (fraction with |m − m₀| < Γ)")
    for name, r in metrics["in_peak_ratio"].items():
        lines.append(f"{name:<14} {metrics['in_peak_generated'][name]:>8.4f} {metrics['in_peak_truth'][name]:>8.4f} {r:>8.3f}")
    lines.append(f"pT balance median |Σp⃗T|/Σ|p⃗T|: {metrics['pt_balance_median']:.2e} "
                 f"(truth {metrics['pt_balance_median_truth']:.2e})")
    lines.append(f"classifier AUC: {metrics['auc']:.3f} (0.5: indistinguishable)")
    lines.append(worth_line(metrics["amplification"]))
    if "band_coverage" in metrics:
        lines.append(f"ensemble of {metrics['ensemble_members']}: |generated − truth| within the 1σ band in "
                     f"{metrics['band_coverage']:.0%} of {metrics['band_bins']} bins (0.68 for a calibrated band)")
    # Σpx, Σpy of balanced samples are float32 rounding (σ ~ 1e-5 GeV): no W1/σ worth naming
    worst = max(((k, v) for k, v in metrics["w1_over_sigma"].items() if not k.startswith("sum_")),
                key=lambda kv: kv[1])
    mean = np.mean([v for k, v in metrics["w1_over_sigma"].items() if not k.startswith("sum_")])
    lines.append(f"largest W1/σ: {worst[0]} {worst[1]:.4f}; mean {mean:.4f} (Σpx, Σpy left out)")
    if "channel_fractions_truth" in metrics:
        fg, ft = metrics["channel_fractions_generated"], metrics["channel_fractions_truth"]
        lines.append(f"{'channel':<8} {'gen':>7} {'truth':>7} {'in-peak':>8} {'AUC':>6} {'max W1/σ':>9} {'W1/σ MET':>9}"
                     f" {'worth':>10}   (per channel: smallest in-peak ratio, largest W1/σ of pT, η, φ, "
                     "worth in truth events of the channel)")
        for name, f in ft.items():
            sub = metrics.get("channels", {}).get(name)
            cols = f"{name:<8} {fg.get(name, 0.0):>7.4f} {f:>7.4f}"
            if sub:
                kin = particle_w1(sub["w1_over_sigma"]).values()
                met = sub["w1_over_sigma"].get("met")
                cols += (f" {min(sub['in_peak_ratio'].values()):>8.3f} {sub['auc']:>6.3f} {max(kin):>9.4f}"
                         f" {'–' if met is None else f'{met:.4f}':>9} {_events(sub['amplification']['worth']):>10}")
            lines.append(cols)
    if "variations" in metrics:
        v = metrics["variations"]
        worst = max(v["variations"].items(), key=lambda kv: kv[1]["max_deviation"])
        failed = [k for k, rec in v["variations"].items() if not rec["passed"]]
        lines.append(f"variations: {len(v['variations'])} judged in m(tt̄), pT(t), y(t), |Δy|; largest |R_gen/R_truth − 1| "
                     f"{worst[1]['max_deviation']:.2%} ({worst[0]}, {worst[1]['worst']}); "
                     + (f"{len(failed)} outside max(1 %, {v['z']:.1f}σ): {', '.join(failed[:5])}" if failed
                        else f"all within max(1 %, {v['z']:.1f}σ)")
                     + (f"; 7-point m(tt̄) envelope width within {v['envelope']['m_ttbar']:.1%} of truth's"
                        if "envelope" in v else ""))
    return "\n".join(lines)
