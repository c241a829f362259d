"""Numbers that say how good generated events are, each against a truth sample.

All functions take `Events` (or plain arrays) and return floats or dicts of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lhcgan import physics
from lhcgan.events import Events
from lhcgan.process import Process
from lhcgan.stats import weighted_cdf, weighted_mean_std, weighted_quantiles
from lhcgan.system import primary_observables
from lhcgan.validate.worth import PAIR, WorthReference, all_names, recoils, worth_by_kind

#: Observables of one sample: name → (N,) array.
Observables = dict[str, np.ndarray]


def observables(events: Events) -> Observables:
    """pT, η, φ of every slot, the resonance and tt̄ masses, the tt̄ system's pT, each top's pT and
    rapidity and their gap |Δy| (`system.primary_observables`), Σpx, Σpy and, with neutrinos, the missing pT."""
    p = events.momenta
    out: Observables = {}
    for i, slot in enumerate(events.process.slots):
        out[f"pt_{slot.name}"] = physics.pt(p[:, i])
        out[f"eta_{slot.name}"] = physics.eta(p[:, i])
        out[f"phi_{slot.name}"] = physics.phi(p[:, i])
    masses = events.resonance_masses()
    for k, r in enumerate(events.process.resonances):
        out[f"m_{r.name}"] = masses[:, k]
    out["m_ttbar"] = physics.invariant_mass(p, events.masses)
    s = physics.momentum_sum(p)
    out["pt_ttbar"] = np.hypot(s[:, 0], s[:, 1])  # the recoil against radiation; 0 without it
    out |= primary_observables(p, events.masses, events.process)
    out["sum_px"], out["sum_py"] = s[:, 0], s[:, 1]
    if events.process.has_neutrinos:
        out["met"] = missing_pt(events)
    return out


NEUTRINOS = (12, 14, 16)


def missing_pt(events: Events) -> np.ndarray:
    """The missing transverse momentum (N,) GeV: |Σ p⃗T| of the neutrinos, what an analysis sees; 0 without."""
    nu = np.isin(np.abs(events.pdg), NEUTRINOS)[..., None]
    s = (events.momenta[..., :2] * nu).sum(axis=1)
    return np.hypot(s[:, 0], s[:, 1])


def particle_w1(w1_over_sigma: dict[str, float]) -> dict[str, float]:
    """The W1/σ of the particles' pT, η and φ among ``w1_over_sigma`` (not of pT(tt̄), the whole system's):
    the quality bar's "max W1/σ"."""
    return {k: v for k, v in w1_over_sigma.items() if k.split("_")[0] in ("pt", "eta", "phi") and k != "pt_ttbar"}


