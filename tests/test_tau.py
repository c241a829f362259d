"""τ leptons at parton level: a fixed-mass lepton in every W decay mode, through every format and the networks' map."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch
import uproot

import lhcgan
from lhcgan import physics
from lhcgan.cli import main as cli
from lhcgan.preprocessing import DecayParametrisation
from lhcgan.process import TAU_MASS

TAU_CHANNELS = ("taujets", "taudilep")


def shell_masses(events: lhcgan.Events) -> np.ndarray:
    """√(E² − p²) (N, 6) GeV of each slot, from its own four-momentum."""
    p4 = events.to_four_momenta()
    return np.sqrt(np.clip(p4[..., 0] ** 2 - (p4[..., 1:] ** 2).sum(-1), 0, None))


def test_a_full_decay_sample_holds_every_tau_channel(all_channels):
    counts = all_channels.channel_counts()
    assert all(counts[c] > 20 for c in TAU_CHANNELS)
    tau = np.abs(all_channels.pdg) == 15
    # τ only where the down-type fermion sits (ℓ⁺ of the W⁺, ℓ⁻ of the W⁻), ν_τ beside it, at its mass
    assert set(np.nonzero(tau)[1]) == {2, 4}
    np.testing.assert_allclose(shell_masses(all_channels)[tau], TAU_MASS, rtol=1e-6)
    # a τ+jets event is one τ and one hadronic W; with dilepton, τ τ, e τ and μ τ all occur
    ch = np.array([c.name for c in all_channels.process.channels])[all_channels.channel_index()]
    assert (tau[ch == "taujets"].sum(axis=1) == 1).all()
    lep = np.isin(np.abs(all_channels.pdg), (11, 13))
    n_tau, n_lep = tau[ch == "taudilep"].sum(axis=1), lep[ch == "taudilep"].sum(axis=1)
    assert {(int(a), int(b)) for a, b in zip(n_tau, n_lep)} == {(2, 0), (1, 1)}


@pytest.mark.parametrize("suffix", [".root", ".lhe", ".lhe.gz"])
def test_taus_round_trip_through_every_format(all_channels, tmp_path, suffix):
    path = tmp_path / f"ev{suffix}"
    lhcgan.write(all_channels, path)
    again = lhcgan.read(path)
    np.testing.assert_array_equal(again.pdg, all_channels.pdg)
    np.testing.assert_allclose(again.momenta, all_channels.momenta, rtol=2e-6, atol=1e-4)  # float32 in ROOT
    assert again.channel_counts() == all_channels.channel_counts()
    # and back, ROOT ↔ LHE, through the command line
    other = tmp_path / ("back.lhe" if suffix == ".root" else "back.root")
    assert cli(["convert", str(path), str(other)]) == 0
    np.testing.assert_array_equal(lhcgan.read(other).pdg, all_channels.pdg)


def test_written_files_give_the_tau_its_mass(all_channels, tmp_path):
    lhcgan.write(all_channels, tmp_path / "ev.root")
    a = uproot.open(tmp_path / "ev.root")["Events"].arrays(["LHEPart_pdgId", "LHEPart_mass"])
    pdg, mass = ak.to_numpy(a.LHEPart_pdgId), ak.to_numpy(a.LHEPart_mass)
    assert (mass[np.abs(pdg) == 15] == np.float32(TAU_MASS)).all()
    assert (mass[np.isin(np.abs(pdg), (11, 12, 13, 14, 16))] == 0).all()
    # LHE: the mass column is the τ mass, and √(E² − p²) of the line's own momentum
    lhcgan.write(all_channels, tmp_path / "ev.lhe")
    rows = [ln.split() for ln in (tmp_path / "ev.lhe").read_text().splitlines()]
    taus = np.array([[float(x) for x in r[6:11]] for r in rows if len(r) == 13 and r[0] in ("15", "-15")])
    assert len(taus) == (np.abs(all_channels.pdg) == 15).sum()
    np.testing.assert_allclose(taus[:, 4], TAU_MASS, rtol=1e-11)
    rebuilt = np.sqrt(taus[:, 3] ** 2 - (taus[:, :3] ** 2).sum(axis=1))
    # 13 digits of E ~ 100 GeV: √(E² − p²) of a 1.8 GeV mass is good to ~E² 1e-13 / m
    np.testing.assert_allclose(rebuilt, TAU_MASS, atol=1e-6)


@pytest.mark.parametrize("channel", ["ljets", "dilep", *TAU_CHANNELS])
def test_the_decay_parametrisation_inverts_for_every_tau_mode(all_channels, channel):
    events = all_channels.channel(channel)
    param = DecayParametrisation.fit(events.momenta, events.process, masses=events.masses)
    x = param.forward(events.momenta, masses=events.masses)
    np.testing.assert_allclose(param.inverse(x, masses=events.masses), events.momenta, rtol=1e-9, atol=1e-8)
    # the same map in torch, with the masses a condition gives (as the networks' bridge computes them)
    base, delta = events.process.condition_masses()
    masses = torch.as_tensor(base) + torch.as_tensor(events.process.condition(events.pdg)).double() @ torch.as_tensor(delta)
    back = param.inverse(torch.as_tensor(x), masses=masses)
    np.testing.assert_allclose(back.numpy(), events.momenta, rtol=1e-9, atol=1e-8)
    # any coordinates give events on every mass shell, the τ on its own: its mass is no coordinate
    z = np.random.default_rng(0).normal(0, 1, size=x.shape)
    made = lhcgan.Events(param.inverse(z, conserve_pt=True, masses=events.masses), events.pdg, process=events.process)
    m = shell_masses(made)
    tau = np.abs(made.pdg) == 15
    np.testing.assert_allclose(m[tau], TAU_MASS, rtol=1e-5)
    # the W's daughters are built in its rest frame with their true masses: the W mass the coordinates ask
    # for is the one its τ ν (or q q̄′) make, and so is the top's
    raw = param.marginals.inverse(z)
    for k, name in ((4, "W+"), (13, "W-"), (3, "t"), (12, "tbar")):
        r = events.process.resonance(name)
        asked = r.mass + r.width / 2 * np.sinh(raw[:, k])
        got = made.resonance_masses()[:, events.process.resonances.index(r)]
        inside = asked > 1.5 * r.mass / 2  # far below the peak the threshold clip decides
        np.testing.assert_allclose(got[inside], asked[inside], rtol=1e-9)


def test_a_massless_tau_would_be_another_event(all_channels):
    """The τ mass enters the parametrisation: treating τ as massless moves the W's coordinates."""
    events = all_channels.channel("taujets")
    param = DecayParametrisation.fit(events.momenta, events.process, masses=events.masses)
    massless = np.where(np.abs(events.pdg) == 15, 0.0, events.masses)
    a = param.to_raw(events.momenta, masses=events.masses)
    b = param.to_raw(events.momenta, masses=massless)
    w_coord = np.where(events.pdg[:, 2] == -15, a[:, 4] - b[:, 4], a[:, 13] - b[:, 13])
    assert (np.abs(w_coord) > 1e-4).all()


def test_one_set_of_masses_is_refused_where_channels_differ(all_channels):
    from lhcgan.process import MassError

    with pytest.raises(MassError, match="differ between its channels"):
        DecayParametrisation.fit(all_channels.momenta, all_channels.process)
    with pytest.raises(MassError):
        physics.resonance_masses(all_channels.momenta, all_channels.process)
