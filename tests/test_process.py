import numpy as np

from lhcgan.process import TTBAR, Process


def test_slot_order_and_masses():
    assert [s.name for s in TTBAR.slots] == ["b", "q_Wp", "qbar_Wp", "bbar", "q_Wm", "qbar_Wm"]
    assert np.array_equal(TTBAR.masses, [4.7, 0, 0, 4.7, 0, 0])


def test_resonances_are_consistent_with_slots():
    for r in TTBAR.resonances:
        for i in r.members:
            slot = TTBAR.slots[i]
            # every member descends from the resonance: directly or through a daughter resonance
            chain = {slot.parent}
            parent = TTBAR.resonance(slot.parent).parent
            while parent is not None:
                chain.add(parent)
                parent = TTBAR.resonance(parent).parent
            assert r.name in chain
    assert TTBAR.resonance("W+").width == 2.085 and TTBAR.resonance("t").width == 1.42


def test_charges_of_w_daughters_add_up():
    charge = {1: -1 / 3, 2: 2 / 3, 3: -1 / 3, 4: 2 / 3, 5: -1 / 3}
    for name, total in (("W+", 1), ("W-", -1)):
        members = TTBAR.resonance(name).members
        for combo in np.array(np.meshgrid(*[TTBAR.slots[i].pdg for i in members])).T.reshape(-1, 2):
            q = sum(np.sign(p) * charge[abs(p)] for p in combo)
            assert abs(q - total) < 1e-12


def test_dict_round_trip():
    assert Process.from_dict(TTBAR.to_dict()) == TTBAR