def wasserstein1(a: np.ndarray, b: np.ndarray, wa: np.ndarray | None = None, wb: np.ndarray | None = None) -> float:
    """Exact 1-d Wasserstein-1 distance ∫|F_a − F_b| dx between two (weighted) samples."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    x = np.sort(np.concatenate([a, b]))
    dx = np.diff(x)
    fa, fb = weighted_cdf(a, wa, x[:-1]), weighted_cdf(b, wb, x[:-1])
    return float(np.sum(np.abs(fa - fb) * dx))


def chi2_ndf(a: np.ndarray, b: np.ndarray, bins: int = 40, wa: np.ndarray | None = None,
             wb: np.ndarray | None = None) -> float:
    """χ²/ndf of two normalised histograms, binned in quantiles of ``b``, with the statistical errors
    (Σw² per bin for weighted samples) of both."""
    edges = np.unique(weighted_quantiles(b, np.linspace(0, 1, bins + 1), wb, magnitude=True))
    ha, _ = np.histogram(a, edges, weights=wa)
    hb, _ = np.histogram(b, edges, weights=wb)
    va, _ = np.histogram(a, edges, weights=None if wa is None else wa**2)
    vb, _ = np.histogram(b, edges, weights=None if wb is None else wb**2)
    na, nb = ha.sum() or 1.0, hb.sum() or 1.0
    var = va / na**2 + vb / nb**2
    ok = var > 0
    chi2 = np.sum((ha[ok] / na - hb[ok] / nb) ** 2 / var[ok])
    return float(chi2 / max(ok.sum() - 1, 1))


def in_peak_fractions(events: Events, process: Process | None = None) -> dict[str, float]:
    """Fraction of events (of Σw, when weighted) with |m − m₀| < Γ for each resonance (m₀, Γ from
    ``process``, by default the events' own: give the truth's to judge two samples in the same windows)."""
    m = events.resonance_masses()
    w = np.ones(len(m)) if events.weights is None else events.weights
    res = (process or events.process).resonances
    return {r.name: float(np.sum(w * (np.abs(m[:, k] - r.mass) < r.width)) / np.sum(w)) for k, r in enumerate(res)}


def pt_balance_median(events: Events) -> float:
    """Median of |Σ p⃗T| / Σ |p⃗T|."""
    return float(np.median(physics.pt_balance(events.momenta)))


def classifier_features(events: Events) -> np.ndarray:
    """Physics features for the classifier test, (N, 38): momenta, log pT, η and resonance masses.

    Each mass enters twice: in GeV, and as arctan(2 (m − m₀) / Γ), which maps a
    Breit–Wigner peak onto a flat distribution, so the peak shape is as visible
    to the classifier as the tails.
    """
    p = events.momenta
    flat = p.reshape(len(p), -1)
    m = events.resonance_masses()
    res = events.process.resonances
    peak = np.stack([np.arctan(2 * (m[:, k] - r.mass) / r.width) for k, r in enumerate(res)], axis=1)
    return np.concatenate([flat, np.log(physics.pt(p) + 1e-3), physics.eta(p), m, peak], axis=1)


def strong_classifier_features(events: Events) -> np.ndarray:
    """Features in the style of L-GATr's classifier test (arXiv:2411.00446), (N, 53) for six particles.

    Each particle's log pT, η, φ; ΔR of every pair; pT, η, φ and mass of the whole event and of
    every resonance of the process (tt̄, t, t̄, W⁺, W⁻).
    """
    # as stored in files (pT, η, φ in float32, as lhcgan's ROOT and NanoAOD hold them), for both samples:
    # a balanced event's ΣpT is zero in float64 and float32 rounding (~1e-5 GeV) after storage, which
    # the pT and φ of the tt̄ system would otherwise show to the classifier
    p = _as_stored(events.momenta)
    m = events.masses
    n = p.shape[1]
    cols = [np.log(physics.pt(p) + 1e-3), physics.eta(p), physics.phi(p)]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    cols.append(np.stack([physics.delta_r(p[:, i], p[:, j]) for i, j in pairs], axis=1))
    systems = [tuple(range(n))] + [r.members for r in events.process.resonances]
    for members in systems:
        s = p[:, list(members)].sum(1)
        pt = physics.pt(s)
        # η of a system at rest in the transverse plane (the tt̄ of a balanced event) stays finite
        cols.append(np.stack([np.log(pt + 1e-3), np.arcsinh(s[:, 2] / (pt + 1e-3)), physics.phi(s),
                              physics.invariant_mass(p, m, members)], axis=1))
    return np.concatenate(cols, axis=1)


def _as_stored(p: np.ndarray) -> np.ndarray:
    """Momenta (N, n, 3) GeV rounded as a ROOT file stores them: pT, η, φ in float32."""
    f32 = [x.astype(np.float32).astype(np.float64) for x in (physics.pt(p), physics.eta(p), physics.phi(p))]
    return physics.from_pt_eta_phi(*f32)


def classifier_auc(generated: Events, truth: Events, *, seed: int = 0, max_events: int = 200_000,
                   epochs: int = 20, features: Callable[[Events], np.ndarray] | None = None,
                   hidden: int = 128, layers: int = 3) -> float:
    """AUC of an MLP trained to tell generated from truth events; 0.5 means indistinguishable.

    The MLP (``layers`` × ``hidden``, fixed seed) trains on half of each sample and is evaluated
    on the other half, with weights where the samples have them. Features (default
    `classifier_features`) are standardised with the truth statistics.
    """
    import torch
    from torch import nn

    features = features or classifier_features
    rng = np.random.default_rng(seed)
    n = min(len(generated), len(truth), max_events)
    pick_g, pick_t = rng.permutation(len(generated))[:n], rng.permutation(len(truth))[:n]
    # features measured from one pole for both samples (the truth's): a feature relative to each sample's
    # own pole would tell a sample made at another mass by its label, not by its events
    same = generated.process.with_masses(truth.process.pole_masses())
    xg, xt = features(generated[pick_g].with_process(same)), features(truth[pick_t])
    wg = np.ones(n) if generated.weights is None else generated.weights[pick_g]
    wt = np.ones(n) if truth.weights is None else truth.weights[pick_t]
    # each sample's weights normalised to its event count: the two classes weigh the same
    wg, wt = wg * n / wg.sum(), wt * n / wt.sum()
    mean, std = xt.mean(0), xt.std(0) + 1e-12
    x = np.concatenate([xg, xt])
    x = np.nan_to_num((x - mean) / std, nan=0.0, posinf=10.0, neginf=-10.0).clip(-10, 10).astype(np.float32)
    y = np.concatenate([np.ones(n), np.zeros(n)]).astype(np.float32)
    w = np.concatenate([wg, wt]).astype(np.float32)
    order = rng.permutation(2 * n)
    x, y, w = x[order], y[order], w[order]
    half = n
    xtr, ytr, wtr, xte, yte, wte = map(torch.as_tensor, (x[:half], y[:half], w[:half], x[half:], y[half:], w[half:]))
    torch.manual_seed(seed)
    mods: list[nn.Module] = []
    width = x.shape[1]
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    net = nn.Sequential(*mods, nn.Linear(width, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), 1024):
            idx = perm[i : i + 1024]
            loss = nn.functional.binary_cross_entropy_with_logits(net(xtr[idx]).squeeze(-1), ytr[idx],
                                                                  weight=wtr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    with torch.no_grad():
        scores = net(xte).squeeze(-1).numpy()
    return auc(scores, yte.numpy(), wte.numpy())


def strong_classifier_auc(generated: Events, truth: Events, *, seed: int = 0, max_events: int = 500_000,
                          epochs: int = 30) -> float:
    """`classifier_auc` with `strong_classifier_features` and a 3 × 256 MLP: the harder test."""
    return classifier_auc(generated, truth, seed=seed, max_events=max_events, epochs=epochs,
                          features=strong_classifier_features, hidden=256)


def auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve: the (weighted) probability that a positive outscores a negative, ties half."""
    w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")
    s, pos, w = scores[order], labels[order] == 1, w[order]
    # per distinct score: negative weight below it, plus half the negative weight tied with it
    _, first = np.unique(s, return_index=True)
    group = np.cumsum(np.r_[False, s[1:] != s[:-1]])
    neg_w = np.where(pos, 0.0, w)
    tied_neg = np.add.reduceat(neg_w, first)
    below = np.cumsum(tied_neg) - tied_neg
    credit = below[group] + 0.5 * tied_neg[group]
    total = w[pos].sum() * neg_w.sum()
    return float(np.sum(w[pos] * credit[pos]) / total)


