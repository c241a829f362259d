import errno
import json

import awkward as ak
import numpy as np
import pytest
import uproot
import vector

import lhcgan
from lhcgan.errors import OutputError
from lhcgan.writing.root import METADATA, write_root
from tests.shared import float32_mass_tolerance


def test_round_trip(ttbar, tmp_path):
    path = tmp_path / "ev.root"
    assert write_root(ttbar, path, metadata={"seed": 42}) == len(ttbar)
    again = lhcgan.read(path)
    np.testing.assert_array_equal(again.pdg, ttbar.pdg)
    np.testing.assert_allclose(again.momenta, ttbar.momenta, rtol=1e-6, atol=1e-4)  # float32 storage
    np.testing.assert_allclose(again.resonance_masses(), ttbar.resonance_masses(), rtol=1e-5)
    meta = json.loads(str(uproot.open(path)[METADATA]))
    assert meta["seed"] == 42 and meta["n_events"] == len(ttbar)
    assert meta["lhcgan_version"] == lhcgan.__version__ and meta["process"]["name"] == "ttbar:allhad"
    assert meta["masses"] == {"t": 173.0, "W": 80.385} == again.process.pole_masses()  # Pythia's, carried along
    assert meta["source"] == str(ttbar.meta["source"]) and meta["ecm"] == 13000
    assert sum(meta["flavour_fractions"].values()) == pytest.approx(1)
    # read → write → read is stable
    path2 = tmp_path / "ev2.root"
    write_root(again, path2)
    np.testing.assert_array_equal(lhcgan.read(path2).momenta, again.momenta)


def test_plain_uproot_and_vector_reconstruct_the_top(ttbar, tmp_path):
    path = tmp_path / "ev.root"
    write_root(ttbar, path)
    tree = uproot.open(path)["Events"]
    assert tree.num_entries == len(ttbar)
    a = tree.arrays()
    assert ak.all(a.nLHEPart == 6) and ak.all(a.genWeight == 1.0) and ak.all(a.LHEPart_status == 1)
    np.testing.assert_array_equal(a.event, np.arange(1, len(ttbar) + 1))  # NanoAOD event IDs
    assert ak.all(a.run == 1) and ak.all(a.luminosityBlock == 1)
    p = vector.zip({"pt": a.LHEPart_pt, "eta": a.LHEPart_eta, "phi": a.LHEPart_phi, "mass": a.LHEPart_mass})
    m_top = ak.to_numpy((p[:, 0] + p[:, 1] + p[:, 2]).mass)
    assert m_top.dtype == np.float32  # what a user gets: vector computes in the branches' float32
    exact = ttbar.resonance_masses()[:, 2]
    # the error float32 allows grows as E²/m with the top's boost, event by event
    allowed = float32_mass_tolerance(ttbar.to_four_momenta()[:, :3], ak.to_numpy(a.LHEPart_eta[:, :3]))
    assert np.all(np.abs(m_top - exact) <= allowed)
    # and the bound is no blanket: most tops are slow, where float32 gives the mass to ~1e-5
    assert np.median(allowed / exact) < 3e-5


def test_streamed_chunks_equal_one_shot(ttbar, tmp_path):
    one, many = tmp_path / "one.root", tmp_path / "many.root"
    write_root(ttbar, one)
    n = write_root((ttbar[i : i + 700] for i in range(0, len(ttbar), 700)), many, chunk_size=1000)
    assert n == len(ttbar)
    np.testing.assert_array_equal(lhcgan.read(many).momenta, lhcgan.read(one).momenta)


def test_full_disk_leaves_no_file(ttbar, tmp_path, monkeypatch):
    path = tmp_path / "ev.root"
    path.write_bytes(b"previous content")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uproot.writing.writable.WritableTree, "extend", no_space)
    with pytest.raises(OutputError, match="No space left on device.*free disk space"):
        write_root(ttbar, path)
    assert path.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["ev.root"]


def test_bad_suffix_and_missing_directory(ttbar, tmp_path):
    with pytest.raises(OutputError, match="unknown output format"):
        lhcgan.write(ttbar, tmp_path / "ev.csv")
    with pytest.raises(OutputError, match="output directory does not exist"):
        lhcgan.write(ttbar, tmp_path / "nowhere" / "ev.root")
