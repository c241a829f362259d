import numpy as np
import pytest
import torch

from lhcgan.preprocessing import LOGISTIC, QuantileMap, Standardizer


def sample(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal([[10, -5, 300]] * 6, [[40, 60, 800]] * 6, size=(n, 6, 3))


def test_standardised_coordinates():
    p = sample()
    pre = Standardizer.fit(p)
    x = pre.forward(p)
    assert x.shape == (2000, 18)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=0), 1, rtol=1e-12)


def test_inverse_float64_numpy_and_torch():
    p = sample()
    pre = Standardizer.fit(p)
    np.testing.assert_allclose(pre.inverse(pre.forward(p)), p, rtol=1e-13, atol=1e-10)
    t = torch.tensor(p)
    back = pre.inverse(pre.forward(t))
    assert back.dtype == torch.float64
    np.testing.assert_allclose(back.numpy(), p, rtol=1e-13, atol=1e-10)
    np.testing.assert_allclose(pre.forward(t).numpy(), pre.forward(p), rtol=1e-13)


def test_state_round_trip():
    pre = Standardizer.fit(sample())
    other = Standardizer.from_state_dict(pre.state_dict())
    p = sample(10, 1)
    np.testing.assert_array_equal(other.forward(p), pre.forward(p))


def test_decay_parametrisation_inverse_float64(ttbar):
    from lhcgan.preprocessing import DecayParametrisation

    pre = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    x = pre.forward(ttbar.momenta)
    assert x.shape == (len(ttbar), 18)
    # unit logistic marginals: centred, unit variance, median 0 (conjugate masses share a map: pooled)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=0.03)
    np.testing.assert_allclose(x.std(axis=0), 1, atol=0.03)
    own = [j for j in range(18) if j not in sum(pre.tied_columns(), [])]
    np.testing.assert_allclose(np.median(x[:, own], axis=0), 0, atol=5e-3)
    for group in pre.tied_columns():
        assert abs(np.median(x[:, group])) < 5e-3
    back = pre.inverse(x)
    np.testing.assert_allclose(back, ttbar.momenta, rtol=1e-9, atol=1e-8)
    # torch gives the same numbers, and gradients flow back to the coordinates
    xt = torch.tensor(x, requires_grad=True)
    bt = pre.inverse(xt)
    np.testing.assert_allclose(bt.detach().numpy(), back, rtol=1e-12, atol=1e-10)
    bt.sum().backward()
    assert torch.isfinite(xt.grad).all()
    state = DecayParametrisation.from_state_dict(pre.state_dict(), ttbar.process)
    np.testing.assert_array_equal(state.forward(ttbar.momenta), x)


def test_decay_parametrisation_is_on_shell_and_balanced_for_any_input(ttbar):
    from lhcgan import physics
    from lhcgan.preprocessing import DecayParametrisation

    pre = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    raw = pre.to_raw(ttbar.momenta)
    masses = ttbar.resonance_masses()
    # the mass coordinates are the resonance masses: t, W+ for the first cascade
    top = ttbar.process.resonance("t")  # the pole the sample was made with (Pythia's 173.0)
    np.testing.assert_allclose(top.mass + top.width / 2 * np.sinh(raw[:, 3]), masses[:, 2], rtol=1e-12)
    w = ttbar.process.resonance("W+")
    np.testing.assert_allclose(w.mass + w.width / 2 * np.sinh(raw[:, 4]), masses[:, 0], rtol=1e-12)
    z = np.random.default_rng(0).normal(0, 2, size=(20000, 18))  # far outside the training region
    p = pre.inverse(z, conserve_pt=True)
    assert np.isfinite(p).all()
    assert physics.pt_balance(p).max() < 1e-13
    m = ttbar.process.masses  # all-hadronic: one set for every event
    m_wp = physics.invariant_mass(p, m, [1, 2])
    m_t = physics.invariant_mass(p, m, [0, 1, 2])
    energy = physics.to_four_momenta(p[:, :3], m[:3])[..., 0].sum(axis=1)
    physical = energy < 6500  # beyond, η reaches 15 and float64 rounding grows like γ²
    assert physical.mean() > 0.5
    assert (m_t[physical] > m_wp[physical] + 4.7 - 1e-6).all()  # above threshold by construction


