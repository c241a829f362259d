"""The refiner: a smooth tilt of generated events onto the training sample, applied by rejection and copies."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import lhcgan
from lhcgan import physics
from lhcgan.events import Events
from lhcgan.refine import BOUND_QUANTILE, Refiner
from lhcgan.system import system_features
from lhcgan.simulate import simulate

CUT = 600.0  # GeV of m(tt̄): about a quarter of the events lie above


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> tuple[Events, Events]:
    """Two independent 12 000-event Pythia 8 tt̄ samples (seeds 61, 62): "training" and "generated"."""
    folder = tmp_path_factory.mktemp("refine")
    out = []
    for seed in (61, 62):
        simulate(12_000, folder / f"s{seed}.root", seed=seed, progress=False)
        out.append(lhcgan.read(folder / f"s{seed}.root"))
    return out[0], out[1]


def mtt(events: Events) -> np.ndarray:
    return physics.invariant_mass(events.momenta, events.masses)


def fraction_above(events: Events) -> tuple[float, float]:
    """The (weighted) fraction of events above CUT and its binomial error."""
    w = np.ones(len(events)) if events.weights is None else events.weights
    f = w[mtt(events) > CUT].sum() / w.sum()
    n = w.sum() ** 2 / (w * w).sum()
    return f, np.sqrt(f * (1 - f) / n)


def emitted(refiner: Refiner, events: Events, rng: np.random.Generator) -> Events:
    """What refinement emits of ``events``: each as many times as its `Refiner.copies` say."""
    return events[np.repeat(np.arange(len(events)), refiner.copies(events, rng))]


def distorted(events: Events, keep: float, seed: int = 0) -> Events:
    """``events`` with only a share ``keep`` of those above CUT: a generator whose tail is too low."""
    rng = np.random.default_rng(seed)
    return events[(mtt(events) <= CUT) | (rng.random(len(events)) < keep)]


@pytest.mark.parametrize("signed", [False, True])
def test_features_are_invariant_under_the_exact_symmetries(samples, signed):
    from lhcgan.symmetry import randomise

    events = samples[0][:2000]
    rotated = randomise(events.momenta, ["azimuth"], lambda _: np.random.default_rng(1).random(len(events)))
    a = system_features(events.momenta, events.masses, events.process, signed)
    b = system_features(rotated, events.masses, events.process, signed)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-9, err_msg=k)
    flipped = events.momenta * np.array([1.0, 1.0, -1.0])
    c = system_features(flipped, events.masses, events.process, signed)
    for k in ("m_system", "pt_t", "pt_system"):
        np.testing.assert_allclose(a[k], c[k], rtol=1e-9, atol=1e-9)
    for k in ("dy_primaries", "y_system"):
        np.testing.assert_allclose(a[k], -c[k] if signed else c[k], rtol=1e-9, atol=1e-9)


def test_features_match_their_definitions(samples):
    events = samples[0][:500]
    f = system_features(events.momenta, events.masses, events.process, signed=True)
    np.testing.assert_allclose(f["m_system"], mtt(events), rtol=1e-9)
    p4 = events.to_four_momenta()
    t = p4[:, list(events.process.resonance("t").members)].sum(1)
    np.testing.assert_allclose(f["pt_t"], np.hypot(t[:, 1], t[:, 2]), rtol=1e-12)
    assert np.all(f["pt_system"] < 1e-3)  # balanced parton-level events


def test_refinement_restores_a_depleted_tail(samples):
    """A "generator" with only 60 % of the tail above 600 GeV, refined on an independent training sample,
    gets the tail back within the statistical errors; unrefined it is many σ off."""
    training, pool = samples
    generated = distorted(pool, keep=0.6)
    refiner = Refiner.fit(training, generated, strength=30.0)
    kept = emitted(refiner, generated, np.random.default_rng(3))
    f_train, e_train = fraction_above(training)
    f_gen, e_gen = fraction_above(generated)
    f_ref, e_ref = fraction_above(kept)
    assert (f_train - f_gen) / np.hypot(e_train, e_gen) > 5
    assert abs(f_ref - f_train) < 3 * np.hypot(e_train, e_ref)
    assert 0.3 < len(kept) / len(generated) < 1
    # the expected yield is what rejection keeps (Poisson-like: below the bound a kept event is a Bernoulli draw)
    assert abs(len(kept) / len(generated) - refiner.acceptance) < 5 * np.sqrt(refiner.acceptance / len(generated))


def test_refinement_of_a_right_sample_changes_little(samples):
    training, generated = samples
    refiner = Refiner.fit(training, generated)
    w = np.exp(refiner.log_weights(generated))
    assert abs(w.mean() - 1) < 1e-9  # normalised on the generated events
    assert refiner.acceptance > 0.6
    assert np.std(w) < 0.2


def test_the_bound_is_a_quantile_of_the_fitted_weights(samples):
    """The bound is the weights' `BOUND_QUANTILE` quantile on the generated events fitted on; quantile 1 is
    their largest, which no event exceeds."""
    training, pool = samples
    generated = distorted(pool, keep=0.5)
    refiner = Refiner.fit(training, generated)
    above = np.mean(refiner.log_weights(generated) > refiner.log_bound)
    assert abs(above - (1 - BOUND_QUANTILE)) <= 2 / len(generated)
    largest = Refiner.fit(training, generated, bound_quantile=1.0)
    np.testing.assert_allclose(largest.log_bound, refiner.log_weights(generated).max(), atol=1e-12)
    assert largest.acceptance < refiner.acceptance


def test_copies_above_the_bound_keep_the_weights_whole(samples):
    """With a bound at the median weight, half the events are emitted more than w/w_bound ≥ 1 times: each
    event's mean count is w/w_bound, exactly, and the emitted tail is the training sample's. Capped at one
    copy, as rejection with too low a bound would, the tail comes out low."""
    training, pool = samples
    generated = distorted(pool, keep=0.6)
    refiner = Refiner.fit(training, generated, strength=30.0, bound_quantile=0.5)
    ratio = np.exp(refiner.log_weights(generated) - refiner.log_bound)
    rng = np.random.default_rng(7)
    counts = np.stack([refiner.copies(generated, rng) for _ in range(40)])
    assert counts.max() >= 2 and np.all(counts >= np.floor(ratio)) and np.all(counts <= np.floor(ratio) + 1)
    # the mean count of each event class is its ratio, within the binomial error of 40 × N draws
    high = ratio > 1
    for group in (high, ~high):
        err = np.sqrt((ratio[group] % 1 * (1 - ratio[group] % 1)).sum() * 40) + 1e-9
        assert abs(counts[:, group].sum() - 40 * ratio[group].sum()) < 5 * err
    kept = emitted(refiner, generated, np.random.default_rng(8))
    f_train, e_train = fraction_above(training)
    f_ref, e_ref = fraction_above(kept)
    assert abs(f_ref - f_train) < 3 * np.hypot(e_train, e_ref)
    capped = generated[refiner.copies(generated, np.random.default_rng(8)) > 0]
    f_cap, e_cap = fraction_above(capped)
    assert (f_train - f_cap) / np.hypot(e_train, e_cap) > 3


def test_refinement_follows_signed_weights(samples):
    """Training events whose tail carries weight 2, then +1/−1 pairs: the refined tail follows Σw."""
    training, pool = samples
    above = mtt(training) > CUT
    w = np.where(above, 2.0, 1.0)
    doubled = Events(training.momenta, training.pdg, w, training.process, {})
    refiner = Refiner.fit(doubled, pool, strength=30.0)
    kept = emitted(refiner, pool, np.random.default_rng(4))
    f_target, e_target = fraction_above(doubled)
    f_kept, e_kept = fraction_above(kept)
    assert abs(f_kept - f_target) < 3 * np.hypot(e_target, e_kept)
    # the same target written with negative weights: each tail event three times, one of them at −1
    extra = training[above]
    signed = Events.concatenate([Events(training.momenta, training.pdg, np.ones(len(training)), training.process, {}),
                                 Events(extra.momenta, extra.pdg, np.full(len(extra), 2.0), training.process, {}),
                                 Events(extra.momenta, extra.pdg, np.full(len(extra), -1.0), training.process, {})])
    again = Refiner.fit(signed, pool, strength=30.0)
    np.testing.assert_allclose(again.log_weights(pool), refiner.log_weights(pool), atol=0.02)


def test_dict_round_trip(samples):
    refiner = Refiner.fit(*samples)
    back = Refiner.from_dict(refiner.to_dict())
    np.testing.assert_array_equal(back.log_weights(samples[1]), refiner.log_weights(samples[1]))
    assert back.acceptance == refiner.acceptance and back.names == refiner.names


def test_recoil_adds_the_system_pt(samples):
    training, generated = samples
    assert "pt_system" not in Refiner.fit(training, generated).names
    assert "pt_system" in Refiner.fit(training, generated, recoil=True).names


def test_refinement_keeps_the_channel_fractions(all_channels):
    """A generator whose leptonic events are too hard: the tilt softens every channel's tops, and rejection
    keeps each channel at the same rate, so the channel mix stays the sample's."""
    training = all_channels
    hard = np.isin(training.channel_index(), [k for k, c in enumerate(training.process.channels) if c.name != "allhad"])
    generated = Events(np.where(hard[:, None, None], 1.3, 1.0) * training.momenta, training.pdg, None, training.process)
    refiner = Refiner.fit(training, generated, strength=30.0)
    assert len(refiner.channel_log_norms) == len(training.channel_counts())
    rng = np.random.default_rng(6)
    draws = [emitted(refiner, generated, rng) for _ in range(20)]
    kept = Events.concatenate(draws)
    for name, f in generated.channel_fractions().items():
        n = len(kept)
        assert abs(kept.channel_fractions()[name] - f) < 4 * np.sqrt(f * (1 - f) / n) + 1e-12, name
    # without the per-channel normalisation the harder channels would be rejected more often
    plain = dataclasses.replace(refiner, channel_log_norms={})
    lost = Events.concatenate([emitted(plain, generated, rng) for _ in range(20)])
    allhad = generated.channel_fractions()["allhad"]
    assert (lost.channel_fractions()["allhad"] - allhad) > 10 * np.sqrt(allhad * (1 - allhad) / len(lost))
    assert Refiner.from_dict(refiner.to_dict()).channel_log_norms == refiner.channel_log_norms


