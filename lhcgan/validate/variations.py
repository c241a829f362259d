"""Theory variations judged where analyses use them: each variation's varied/nominal ratio in the bins of
the tt̄ observables, generated against truth, and the scale envelope of m(tt̄).

A generated event carries its learnt ratios r_k (`lhcgan.variation_model`); a truth event its own
w_k / w_0. In a bin the varied/nominal ratio is R = Σ w₀ r_k / Σ w₀ (w₀ = 1 for unweighted events),
with the statistical error of that ratio estimator, σ² = Σ w₀² (r_k − R)² / (Σ w₀)².
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np

from lhcgan import physics
from lhcgan.events import Events
from lhcgan.system import system_features

#: Bins per observable (equal width over the truth's 0.1–99.9 % range); only bins with ≥ MIN_SHARE of the
#: truth's events are judged. A bin passes where |R_gen − R_truth| ≤ max(TOLERANCE · R_truth, z σ): within 1 %,
#: or within the statistical error, with z such that a generator equal to the truth fails at most FALSE_ALARM
#: of comparisons over all judged bins of all variations (Bonferroni; z ≈ 4.1 for 140 bins × 11 variations).
N_BINS, MIN_SHARE, TOLERANCE, FALSE_ALARM = 40, 0.01, 0.01, 0.05
#: The envelope's width may differ from the truth's by this fraction in every bin.
ENVELOPE_TOLERANCE = 0.10


def observables(events: Events) -> dict[str, np.ndarray]:
    """The observables the variations are judged in, name → (N,): m(tt̄) GeV, pT(t) GeV, y(t), |Δy| of t and t̄."""
    masses = events.masses
    f = system_features(events.momenta, masses, events.process)
    top = events.process.primaries[0]
    t4 = physics.to_four_momenta(events.momenta[:, list(top.members)], masses[:, list(top.members)]).sum(axis=1)
    return {"m_ttbar": f["m_system"], "pt_t": f[f"pt_{top.name}"], "y_t": physics.rapidity(t4),
            "abs_dy": f["dy_primaries"]}


def binned_ratio(x: np.ndarray, w: np.ndarray, r: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin of ``edges``: R = Σ w r / Σ w (B, K), its error σ (B, K) and Σ w (B,), of x (N,), w (N,), r (N, K)."""
    b = np.digitize(x, edges) - 1
    inside = (b >= 0) & (b < len(edges) - 1)
    b, w, r = b[inside], w[inside], r[inside]
    n_bins = len(edges) - 1
    sw = np.bincount(b, weights=w, minlength=n_bins)
    sw2 = np.bincount(b, weights=w * w, minlength=n_bins)
    safe = np.where(sw != 0, sw, 1.0)
    ratio = np.stack([np.bincount(b, weights=w * r[:, k], minlength=n_bins) for k in range(r.shape[1])], 1) / safe[:, None]
    # Σ w² (r − R)² = Σ w² r² − 2 R Σ w² r + R² Σ w²
    s2r = np.stack([np.bincount(b, weights=w * w * r[:, k], minlength=n_bins) for k in range(r.shape[1])], 1)
    s2r2 = np.stack([np.bincount(b, weights=w * w * r[:, k] ** 2, minlength=n_bins) for k in range(r.shape[1])], 1)
    var = np.clip(s2r2 - 2 * ratio * s2r + ratio**2 * sw2[:, None], 0, None) / safe[:, None] ** 2
    return ratio, np.sqrt(var), sw


def compare_variations(generated: Events, truth: Events) -> dict[str, Any]:
    """Each variation of ``truth`` against the generated events' learnt ratios, in the bins of `observables`.

    Returns {"variations": {id: {"max_deviation": largest |R_gen/R_truth − 1| over judged bins,
    "max_pull": largest |ΔR|/σ, "worst": "m_ttbar bin 412–437 GeV", "passed": bool}}, "z": the statistical
    allowance in σ, "envelope":
    {"m_ttbar": largest |width_gen/width_truth − 1|, "passed": bool} where the truth has the 7 scale
    points, "passed": all of them}.
    """
    if generated.variation_set is None or truth.variation_set is None:
        raise ValueError("both samples need variation weights")
    ids = [i for i in truth.variation_set.ids if i in generated.variation_set.ids]
    gi = [generated.variation_set.ids.index(i) for i in ids]
    ti = [truth.variation_set.ids.index(i) for i in ids]
    og, ot = observables(generated), observables(truth)
    wg = np.ones(len(generated)) if generated.weights is None else generated.weights
    wt = np.ones(len(truth)) if truth.weights is None else truth.weights
    rg, rt = generated.variations[:, gi], truth.variations[:, ti]
    out: dict[str, Any] = {"variations": {i: {"max_deviation": 0.0, "max_pull": 0.0, "worst": "", "passed": True}
                                          for i in ids}}
    binned = {}  # the judged bins of every observable first: their number sets the statistical allowance z
    envelope_cols = [ids.index(truth.variation_set.ids[k]) for k in truth.variation_set.envelope()
                     if truth.variation_set.ids[k] in ids]
    for name, xt in ot.items():
        lo, hi = np.quantile(xt, [0.001, 0.999])
        edges = np.linspace(lo, hi, N_BINS + 1)
        r_t, s_t, n_t = binned_ratio(xt, wt, rt, edges)
        r_g, s_g, _ = binned_ratio(og[name], wg, rg, edges)
        binned[name] = (edges, r_t, r_g, np.hypot(s_t, s_g), (n_t >= MIN_SHARE * wt.sum()) & (r_t != 0).all(axis=1))
    n_judged = max(sum(int(b[-1].sum()) for b in binned.values()), 1)
    z = NormalDist().inv_cdf(1 - FALSE_ALARM / (2 * n_judged * len(ids)))
    out["z"] = z
    for name, (edges, r_t, r_g, sigma, judged) in binned.items():
        dev = np.abs(r_g - r_t)
        safe_t = np.where(judged[:, None], np.abs(r_t), 1.0)
        for k, i in enumerate(ids):
            rec = out["variations"][i]
            rel = np.where(judged, dev[:, k] / safe_t[:, k], 0.0)
            pull = np.where(judged, dev[:, k] / np.maximum(sigma[:, k], 1e-300), 0.0)
            bad = judged & (dev[:, k] > np.maximum(TOLERANCE * safe_t[:, k], z * sigma[:, k]))
            j = int(np.argmax(rel))
            if rel[j] > rec["max_deviation"]:
                rec["max_deviation"], rec["worst"] = float(rel[j]), f"{name} bin {edges[j]:.3g}–{edges[j + 1]:.3g}"
            rec["max_pull"] = max(rec["max_pull"], float(pull.max()))
            rec["passed"] &= not bool(bad.any())
        if name == "m_ttbar" and len(envelope_cols) == 7:
            width_t = r_t[:, envelope_cols].max(1) - r_t[:, envelope_cols].min(1)
            width_g = r_g[:, envelope_cols].max(1) - r_g[:, envelope_cols].min(1)
            off = np.where(judged, np.abs(width_g / np.where(width_t > 0, width_t, 1.0) - 1), 0.0)
            out["envelope"] = {"m_ttbar": float(off.max()), "passed": bool(off.max() <= ENVELOPE_TOLERANCE)}
    out["passed"] = all(v["passed"] for v in out["variations"].values()) and out.get("envelope", {}).get("passed", True)
    return out
