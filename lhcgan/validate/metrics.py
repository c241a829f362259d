"""Numbers that say how good generated events are, each against a truth sample.

All functions take `Events` (or plain arrays) and return floats or dicts of them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lhcgan import physics
from lhcgan.events import Events

#: Observables of one sample: name → (N,) array.
Observables = dict[str, np.ndarray]


def observables(events: Events) -> Observables:
    """pT, η, φ of every slot, the resonance and tt̄ masses, and Σpx, Σpy."""
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
    out["sum_px"], out["sum_py"] = s[:, 0], s[:, 1]
    return out


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """Exact 1-d Wasserstein-1 distance ∫|F_a − F_b| dx between two samples."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    x = np.concatenate([a, b])
    x.sort()
    dx = np.diff(x)
    fa = np.searchsorted(a, x[:-1], side="right") / len(a)
    fb = np.searchsorted(b, x[:-1], side="right") / len(b)
    return float(np.sum(np.abs(fa - fb) * dx))


def chi2_ndf(a: np.ndarray, b: np.ndarray, bins: int = 40) -> float:
    """χ²/ndf of two normalised histograms, binned in quantiles of ``b``, counting statistical errors of both."""
    edges = np.unique(np.quantile(b, np.linspace(0, 1, bins + 1)))
    ha, _ = np.histogram(a, edges)
    hb, _ = np.histogram(b, edges)
    na, nb = ha.sum(), hb.sum()
    var = ha / max(na, 1) ** 2 + hb / max(nb, 1) ** 2
    ok = var > 0
    chi2 = np.sum((ha[ok] / na - hb[ok] / nb) ** 2 / var[ok])
    return float(chi2 / max(ok.sum() - 1, 1))


def in_peak_fractions(events: Events) -> dict[str, float]:
    """Fraction of events with |m − m₀| < Γ for each resonance (m₀, Γ from the process)."""
    m = events.resonance_masses()
    return {r.name: float(np.mean(np.abs(m[:, k] - r.mass) < r.width)) for k, r in enumerate(events.process.resonances)}


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


def classifier_auc(generated: Events, truth: Events, *, seed: int = 0, max_events: int = 200_000,
                   epochs: int = 20) -> float:
    """AUC of an MLP trained to tell generated from truth events; 0.5 means indistinguishable.

    The MLP (3 × 128, fixed seed) trains on half of each sample and is evaluated on
    the other half. Features are standardised with the truth statistics.
    """
    import torch
    from torch import nn

    rng = np.random.default_rng(seed)
    n = min(len(generated), len(truth), max_events)
    xg = classifier_features(generated)[rng.permutation(len(generated))[:n]]
    xt = classifier_features(truth)[rng.permutation(len(truth))[:n]]
    mean, std = xt.mean(0), xt.std(0) + 1e-12
    x = np.concatenate([xg, xt])
    x = np.nan_to_num((x - mean) / std, nan=0.0, posinf=10.0, neginf=-10.0).clip(-10, 10).astype(np.float32)
    y = np.concatenate([np.ones(n), np.zeros(n)]).astype(np.float32)
    order = rng.permutation(2 * n)
    x, y = x[order], y[order]
    half = n
    xtr, ytr, xte, yte = map(torch.as_tensor, (x[:half], y[:half], x[half:], y[half:]))
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(x.shape[1], 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                        nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), 1024):
            idx = perm[i : i + 1024]
            loss = nn.functional.binary_cross_entropy_with_logits(net(xtr[idx]).squeeze(-1), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        scores = net(xte).squeeze(-1).numpy()
    return auc(scores, yte.numpy())


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve from the Mann–Whitney rank statistic (ties counted half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks of tied scores
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2
    ranks[order] = np.repeat(avg, counts)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def quantile_mse(sample: Observables, edges: dict[str, np.ndarray]) -> float:
    """Mean over observables and quantile bins of (fraction in bin − 1/n_bins)²."""
    values = []
    for name, e in edges.items():
        h, _ = np.histogram(np.clip(sample[name], e[0], e[-1]), e)
        values.append(np.mean((h / max(h.sum(), 1) - 1 / (len(e) - 1)) ** 2))
    return float(np.mean(values))


def amplification(generated: Observables, truth: Observables, *, n_bins: int = 20, seed: int = 0,
                  training_size: int | None = None) -> dict[str, float | list]:
    """How many truth events the generated sample is worth (GANplifying, SciPost Phys. 10, 139).

    Quantile bins come from one half of the truth sample. The quantile MSE of the
    generated sample is compared with that of truth subsamples of growing size,
    drawn from the other half, which falls like c / n; the equivalent size is c / MSE.
    """
    rng = np.random.default_rng(seed)
    names = [k for k in truth if not k.startswith("sum_")]
    n = len(next(iter(truth.values())))
    perm = rng.permutation(n)
    ref, pool = perm[: n // 2], perm[n // 2 :]
    edges = {k: np.quantile(truth[k][ref], np.linspace(0, 1, n_bins + 1)) for k in names}
    sizes = [s for s in (500, 1000, 2000, 5000, 10000, 20000, 50000, 100000) if s <= len(pool)]
    mse_truth = []
    for s in sizes:
        reps = [quantile_mse({k: truth[k][rng.choice(pool, s, replace=False)] for k in names}, edges) for _ in range(5)]
        mse_truth.append(float(np.mean(reps)))
    c = float(np.median(np.array(mse_truth) * np.array(sizes)))
    mse_gen = quantile_mse({k: generated[k] for k in names}, edges)
    worth = c / mse_gen if mse_gen > 0 else float("inf")
    out: dict[str, float | list] = {"mse_generated": mse_gen, "truth_sizes": sizes, "mse_truth": mse_truth,
                                    "equivalent_truth_events": worth}
    if training_size:
        out["amplification"] = worth / training_size
    return out


def summarise(generated: Events, truth: Events, *, training_size: int | None = None,
              auc_events: int = 200_000, log: Callable[[str], None] | None = None) -> dict:
    """All metrics of ``generated`` against ``truth``, as written to metrics.json."""
    og, ot = observables(generated), observables(truth)
    w1, chi2 = {}, {}
    for name in og:
        sigma = float(np.std(ot[name]))
        w1[name] = wasserstein1(og[name], ot[name]) / sigma if sigma > 0 else 0.0
        chi2[name] = chi2_ndf(og[name], ot[name])
    fg, ft = in_peak_fractions(generated), in_peak_fractions(truth)
    metrics = {
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
        "amplification": amplification(og, ot, training_size=training_size),
    }
    return metrics
