import numpy as np
import pytest

import lhcgan
from lhcgan.process import CHANNELS
from lhcgan.simulate import simulate
from lhcgan.validate.metrics import (
    amplification,
    auc,
    chi2_ndf,
    classifier_auc,
    in_peak_fractions,
    observables,
    pt_balance_median,
    wasserstein1,
)
from lhcgan.validate.worth import WorthReference


@pytest.fixture(scope="module")
def two_samples(tmp_path_factory):
    d = tmp_path_factory.mktemp("val")
    simulate(12000, d / "a.root", seed=101)
    simulate(12000, d / "b.root", seed=202)
    return lhcgan.read(d / "a.root"), lhcgan.read(d / "b.root")


def smear(events: lhcgan.Events, fraction: float, seed: int = 0) -> lhcgan.Events:
    rng = np.random.default_rng(seed)
    factor = 1 + fraction * rng.standard_normal(events.momenta.shape[:2])[..., None]
    return lhcgan.Events(events.momenta * factor, events.pdg)


def test_wasserstein_and_chi2_basics():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 50000)
    assert wasserstein1(a, a + 0.3) == pytest.approx(0.3, rel=1e-9)
    assert wasserstein1([0.0, 1.0], [0.0, 3.0]) == pytest.approx(1.0)
    assert chi2_ndf(a, rng.normal(0, 1, 50000)) == pytest.approx(1, abs=0.5)
    assert chi2_ndf(a, rng.normal(0.1, 1, 50000)) > 5


def test_auc_from_ranks():
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 1.0
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1])) == 0.0
    assert auc(np.array([0.5, 0.5, 0.5, 0.5]), np.array([0, 1, 0, 1])) == 0.5


def test_independent_samples_look_perfect(two_samples):
    a, b = two_samples
    fa, fb = in_peak_fractions(a), in_peak_fractions(b)
    for name in fa:
        assert fa[name] / fb[name] == pytest.approx(1, abs=0.05)
    assert classifier_auc(a, b, epochs=10) < 0.53
    oa, ob = observables(a), observables(b)
    for key in ("pt_b", "eta_q_Wp", "phi_bbar", "m_t"):
        assert wasserstein1(oa[key], ob[key]) / np.std(ob[key]) < 0.04
    assert pt_balance_median(a) < 1e-6


def test_the_classifier_judges_events_not_the_pole_their_file_names(two_samples):
    """The same events under another declared top pole are still indistinguishable: the classifier's
    peak features are measured from one pole for both samples."""
    a, b = two_samples
    relabelled = a.with_process(a.process.with_masses({"t": a.process.pole_masses()["t"] - 1.0}))
    assert classifier_auc(relabelled, b, epochs=10) < 0.53


def test_metrics_move_the_right_way_for_3_percent_smearing(two_samples):
    a, b = two_samples
    s = smear(a, 0.03)
    fs, fb = in_peak_fractions(s), in_peak_fractions(b)
    for name in fs:
        assert fs[name] / fb[name] < 0.8  # 3 % on each quark washes out peaks of 1 % width
    assert classifier_auc(s, b, epochs=10) > 0.6
    assert pt_balance_median(s) > 1e-3
    os_, oa, ob = observables(s), observables(a), observables(b)
    assert wasserstein1(os_["m_W+"], ob["m_W+"]) > 3 * wasserstein1(oa["m_W+"], ob["m_W+"])


def test_amplification_is_about_the_sample_size_for_truth(two_samples):
    a, b = two_samples
    oa, ob = observables(a), observables(b)
    small = amplification({k: v[:2000] for k, v in oa.items()}, ob, training_size=1000)
    worth_smeared = amplification(observables(smear(a, 0.03)), ob)["worth"]
    # 2000 truth events are worth roughly 2000 (the 6000-event reference resolves that roughly), smeared ones
    # much less; the ratio to the training size is reported
    assert 1000 < small["worth"] < 4000
    assert small["amplification"] == pytest.approx(small["worth"] / 1000)
    assert worth_smeared < 0.2 * small["worth"]


def test_strong_classifier_features_and_storage_precision(two_samples, tmp_path):
    from lhcgan.validate.metrics import strong_classifier_features

    a, _ = two_samples
    f = strong_classifier_features(a)
    assert f.shape == (len(a), 18 + 15 + 4 * 5) and np.isfinite(f).all()
    # ΔR of the b and the q from W+ is a column; the tt̄ system's mass is that of all six
    np.testing.assert_allclose(f[:, 18], physics_delta_r(a, 0, 1), rtol=1e-5)
    # a balanced event's tt̄ pT is float32 rounding after storage: the features see the stored precision,
    # so events written to ROOT and read back give the same features as the events in memory
    lhcgan.write(a, tmp_path / "a.root")
    np.testing.assert_allclose(strong_classifier_features(lhcgan.read(tmp_path / "a.root")), f, rtol=1e-6, atol=1e-6)


def physics_delta_r(events, i, j):
    from lhcgan import physics

    p = events.momenta
    return physics.delta_r(p[:, i], p[:, j])