def rank_product(events: Events, reference: Events) -> np.ndarray:
    """4 (u_pT − ½)(u_y − ½) (N,) in [−1, 1] of events' top pT and |y(t)|, u each one's CDF in ``reference``:
    a correlation of the two with flat marginals."""
    from lhcgan.system import refine_features

    ref = refine_features(reference.momenta, reference.masses, reference.process)
    f = refine_features(events.momenta, events.masses, events.process)
    u = [np.searchsorted(np.sort(ref[k]), f[k]) / len(ref[k]) for k in ("pt_t", "y_t")]
    return 4 * (u[0] - 0.5) * (u[1] - 0.5)


def test_a_joint_term_corrects_a_correlation_single_terms_cannot(samples):
    """A "generator" that keeps an event with probability 0.6 + 0.4 z, z the product of the top's pT and
    |y| ranks: both marginals stay the truth's, their correlation is many σ off. Single terms leave it so;
    the joint term on (pT(t), y(t)) brings it back within the statistical error."""
    training, pool = samples
    z = rank_product(pool, pool)
    generated = pool[np.random.default_rng(5).random(len(pool)) < 0.6 + 0.4 * z]

    def correlation(events: Events) -> tuple[float, float]:
        r = rank_product(events, pool)
        return r.mean(), r.std() / np.sqrt(len(r))

    c_train, e_train = correlation(training)
    c_gen, e_gen = correlation(generated)
    assert (c_gen - c_train) / np.hypot(e_train, e_gen) > 8
    rng = np.random.default_rng(9)
    single = Refiner.fit(training, generated, extra=("y_t",))
    c_single, e_single = correlation(emitted(single, generated, rng))
    assert (c_single - c_train) / np.hypot(e_train, e_single) > 5
    joint = Refiner.fit(training, generated, extra=("y_t",), pairs=(("pt_t", "y_t"),))
    assert joint.pairs == (("pt_t", "y_t"),) and joint.pair_values.shape == (1, len(joint.knots[0]), len(joint.knots[0]))
    c_joint, e_joint = correlation(emitted(joint, generated, rng))
    assert abs(c_joint - c_train) < 3 * np.hypot(e_train, e_joint)