def summarise(generated: Events, truth: Events, *, training_size: int | None = None,
              auc_events: int = 200_000, binning: Events | None = None, per_channel: bool = True) -> dict:
    """All metrics of ``generated`` against ``truth``, as written to metrics.json.

    ``binning``: a truth sample whose quantiles bin the worth (the training events when ``truth`` is a small
    held-out sample), also the control of the reference's own error (`amplification`); without it the truth
    sample is split in halves.
    Where the truth holds several decay channels: the channel fractions of both and, with
    ``per_channel``, every metric for each channel alone ("channels").
    """
    og, ot = observables(generated), observables(truth)
    for key in set(og) ^ set(ot):  # e.g. the missing pT where only one process has leptonic channels
        og.pop(key, None), ot.pop(key, None)
    wg, wt = generated.weights, truth.weights
    if not recoils(ot):  # a balanced truth: pT(tt̄) is float rounding, nothing to compare
        og.pop("pt_ttbar"), ot.pop("pt_ttbar")
    w1, chi2 = {}, {}
    for name in og:
        sigma = float(weighted_mean_std(ot[name], wt)[1])
        w1[name] = wasserstein1(og[name], ot[name], wg, wt) / sigma if sigma > 0 else 0.0
        chi2[name] = chi2_ndf(og[name], ot[name], wa=wg, wb=wt)
    fg, ft = in_peak_fractions(generated, truth.process), in_peak_fractions(truth)
    metrics: dict[str, Any] = {
        "n_generated": len(generated),
        "n_truth": len(truth),
        "w1_over_sigma": w1,
        "chi2_ndf": chi2,
        "in_peak_generated": fg,
        "in_peak_truth": ft,
        "in_peak_ratio": {k: fg[k] / ft[k] if ft[k] > 0 else float("nan") for k in fg},
        "pt_balance_median": pt_balance_median(generated),
        "pt_balance_median_truth": pt_balance_median(truth),
        "auc": classifier_auc(generated, truth, max_events=auc_events),
        "amplification": amplification(og, ot, training_size=training_size,
                                       binning=None if binning is None else observables(binning),
                                       weights=wg, truth_weights=wt,
                                       binning_weights=None if binning is None else binning.weights),
    }
    names = list(truth.channel_counts())
    if len(names) > 1 or len(generated.channel_counts()) > 1:
        metrics["channel_fractions_generated"] = generated.channel_fractions()
        metrics["channel_fractions_truth"] = truth.channel_fractions()
        if per_channel:
            metrics["channels"] = {}
            for name in names:
                if name not in generated.channel_counts():
                    continue
                part = None if binning is None or name not in binning.channel_counts() else binning.channel(name)
                metrics["channels"][name] = summarise(generated.channel(name), truth.channel(name),
                                                      training_size=None, auc_events=auc_events, binning=part,
                                                      per_channel=False)
    if generated.variation_set is not None and truth.variation_set is not None:
        from lhcgan.validate.variations import compare_variations

        metrics["variations"] = compare_variations(generated, truth)
    return metrics


