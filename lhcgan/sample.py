"""The training sample as training takes it: held-out split, checked weights, symmetrised images."""

from __future__ import annotations

import warnings

import numpy as np

from lhcgan.errors import TrainingError
from lhcgan.events import Events
from lhcgan.stats import effective_size
from lhcgan.system import recoils, system_features

MAX_HOLDOUT = 100_000  # held-out events at most


def split_holdout(events: Events, fraction: float, seed: int) -> tuple[Events, Events]:
    """(training, held-out) events: a random ``fraction`` (at most 100 000 events) held out, fixed by ``seed``."""
    n_out = min(int(round(fraction * len(events))), MAX_HOLDOUT)
    perm = np.random.default_rng([seed, 1]).permutation(len(events))
    return events[np.sort(perm[n_out:])], events[np.sort(perm[:n_out])]


MIN_EFFECTIVE = 1000  # effective events below which a weighted sample cannot be learnt
#: A weighted sample's end regions: the share of Σ|w| each holds, and the fraction of its share of the
#: sample's effective size below which it is sparse.
SPARSE_SHARE, SPARSE_RATIO = 0.02, 0.1


def sparse_regions(events: Events, share: float = SPARSE_SHARE, ratio: float = SPARSE_RATIO
                   ) -> list[tuple[str, float]]:
    """The ends of the tt̄ system's kinematics that a weighted sample hardly describes.

    For each feature of `system.system_features` (m(tt̄) and the tops' pT in GeV, rapidities) and each
    end, the region from that end holding ``share`` of Σ|w|; it is named where its effective size
    (Σw)²/Σw² is below ``ratio`` × ``share`` × the sample's: a few heavy events carry it (a sample biased
    ∝ p̂T² at low pT), or its negative weights cancel its positive ones.
    The model cannot learn such a region, and every fraction of the sample is uncertain through its Σw.

    Returns: (description, relative error of Σw the region brings to every fraction) per sparse region,
    e.g. ("pt_t, pt_tbar < 22.7 GeV: 2.0% of Σ|w| in 28 events, effective 18", 0.0047).
    """
    w = events.weights
    if w is None or not len(w):
        return []
    w = np.asarray(w, np.float64)
    total = np.abs(w).sum()
    least = ratio * share * effective_size(w, len(w))
    features = system_features(events.momenta, events.masses, events.process)
    if not recoils(features):
        del features["pt_system"]  # float rounding
    # features with equal values (both tops' pT, without recoil) share a region: region → (names, share, error)
    found: dict[tuple, tuple[list[str], float, float]] = {}
    for name, x in features.items():
        order = np.argsort(x, kind="stable")
        for side, idx in (("<", order), (">", order[::-1])):
            n = int(np.searchsorted(np.cumsum(np.abs(w[idx])) / total, share)) + 1
            region = w[idx[:n]]
            n_eff = region.sum() ** 2 / np.sum(region**2)
            if n_eff < least:
                unit = " GeV" if name.startswith(("m_", "pt_")) else ""
                key = (side, f"{x[idx[n - 1]]:.3g}{unit}", n, round(float(n_eff), 6))
                err = abs(region.sum()) / w.sum() / np.sqrt(n_eff)
                found.setdefault(key, ([], np.abs(region).sum() / total, err))[0].append(name)
    return [(f"{', '.join(names)} {side} {edge}: {part:.1%} of Σ|w| in {n} events, effective {n_eff:.0f}", float(err))
            for (side, edge, n, n_eff), (names, part, err) in found.items()]


def check_weights(events: Events) -> np.ndarray | None:
    """The weights training must follow, or None for an unweighted sample (all weights equal).

    Refuses a sample whose signed sum of weights is not positive or whose effective size
    (Σw)²/Σw² is below 1000 events, and warns where the weights leave less than a tenth of the
    events' statistical power.
    """
    w = events.weights
    if w is None or not len(w) or np.all(w == w[0]):
        if w is not None and len(w) and w[0] <= 0:
            raise TrainingError(f"every event has the weight {w[0]:g}: the sample describes no positive cross "
                                "section", path=events.meta.get("source"), hint="check the sample's weights")
        return None
    neg = float(np.mean(w < 0))
    n_eff = effective_size(w, len(w))
    described = (f"weights from {w.min():.3g} to {w.max():.3g}, {neg:.1%} negative, effective size {n_eff:,.0f} "
                 f"of {len(w):,} events")
    if w.sum() <= 0:
        raise TrainingError(f"the weights sum to {w.sum():.3g} ≤ 0 ({described})", path=events.meta.get("source"),
                            hint="check the sample's weights")
    if n_eff < MIN_EFFECTIVE:
        raise TrainingError(f"the weights leave too few effective events to learn from ({described}; at least "
                            f"{MIN_EFFECTIVE} needed)", path=events.meta.get("source"),
                            hint="generate a larger sample, or one with less spread in its weights")
    if n_eff < 0.1 * len(w):
        warnings.warn(f"{described}: the model learns from the statistical power of {n_eff:,.0f} events",
                      stacklevel=3)
    sparse = sparse_regions(events)
    if sparse:
        warnings.warn(f"few effective events describe {'; '.join(d for d, _ in sparse)}: the model cannot learn "
                      f"there, and every fraction it generates is uncertain by ±{max(e for _, e in sparse):.1%} or more "
                      "through them (a larger sample or a milder bias fills them)", stacklevel=3)
    return np.asarray(w, dtype=np.float64)


def symmetrised(momenta: np.ndarray, weights: np.ndarray | None, symmetries: list[str], seed: int
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Momenta (N, n, 3) with their exact images: z-reflected copies appended, then random azimuths; and
    the weights that go with them (None when unweighted).

    The generator's quantile maps and the discriminator's standardisation are fitted on this, so the
    maps carry the symmetries exactly rather than the sample's fluctuations about them.
    """
    from lhcgan.symmetry import SYMMETRIES, randomise

    p = momenta
    for name in symmetries:  # discrete symmetries: the sample's exact images appended
        image = SYMMETRIES[name].image
        if image is not None:
            p = np.concatenate([p, image(p)])
            weights = None if weights is None else np.concatenate([weights, weights])
    continuous = [s for s in symmetries if SYMMETRIES[s].image is None]  # drawn at random
    return randomise(p, continuous, np.random.default_rng([seed, 2]).random), weights
