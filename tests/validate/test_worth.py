"""The worth estimator: truth samples are worth their size, degraded samples less, weights count."""

import numpy as np
import pytest

from lhcgan.validate.metrics import observables
from lhcgan.stats import effective_size
from lhcgan.validate.worth import WorthReference, worth, worth_names


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
