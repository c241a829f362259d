"""The worth estimator: truth samples are worth their size, degraded samples less, weights count."""

import numpy as np
import pytest

from lhcgan.validate.metrics import observables
from lhcgan.stats import effective_size
from lhcgan.validate.worth import PAIR_BINS, PAIRS, WorthReference, all_names, worth, worth_by_kind, worth_names


def draw(n: int, rng: np.random.Generator, shift: float = 0.0) -> dict[str, np.ndarray]:
    """Observables of a toy 'truth': skewed, peaked and flat marginals, named like lhcgan's."""
    return {
        "pt_b": rng.gamma(2.0, 50.0, n) * (1 + shift),
        "eta_b": rng.normal(shift, 1.5, n),
        "m_t": 172.5 + 0.71 * rng.standard_cauchy(n).clip(-100, 100),
        "m_ttbar": 350 + rng.exponential(150.0, n),
        "phi_b": rng.uniform(-np.pi, np.pi, n),
    }


@pytest.fixture(scope="module")
def reference() -> WorthReference:
    truth = draw(600_000, np.random.default_rng(1))
    return WorthReference.from_truth(truth, seed=2)


@pytest.mark.parametrize("n", [20_000, 100_000])
def test_truth_is_worth_its_size(reference, n):
    rng = np.random.default_rng(n)
    got = np.mean([reference.measure(draw(n, rng))["worth"] for _ in range(3)])
    assert got == pytest.approx(n, rel=0.15)


def test_phi_and_sums_are_not_measured(reference):
    assert set(reference.edges) == {"pt_b", "eta_b", "m_t", "m_ttbar"}
    assert worth_names({"pt_x": 0, "phi_x": 0, "sum_px": 0, "m_W+": 0}) == ["pt_x", "m_W+"]


def test_a_distorted_sample_is_worth_less_and_names_its_worst_observable(reference):
    rng = np.random.default_rng(5)
    clean = reference.measure(draw(100_000, rng))
    bad = reference.measure(draw(100_000, rng, shift=0.05))
    assert bad["worth"] < 0.5 * clean["worth"]
    assert bad["worst_observable"] in ("pt_b", "eta_b")
    assert bad["worst"] <= bad["worth"]
    lo, hi = bad["worth_range"]
    assert lo < bad["worth"] < hi


def test_weighted_sample_is_worth_its_effective_size(reference):
    """Events drawn from a biased distribution, weighted back, are worth (Σw)²/Σw² truth events."""
    rng = np.random.default_rng(7)
    n = 150_000
    sample = draw(n, rng)
    # bias: keep every event with |η| > 1, a third of the others, and weight those 3
    central = np.abs(sample["eta_b"]) < 1
    keep = ~central | (rng.random(n) < 1 / 3)
    sample = {k: v[keep] for k, v in sample.items()}
    w = np.where(np.abs(sample["eta_b"]) < 1, 3.0, 1.0)
    got = reference.measure(sample, w)
    assert got["events"] == pytest.approx(effective_size(w, len(w)))
    assert got["worth"] == pytest.approx(got["events"], rel=0.2)
    # the same events unweighted are wrong in η
    assert reference.measure(sample)["per_observable"]["eta_b"] < 0.1 * got["per_observable"]["eta_b"]


def test_negative_weights_cancel_an_excess(reference):
    """A sample with an excess and negative events that take it back is worth about its effective size."""
    rng = np.random.default_rng(8)
    base = draw(200_000, rng)
    extra = draw(40_000, rng, shift=0.3)  # an excess in one region ...
    sample = {k: np.concatenate([base[k], extra[k], extra[k]]) for k in base}
    w = np.concatenate([np.ones(200_000), np.ones(40_000), -np.ones(40_000)])  # ... cancelled exactly
    signed = reference.measure(sample, w)
    unsigned = reference.measure(sample)
    assert signed["worth"] > 20 * unsigned["worth"]