def test_joint_terms_round_trip_and_older_files_have_none(samples):
    training, generated = samples
    joint = Refiner.fit(training, generated, pairs=(("pt_t", "y_t"),))
    assert "y_t" in joint.names  # a pair's feature joins the features
    back = Refiner.from_dict(joint.to_dict())
    np.testing.assert_array_equal(back.log_weights(generated), joint.log_weights(generated))
    assert back.pairs == joint.pairs
    older = {k: v for k, v in Refiner.fit(training, generated).to_dict().items() if k not in ("pairs", "pair_values")}
    assert Refiner.from_dict(older).pairs == ()
    with pytest.raises(lhcgan.errors.ConfigError, match="refine_pairs"):
        Refiner.fit(training, generated, pairs=(("pt_t", "rapidity"),))


def test_at_its_optimum_the_tilt_gives_the_training_moments(samples):
    """Without smoothing the maximum-entropy tilt is exact on its own basis: the reweighted generated
    events' mean of every knot's hat function is the training events'. A fit stopped short of its
    optimum (an iteration limit) misses it. (A joint grid's corner cells may hold no generated event,
    where no finite tilt matches; its single features are checked.)"""
    from lhcgan.refine import _locate
    from lhcgan.system import refine_features

    training, generated = samples
    refiner = Refiner.fit(training, generated, strength=1e-6, extra=("y_t",), pairs=(("pt_t", "y_t"),))
    w = np.exp(refiner.log_weights(generated))

    def hats(events: Events, k: int) -> np.ndarray:
        f = refine_features(events.momenta, events.masses, events.process)[refiner.names[k]]
        i, t = _locate(f, refiner.knots[k])
        h = np.zeros((len(events), refiner.knots.shape[1]))
        np.add.at(h, (np.arange(len(events)), i), 1 - t)
        np.add.at(h, (np.arange(len(events)), i + 1), t)
        return h

    for k, name in enumerate(refiner.names):
        # 1e-5: a tenth of one training event's share; the ridge moves a knot by less
        np.testing.assert_allclose((w[:, None] * hats(generated, k)).mean(0), hats(training, k).mean(0),
                                   atol=1e-5, err_msg=name)