def amplification(generated: Observables, truth: Observables, *, training_size: int | None = None,
                  binning: Observables | None = None, seed: int = 0, weights: np.ndarray | None = None,
                  truth_weights: np.ndarray | None = None, binning_weights: np.ndarray | None = None) -> dict:
    """The worth of the generated sample in truth events (`lhcgan.validate.worth`), and its ratio to
    ``training_size``: above 1, the generated sample is worth more than the sample it learnt from.

    With ``binning`` the quantile edges come from it and all of ``truth`` is the reference; ``binning`` is then a
    truth sample too (`lhcgan fit`'s training events beside its held-out ones), worth its size, and serves as
    the control of the reference's own error (`WorthReference.from_samples`). Without, one half of ``truth``
    bins and the other is the reference.

    Returns the marginal worth's dict (`WorthReference.measure`), with "system" and "pairwise" the same
    for the tt̄-system observables and their pairs, each with its ``amplification`` where ``training_size``
    is given.
    """
    names = all_names(truth)
    columns = list(dict.fromkeys(a for k in names for a in k.split(PAIR)))
    if binning is None:
        ref = WorthReference.from_truth({k: truth[k] for k in columns}, weights=truth_weights, names=names, seed=seed)
    else:
        ref = WorthReference.from_samples(binning, truth, names=names, reference_weights=truth_weights,
                                          binning_weights=binning_weights, control=True)
    kinds = worth_by_kind(generated, ref, weights)
    out = kinds.pop("marginal")
    out |= kinds
    if training_size:
        for part in (out, *kinds.values()):
            part["amplification"] = part["worth"] / training_size
            part["training_events"] = training_size
    return out