def test_on_pythia_events_smearing_costs_worth(ttbar):
    obs = observables(ttbar)
    half = len(ttbar) // 2
    truth = {k: v[:half] for k, v in obs.items()}
    sample = {k: v[half:] for k, v in obs.items()}
    clean = worth(sample, truth)
    smeared_obs = dict(sample)
    smeared_obs["m_t"] = sample["m_t"] * (1 + 0.01 * np.random.default_rng(0).standard_normal(len(sample["m_t"])))
    smeared = worth(smeared_obs, truth)
    assert clean["worth"] > 0.3 * (len(ttbar) - half)  # a small reference resolves worth only roughly
    assert smeared["per_observable"]["m_t"] < 0.2 * clean["per_observable"]["m_t"]


# -- the tt̄ system and pairs -----------------------------------------------------------------------------


def draw_system(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A toy tt̄ sample with the correlations of the real one: the tops' pT and rapidities share the
    system's mass, the gap grows with it, a top's pT and its b's are tied."""
    m = 350 + rng.gamma(2.0, 120.0, n)
    y_sys = rng.normal(0, 0.8, n)
    gap = rng.normal(0, 0.6 + m / 1000, n)
    pt = m * rng.beta(2, 3, n) / 2
    pt2 = pt + rng.normal(0, 5, n)
    out = {"m_ttbar": m, "absdy_ttbar": np.abs(gap), "y_t": y_sys + gap / 2, "y_tbar": y_sys - gap / 2,
           "pt_t": pt, "pt_tbar": np.abs(pt2), "m_t": 172.5 + rng.normal(0, 1.3, n),
           "pt_b": pt * rng.uniform(0.2, 0.7, n) + rng.exponential(20, n),
           "pt_q_Wp": pt * rng.uniform(0.1, 0.5, n) + rng.exponential(20, n),
           "eta_b": y_sys + gap / 2 + rng.normal(0, 0.5, n), "eta_bbar": y_sys - gap / 2 + rng.normal(0, 0.5, n),
           "pt_ttbar": np.zeros(n)}
    out["m_W+"] = 80.4 + rng.normal(0, 2, n) + 0.3 * (out["m_t"] - 172.5)
    return out


def draw_tied(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """`draw_system` with the partons as near-copies of their tops, as in tt̄ events: their bins fluctuate together."""
    d = draw_system(n, rng)
    d["pt_b"], d["pt_q_Wp"] = d["pt_t"] * 0.45 + rng.normal(0, 3, n), d["pt_t"] * 0.3 + rng.normal(0, 3, n)
    d["eta_b"], d["eta_bbar"] = d["y_t"] + rng.normal(0, 0.1, n), d["y_tbar"] + rng.normal(0, 0.1, n)
    return d


@pytest.fixture(scope="module")
def system_reference() -> WorthReference:
    truth = draw_system(800_000, np.random.default_rng(11))
    return WorthReference.from_truth(truth, names=all_names(truth), seed=3)


def test_every_kind_is_measured_on_its_own_names(system_reference):
    sample = draw_system(1000, np.random.default_rng(0))
    assert "pt_t" not in worth_names(sample) and "m_ttbar" in worth_names(sample)
    assert worth_names(sample, "system") == ["pt_t", "pt_tbar", "y_t", "y_tbar", "m_ttbar", "absdy_ttbar"]
    assert len(worth_names(sample, "pairwise")) == len(PAIRS)
    assert system_reference.fractions["pt_t×y_t"].shape == (PAIR_BINS * PAIR_BINS,)


@pytest.mark.parametrize("n", [20_000, 100_000])
def test_truth_is_worth_its_size_in_pairs_and_the_system(system_reference, n):
    rng = np.random.default_rng(n + 1)
    got = [worth_by_kind(draw_system(n, rng), system_reference) for _ in range(3)]
    for kind in ("system", "pairwise"):
        assert np.mean([g[kind]["worth"] for g in got]) == pytest.approx(n, rel=0.15)


def test_a_broken_correlation_costs_pairwise_worth_not_marginal(system_reference):
    rng = np.random.default_rng(21)
    n = 100_000
    sample = draw_system(n, rng)
    shuffled = dict(sample)
    shuffled["y_t"] = sample["y_t"][rng.permutation(n)]  # y(t) against pT(t), y(t̄), m(tt̄): broken
    clean, broken = worth_by_kind(sample, system_reference), worth_by_kind(shuffled, system_reference)
    # the marginals are the same numbers, in another order
    assert broken["system"]["per_observable"] == clean["system"]["per_observable"]
    assert broken["pairwise"]["worth"] < 0.1 * clean["pairwise"]["worth"]
    assert broken["pairwise"]["worst_observable"] in ("pt_t×y_t", "y_t×y_tbar")
    assert broken["pairwise"]["per_observable"]["pt_b×pt_q_Wp"] == clean["pairwise"]["per_observable"]["pt_b×pt_q_Wp"]


@pytest.mark.slow
def test_the_1sigma_range_covers_the_worth_as_often_as_it_should():
    """A small reference (3 000 events) measures samples of known worth (truth, worth its size): the
    1σ range, from the bins' covariance, holds the size in about 68 % of trials. The partons follow their
    tops (near-copies here, as in tt̄ events), so counting their bins as independent gives a range too
    narrow, which misses the size far more often."""
    rng = np.random.default_rng(31)
    binning = draw_tied(200_000, rng)
    n, trials = 3000, 40
    covered = {True: 0, False: 0}
    for _ in range(trials):
        ref = WorthReference.from_samples(binning, draw_tied(3000, rng), names=all_names(binning))
        sample = draw_tied(n, rng)
        for correlated in covered:
            lo, hi = ref.measure(sample, uncertainty=correlated)["worth_range"]
            covered[correlated] += lo <= n <= hi
    assert 0.55 <= covered[True] / trials <= 0.95  # 68 % ± 2σ of 40 trials, and a little conservative
    assert covered[False] < covered[True] - 5


def test_a_small_sample_is_worth_less_than_its_generator(system_reference):
    """A sample's worth counts its own noise; its generator's (model_worth) does not. Truth events are worth
    their size, and their generator (the truth) far more; a generator 5 % off in pT(t) is worth less than
    the truth's, and a sample of it less again."""
    rng = np.random.default_rng(41)
    n = 20_000
    system = system_reference.subset(worth_names(draw_system(1, rng), "system"))
    truth = system.measure(draw_system(n, rng))
    assert truth["worth"] == pytest.approx(n, rel=0.15)
    assert truth["model_worth"] > 5 * n
    sample = draw_system(n, rng)
    sample["pt_t"] = sample["pt_t"] * 1.05
    off = system.measure(sample)
    assert off["worth"] < off["model_worth"] < truth["model_worth"]
    lo, hi = off["model_worth_range"]
    assert lo <= off["model_worth"] <= hi


@pytest.mark.slow
def test_the_control_takes_the_references_own_error_out():
    """`lhcgan fit` bins on its training events (truth, worth their size) and measures against its few held-out
    ones, whose own error in one draw can be several σ of a worth far above their number. With the training
    events as the control the estimate stays unbiased (mean 1/worth of a truth sample of known size within its
    error), scatters less than without, and its 1σ range still holds the size about as often as it should."""
    rng = np.random.default_rng(51)
    n, held, trials = 100_000, 3_000, 40
    inverse: dict[bool, list[float]] = {True: [], False: []}
    covered = 0
    for _ in range(trials):
        binning, reference, sample = draw_tied(9 * held, rng), draw_tied(held, rng), draw_tied(n, rng)
        for control in inverse:
            ref = WorthReference.from_samples(binning, reference, names=worth_names(binning, "system"), control=control)
            got = ref.measure(sample)
            inverse[control].append(got["inverse_worth"])
            if control:
                covered += got["worth_range"][0] <= n <= got["worth_range"][1]
    with_control, without = np.array(inverse[True]), np.array(inverse[False])
    spread = with_control.std(ddof=1)
    assert abs(with_control.mean() - 1 / n) < 3 * spread / np.sqrt(trials)  # unbiased
    assert spread < 0.7 * without.std(ddof=1)
    assert 0.5 <= covered / trials <= 0.97
