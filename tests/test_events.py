import numpy as np
import pytest

from lhcgan.errors import NonFiniteError
from lhcgan.events import Events, InvalidEventsError, from_fraction_table, sample_flavours, to_fraction_table

PDG = [5, 2, -1, -5, 3, -4]


def make(n: int = 10, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    return Events(rng.normal(0, 50, (n, 6, 3)), np.tile(PDG, (n, 1)))


def test_validation_of_shapes_and_flavours():
    with pytest.raises(InvalidEventsError, match="shape"):
        Events(np.zeros((3, 5, 3)), np.zeros((3, 5)))
    bad = np.tile(PDG, (4, 1))
    bad[2, 0] = 3  # an s quark in the b slot
    with pytest.raises(InvalidEventsError, match="event 2"):
        Events(np.ones((4, 6, 3)), bad)


def test_nan_is_rejected_with_event_number():
    p = np.ones((5, 6, 3))
    p[3, 1, 2] = np.nan
    with pytest.raises(NonFiniteError, match="event 3"):
        Events(p, np.tile(PDG, (5, 1)))


def test_on_shell_four_momenta():
    ev = make()
    p4 = ev.to_four_momenta()
    m2 = p4[..., 0] ** 2 - (p4[..., 1:] ** 2).sum(-1)
    np.testing.assert_allclose(m2, np.broadcast_to(ev.masses**2, m2.shape), atol=1e-9)
    back = Events.from_four_momenta(p4, ev.pdg)
    np.testing.assert_array_equal(back.momenta, ev.momenta)


def test_slicing_and_concatenation():
    a, b = make(4, 1), make(3, 2)
    c = Events.concatenate([a, b])
    assert len(c) == 7
    np.testing.assert_array_equal(c[4:].momenta, b.momenta)
    assert len(c[np.arange(7) % 2 == 0]) == 4
    assert len(c[2]) == 1


def test_parameters_follow_slicing_and_concatenation():
    a = Events(make(4, 1).momenta, make(4, 1).pdg, parameters={"mt": np.full(4, 170.0)})
    b = Events(make(3, 2).momenta, make(3, 2).pdg, parameters={"mt": np.full(3, 175.0)})
    c = Events.concatenate([a, b])
    np.testing.assert_array_equal(c.parameters["mt"], [170.0] * 4 + [175.0] * 3)
    np.testing.assert_array_equal(c[[0, 5]].parameters["mt"], [170.0, 175.0])
    with pytest.raises(InvalidEventsError, match="different parameters"):
        Events.concatenate([a, make(2)])
    with pytest.raises(InvalidEventsError, match="parameter mt"):
        Events(make(3).momenta, make(3).pdg, parameters={"mt": np.ones(2)})


def test_pooling_samples_of_different_channels(ttbar, all_channels):
    """An all-hadronic sample and one of every channel pool under the channels both hold."""
    pooled = Events.pool([ttbar[:100], all_channels[:300]])
    assert len(pooled) == 400
    assert set(pooled.channel_counts()) == set(all_channels[:300].channel_counts()) | {"allhad"}
    assert pooled.channel_counts()["allhad"] == 100 + all_channels[:300].channel_counts()["allhad"]


def test_flavour_fractions_and_sampling():
    rng = np.random.default_rng(0)
    pdg = np.tile(PDG, (1000, 1))
    pdg[:300, 1] = 4
    ev = Events(np.ones((1000, 6, 3)), pdg)
    fr = ev.flavour_fractions()
    assert sum(fr.values()) == pytest.approx(1)
    assert fr[(5, 4, -1, -5, 3, -4)] == pytest.approx(0.3)
    assert from_fraction_table(to_fraction_table(fr)) == fr
    drawn = sample_flavours(20000, fr, rng)
    assert (drawn[:, 1] == 4).mean() == pytest.approx(0.3, abs=0.015)


def test_flavour_counts_are_those_of_the_rows(all_channels):
    from collections import Counter

    combos, counts = np.unique(all_channels.pdg, axis=0, return_counts=True)
    expect = Counter({tuple(int(i) for i in c): int(n) for c, n in zip(combos, counts)})
    got = all_channels.flavour_counts()
    assert got == expect and len(got) > 20  # every channel's flavours, τ included, negative ids too
    assert sum(got.values()) == len(all_channels)