def biased(events: lhcgan.Events, seed: int = 0) -> lhcgan.Events:
    """A biased sample of ``events``: kept with probability ∝ m(tt̄)², clipped, carrying weight 1/probability."""
    m = lhcgan.physics.invariant_mass(events.momenta, events.masses)
    keep_p = np.clip((m / 900.0) ** 2, 0.05, 1.0)
    keep = np.random.default_rng(seed).random(len(m)) < keep_p
    return lhcgan.Events(events.momenta[keep], events.pdg[keep], 1 / keep_p[keep])


def test_weighted_wasserstein_equals_duplicated_sample():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=300), rng.normal(0.3, 1.2, size=400)
    k = rng.integers(1, 4, size=300)
    assert wasserstein1(a, b, wa=k.astype(float)) == pytest.approx(wasserstein1(np.repeat(a, k), b), rel=1e-12)
    assert chi2_ndf(a, b, wa=k.astype(float)) != pytest.approx(chi2_ndf(a, b))


def test_validation_of_a_weighted_sample_follows_its_weights(two_samples):
    a, b = two_samples
    w_sample = biased(a)
    assert w_sample.weights.min() < w_sample.weights.max()
    unweighted = lhcgan.Events(w_sample.momenta, w_sample.pdg)
    ow, ot = observables(w_sample), observables(b)
    sigma = np.std(ot["m_ttbar"])
    w1_weighted = wasserstein1(ow["m_ttbar"], ot["m_ttbar"], wa=w_sample.weights) / sigma
    w1_ignored = wasserstein1(ow["m_ttbar"], ot["m_ttbar"]) / sigma
    assert w1_weighted < 0.03 < 0.2 < w1_ignored  # the bias doubles the mean distance from threshold
    fw, fu, ft = in_peak_fractions(w_sample), in_peak_fractions(unweighted), in_peak_fractions(b)
    assert fw.keys() == ft.keys() and all(abs(fw[k] / ft[k] - 1) < 0.05 for k in ft)
    assert fu["t"] != pytest.approx(fw["t"], rel=1e-6)  # the weights do enter
    # worth: weighted, the sample counts as its effective size; its weights ignored, it is worth far less
    n_eff = w_sample.weights.sum() ** 2 / (w_sample.weights**2).sum()
    with_w = amplification(ow, ot, weights=w_sample.weights)["worth"]
    without = amplification(ow, ot)["worth"]
    assert 0.5 * n_eff < with_w and without < 0.4 * with_w


def test_several_channels_are_judged_each_on_its_own(all_channels):
    from lhcgan.validate.metrics import missing_pt, summarise

    a, b = all_channels[:1000], all_channels[1000:]
    s = summarise(a, b, auc_events=1000)
    assert set(s["channels"]) == set(b.channel_counts()) == set(CHANNELS)  # every channel, τ ones included
    assert s["channel_fractions_truth"] == pytest.approx(b.channel_fractions())
    lj = s["channels"]["ljets"]
    assert "met" in lj["w1_over_sigma"] and "met" not in s["channels"]["allhad"]["w1_over_sigma"]
    assert lj["n_truth"] == b.channel_counts()["ljets"]
    # the neutrinos' pT: zero without neutrinos, the one neutrino's pT in ℓ+jets, a vector sum in dilepton
    met = missing_pt(b)
    ch = b.channel_index()
    assert (met[ch == 0] == 0).all()
    nu = np.isin(np.abs(b.pdg[ch == 1]), [12, 14])
    np.testing.assert_allclose(met[ch == 1], lhcgan.physics.pt(b.momenta[ch == 1][nu]))
    assert (met[ch == 2] > 0).all()


def test_samples_described_by_other_channel_sets_compare_on_their_common_observables(ttbar):
    from lhcgan.validate.metrics import summarise

    # the same all-hadronic events, once under the process of every channel (which has a missing pT)
    every = lhcgan.Events(ttbar.momenta, ttbar.pdg)
    assert "met" in observables(every) and "met" not in observables(ttbar)
    s = summarise(every[:1500], ttbar[1500:], auc_events=1000)
    assert "met" not in s["w1_over_sigma"] and s["w1_over_sigma"]["m_ttbar"] < 0.2


def test_the_training_sample_is_worth_exactly_its_size_in_the_fits_own_estimate():
    """`fit` bins on its training events and measures against its held-out ones, with the training events as the
    control of the held-out events' own error: measured so, the training sample itself is worth its size exactly,
    however far its held-out events fall from the truth (here their pT 3 % harder, m_t 0.1 GeV higher)."""
    rng = np.random.default_rng(61)
    training = {"pt_b": rng.gamma(2.0, 50.0, 9000), "m_t": 172.5 + rng.normal(0, 1.3, 9000)}
    heldout = {"pt_b": rng.gamma(2.0, 50.0, 1000) * 1.03, "m_t": 172.6 + rng.normal(0, 1.3, 1000)}
    amp = amplification(training, heldout, binning=training, training_size=10_000)
    assert amp["worth"] == pytest.approx(9000, rel=1e-9)
    plain = WorthReference.from_samples(training, heldout, names=list(training)).measure(training)  # no control
    assert plain["worth"] < 0.5 * 9000  # the held-out events' shift counted as the training sample's error