def test_quantile_map_gives_logistic_marginals_and_inverts():
    rng = np.random.default_rng(3)
    x = np.stack([rng.exponential(2.0, 50_000), rng.normal(80.4, 1.0, 50_000), rng.uniform(-np.pi, np.pi, 50_000)], -1)
    qm = QuantileMap.fit(x, n_knots=512)
    y = qm.forward(x)
    # the quartiles of a unit logistic are ±ln 3 · √3/π
    for col in y.T:
        np.testing.assert_allclose(np.quantile(col, [0.25, 0.5, 0.75]), [-np.log(3) * LOGISTIC, 0, np.log(3) * LOGISTIC],
                                   atol=0.01)
    np.testing.assert_allclose(qm.inverse(y), x, rtol=1e-10, atol=1e-10)
    yt = torch.tensor(y, requires_grad=True)
    back = qm.inverse(yt)
    np.testing.assert_allclose(back.detach().numpy(), x, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(qm.forward(torch.tensor(x)).numpy(), y, rtol=1e-10, atol=1e-12)
    back.sum().backward()
    assert (yt.grad > 0).all()  # monotone increasing in every coordinate
    # far outside the training range values clamp to the outermost knots
    far = qm.inverse(np.full((1, 3), 50.0))
    np.testing.assert_allclose(far[0], x.max(axis=0), rtol=1e-8)
    again = QuantileMap.from_state_dict(qm.state_dict())
    np.testing.assert_array_equal(again.forward(x[:10]), y[:10])


def test_weighted_quantile_map_follows_signed_weights():
    rng = np.random.default_rng(4)
    base = rng.normal(0.0, 1.0, 40_000)
    excess = rng.normal(2.0, 0.5, 10_000)  # added, then taken back by negative copies of itself
    x = np.concatenate([base, excess, excess])[:, None]
    w = np.concatenate([np.ones(40_000), np.ones(10_000), -np.ones(10_000)])
    signed, unsigned = QuantileMap.fit(x, n_knots=256, weights=w), QuantileMap.fit(x, n_knots=256)
    for qm, target in ((signed, base), (unsigned, x[:, 0])):
        y = qm.forward(target[:, None])[:, 0]  # the target's own quantiles map onto a unit logistic
        np.testing.assert_allclose(np.quantile(y, [0.25, 0.5, 0.75]), [-np.log(3) * LOGISTIC, 0, np.log(3) * LOGISTIC],
                                   atol=0.02)
    assert abs(np.median(signed.forward(x[:, :1])) - np.median(unsigned.forward(x[:, :1]))) > 0.1
    np.testing.assert_allclose(signed.inverse(signed.forward(x)), x, rtol=1e-10, atol=1e-10)


def test_decay_angles_are_helicity_angles(ttbar):
    from lhcgan.preprocessing import DecayParametrisation

    raw = DecayParametrisation(ttbar.process).to_raw(ttbar.momenta)
    cos_u, cos_d = np.cos(raw[:, 7]), np.cos(raw[:, 16])
    # W from top decay: F_L ≈ 0.3, F_R ≈ 0; the partner of the charged-lepton-like antiquark (u in W+) goes
    # forward, <cos θ*> = +(F_L − F_R)/2 ≈ 0.15; the d in W− (lepton-like) backward by CP
    assert 0.11 < cos_u.mean() < 0.19
    assert -0.19 < cos_d.mean() < -0.11
    # the W's direction in the unpolarised top's rest frame is isotropic
    assert abs(np.cos(raw[:, 5]).mean()) < 0.05


def test_realised_coordinates_equal_the_round_trip_through_momenta(ttbar):
    from lhcgan.preprocessing import DecayParametrisation

    pre = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    # beyond the map's range (±6.3) on purpose: clamped there like the round trip
    x = torch.randn(5000, 18, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2.5
    assert (x.abs() > pre.marginals.bounds[1]).any()
    for conserve in (False, True):
        round_trip = pre.forward(pre.inverse(x, conserve_pt=conserve))
        realised = pre.realised(x, conserve_pt=conserve)
        diff = (realised - round_trip).abs().numpy()
        # the round trip itself loses digits where a decay axis is nearly degenerate (θ* ≈ 0 or π leaves φ*
        # ill-defined): all but a handful of coordinates agree to 1e-6
        assert np.quantile(diff, 0.999) < 1e-6 and diff.max() < 1e-3
        np.testing.assert_allclose(pre.realised(x.numpy(), conserve), realised.numpy(), atol=1e-9)
    # with pT conservation the t̄'s own pT and φ coordinates are replaced by its recoil's
    moved = (pre.realised(x, True) - pre.realised(x, False)).abs().amax(0)
    assert (moved[[9, 11]] > 0.1).all() and (moved[[j for j in range(18) if j not in (9, 11)]] == 0).all()


def test_quantile_map_arithmetic_lookup_matches_binary_search():
    from lhcgan.preprocessing import _interp

    rng = np.random.default_rng(5)
    qm = QuantileMap.fit(rng.standard_cauchy((20_000, 4)), n_knots=300)
    assert qm._even is not None  # fit spaces the levels evenly in logit
    y = torch.tensor(rng.normal(0, 3, (5000, 4)))
    u = 1 / (1 + torch.exp(-y / LOGISTIC))
    knots, levels = qm._constants(y)
    np.testing.assert_allclose(qm.inverse(y).numpy(), _interp(u, levels, knots).numpy(), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(qm.inverse(y).numpy(), qm.inverse(y.numpy()), rtol=1e-11, atol=1e-11)
    # a subset of columns uses those columns' knots
    np.testing.assert_array_equal(qm.inverse(y[:, [3, 1]], [3, 1]).numpy(), qm.inverse(y).numpy()[:, [3, 1]])
    # levels not evenly spaced fall back to the binary search
    uneven = QuantileMap(qm.levels ** 1.01, qm.knots)
    assert uneven._even is None
    np.testing.assert_allclose(uneven.inverse(y).numpy(), uneven.inverse(y.numpy()), rtol=1e-11, atol=1e-11)


def test_conjugate_cascades_share_their_mass_maps(ttbar):
    """t and t̄ (W⁺ and W⁻) have one line shape: their mass coordinates get one map, fitted on both."""
    from lhcgan.preprocessing import DecayParametrisation

    pre = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    k = pre.per_cascade
    assert pre.tied_columns() == [[3, k + 3], [4, k + 4]]
    knots = pre.marginals.knots
    np.testing.assert_array_equal(knots[3], knots[k + 3])
    np.testing.assert_array_equal(knots[4], knots[k + 4])
    assert not np.array_equal(knots[0], knots[k])  # production coordinates stay separate
    raw = pre.to_raw(ttbar.momenta)
    pooled = np.concatenate([raw[:, 3], raw[:, k + 3]])
    np.testing.assert_allclose(np.median(pre.marginals.forward(raw)[:, [3, k + 3]]), 0, atol=0.02)
    assert knots[3, 0] == pooled.min() and knots[3, -1] == pytest.approx(pooled.max(), rel=1e-8)
    np.testing.assert_allclose(pre.inverse(pre.forward(ttbar.momenta)), ttbar.momenta, rtol=1e-9, atol=1e-8)


def test_the_decay_parametrisation_refuses_a_process_it_cannot_cover():
    from dataclasses import replace

    from lhcgan.errors import ConfigError
    from lhcgan.preprocessing import DecayParametrisation
    from lhcgan.process import TTBAR

    # a t̄ that decays into three slots directly, without its W
    flat = replace(TTBAR, resonances=tuple(r for r in TTBAR.resonances if r.name != "W-"),
                   slots=tuple(replace(s, parent="tbar") if s.parent == "W-" else s for s in TTBAR.slots))
    with pytest.raises(ConfigError, match="tbar does not"):
        DecayParametrisation(flat)


def test_a_smoothed_quantile_map_inverts_its_sample_and_keeps_the_other_columns():
    rng = np.random.default_rng(8)
    x = np.stack([rng.normal(4.5, 0.7, 30_000), rng.uniform(0.0, np.pi, 30_000)], -1)
    plain, smooth = QuantileMap.fit(x, n_knots=512), QuantileMap.fit(x, n_knots=512, smooth=[0])
    np.testing.assert_array_equal(smooth.knots[1], plain.knots[1])  # a bounded angle keeps its empirical map
    assert not np.allclose(smooth.knots[0, 1:-1], plain.knots[0, 1:-1], rtol=0, atol=1e-3)
    np.testing.assert_allclose(smooth.inverse(smooth.forward(x)), x, rtol=1e-10, atol=1e-10)  # the whole range
    y = smooth.forward(x)[:, 0]  # near logistic: the sample deviates from its smoothed self by its noise
    np.testing.assert_allclose(np.quantile(y, [0.25, 0.5, 0.75]), [-np.log(3) * LOGISTIC, 0, np.log(3) * LOGISTIC],
                               atol=0.03)


def test_a_smooth_fit_smooths_the_primaries_pt_and_eta(ttbar):
    from lhcgan.preprocessing import DecayParametrisation

    plain = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    smooth = DecayParametrisation.fit(ttbar.momenta, ttbar.process, smooth=True)
    columns = smooth.smoothed_columns()
    assert columns == [0, 1, 9, 10]  # log pT and η of t and of t̄
    others = [c for c in range(18) if c not in columns]
    np.testing.assert_array_equal(smooth.marginals.knots[others], plain.marginals.knots[others])
    assert not np.array_equal(smooth.marginals.knots[columns], plain.marginals.knots[columns])
    x = smooth.forward(ttbar.momenta)
    np.testing.assert_allclose(smooth.inverse(x), ttbar.momenta, rtol=1e-9, atol=1e-8)
