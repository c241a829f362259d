import numpy as np
import pytest

from lhcgan.process import B_MASS, CHANNELS, TAU_MASS, TTBAR, TTBAR_ALLHAD, MassError, Process

CHARGE = {1: -1 / 3, 2: 2 / 3, 3: -1 / 3, 4: 2 / 3, 5: -1 / 3, 11: -1, 12: 0, 13: -1, 14: 0, 15: -1, 16: 0}
LEPTON_NUMBER = {11: 1, 12: 1, 13: 1, 14: 1, 15: 1, 16: 1}
#: the PDG mass of each flavour at parton level: a τ has its own, e, μ, ν and light quarks none
MASS = {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0, 5: B_MASS, 11: 0.0, 12: 0.0, 13: 0.0, 14: 0.0, 15: TAU_MASS, 16: 0.0}
PROCESSES = [TTBAR, TTBAR_ALLHAD, *[TTBAR.restrict([c]) for c in CHANNELS], TTBAR.restrict(["allhad", "dilep"])]


def charge(pdg: int) -> float:
    return float(np.sign(pdg)) * CHARGE[abs(pdg)]


def test_slot_order_and_masses():
    assert [s.name for s in TTBAR.slots] == ["b", "q_Wp", "qbar_Wp", "bbar", "q_Wm", "qbar_Wm"]
    assert np.array_equal(TTBAR_ALLHAD.masses, [4.7, 0, 0, 4.7, 0, 0])
    assert np.array_equal(TTBAR.restrict(["ljets", "dilep"]).masses, [4.7, 0, 0, 4.7, 0, 0])
    with pytest.raises(MassError, match="differ between its channels"):
        TTBAR.masses  # a τ beside an e: no one set of masses, each event has its own


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_each_slot_mass_follows_its_flavour(process):
    rng = np.random.default_rng(2)
    pdg = np.stack([rng.choice(s.pdg, 4000) for s in process.slots], axis=1)
    pdg = pdg[process.channel_of(pdg) >= 0]
    expect = np.vectorize(lambda i: MASS[abs(i)])(pdg)
    np.testing.assert_array_equal(process.masses_of(pdg), expect)
    # the same masses as the linear function of the condition the networks see
    base, delta = process.condition_masses()
    np.testing.assert_allclose(base + process.condition(pdg) @ delta, expect, atol=1e-12)
    assert process.fixed_masses == (len(np.unique(expect, axis=0)) == 1)


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_resonances_are_consistent_with_slots(process):
    for r in process.resonances:
        for i in r.members:
            slot = process.slots[i]
            # every member descends from the resonance: directly or through a daughter resonance
            chain = {slot.parent}
            parent = process.resonance(slot.parent).parent
            while parent is not None:
                chain.add(parent)
                parent = process.resonance(parent).parent
            assert r.name in chain
    assert process.resonance("W+").width == 2.085 and process.resonance("t").width == 1.42


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_every_mode_conserves_charge_and_lepton_number(process):
    for r in process.decaying:
        for mode in r.modes:
            for pair in mode.pairs:
                assert abs(sum(charge(p) for p in pair) - np.sign(r.pdg)) < 1e-12
                assert sum(np.sign(p) * LEPTON_NUMBER.get(abs(p), 0) for p in pair) == 0
                assert mode.coloured == all(abs(p) < 10 for p in pair)


def test_isospin_order_puts_the_charged_lepton_where_the_down_type_quark_sits():
    # W⁺ → (u, d̄) or (ν, ℓ⁺); W⁻ → (d, ū) or (ℓ⁻, ν̄): a slot holds particles of one weak isospin
    for i, slot in enumerate(TTBAR.slots[1:3] + TTBAR.slots[4:6]):
        iso = {np.sign(p) * (1 if abs(p) in (2, 4, 12, 14, 16) else -1) for p in slot.pdg}
        assert len(iso) == 1, slot.name


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_channels_classify_every_allowed_combination(process):
    rng = np.random.default_rng(1)
    pdg = np.stack([rng.choice(s.pdg, 5000) for s in process.slots], axis=1)
    channel = process.channel_of(pdg)
    modes = process.modes_of(pdg)
    def count(mode: str) -> np.ndarray:
        return np.array([[m >= 0 and r.modes[m].name == mode for r, m in zip(process.decaying, row)]
                         for row in modes]).sum(axis=1)

    lep, tau = count("leptonic"), count("tau")
    mixed = (modes < 0).any(axis=1)  # e.g. ν_e with μ⁺, or a quark with a lepton
    names = np.array([c.name for c in process.channels] + ["-"])[channel]
    light = np.array(["allhad", "ljets", "dilep"])[lep]
    expect = np.where(mixed, "-", np.where(tau == 0, light, np.where((tau == 1) & (lep == 0), "taujets", "taudilep")))
    expect[~np.isin(expect, [c.name for c in process.channels])] = "-"
    np.testing.assert_array_equal(names, expect)
    assert (channel >= 0).any()


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_condition_separates_the_channels(process):
    pdg = np.array([[5, 2, -1, -5, 1, -2], [5, 12, -11, -5, 3, -4], [5, 4, -3, -5, 13, -14], [5, 14, -13, -5, 11, -12]])
    keep = process.channel_of(pdg) >= 0
    c = process.condition(pdg[keep])
    assert c.shape == (keep.sum(), process.n_condition)
    assert len({tuple(row) for row in c}) == len({tuple(process.modes_of(pdg[keep])[i]) for i in range(keep.sum())})
    # one 0/1 column for each mode beyond the first that a W takes in some channel
    assert process.n_condition == sum(len(used) - 1 for used in process.used_modes())
    assert process.n_condition == {"ttbar": 4, "ttbar:allhad": 0, "ttbar:ljets": 2, "ttbar:dilep": 0,
                                   "ttbar:taujets": 2, "ttbar:taudilep": 2, "ttbar:allhad+dilep": 2}[process.name]


def test_restrict_narrows_slots_and_remembers_the_rest():
    ljets = TTBAR.restrict(["ljets"])
    assert 12 in ljets.slots[1].pdg and 2 in ljets.slots[1].pdg  # either W may decay leptonically
    assert TTBAR_ALLHAD.slots[1].pdg == (2, 4) and TTBAR_ALLHAD.slots[4].pdg == (1, 3)
    assert [c.name for c in TTBAR_ALLHAD.excluded] == ["ljets", "dilep", "taujets", "taudilep"]
    assert TTBAR_ALLHAD.restrict(list(CHANNELS)) == TTBAR
    with pytest.raises(KeyError, match="no channel 'taus'"):
        TTBAR.restrict(["taus"])


def test_with_masses_moves_particle_and_antiparticle():
    p = TTBAR.with_masses({"t": 173.0, "W": 80.385})
    assert p.resonance("tbar").mass == p.resonance("t").mass == 173.0
    assert p.resonance("W-").mass == 80.385 and p.pole_masses() == {"W": 80.385, "t": 173.0}


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_dict_round_trip(process):
    assert Process.from_dict(process.to_dict()) == process


def test_model_files_before_channels_read_as_all_hadronic():
    old = TTBAR_ALLHAD.to_dict()
    old = {"name": "ttbar_allhadronic", "slots": old["slots"],
           "resonances": [{k: v for k, v in r.items() if k != "modes"} for r in old["resonances"]]}
    assert Process.from_dict(old) == TTBAR_ALLHAD
