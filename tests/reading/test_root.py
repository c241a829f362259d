import awkward as ak
import numpy as np
import pylhe
import pytest
import uproot

import lhcgan
from lhcgan.errors import MalformedFileError, SchemaError, WrongProcessError
from lhcgan.reading.root import LHE_NO_MATCH
from tests.shared import NANOAOD, shared_file, write_ttree


def to_nanoaod(lhe_path, root_path, *, w_copies: bool) -> None:
    """A NanoAOD-style file (GenPart_* with mother indices, LHEPart_*) from an LHE file.

    With ``w_copies`` every W gets a recoil copy that its daughters hang from, as
    in Pythia's event record, so the reader must walk through copies.
    """
    f = pylhe.LHEFile.fromfile(lhe_path, with_attributes=False)
    arr = pylhe.to_awkward(f.events).particles
    pid = arr.id.to_list()
    mother = (arr.mother1 - 1).to_list()
    status = arr.status.to_list()
    px, py, pz = arr.vector.px.to_list(), arr.vector.py.to_list(), arr.vector.pz.to_list()
    if w_copies:
        for i in range(len(pid)):
            for j in [k for k, p in enumerate(pid[i]) if abs(p) == 24]:
                copy = len(pid[i])
                for k in range(copy):
                    if mother[i][k] == j:
                        mother[i][k] = copy
                for col, val in ((pid, pid[i][j]), (mother, j), (status, 2), (px, px[i][j]), (py, py[i][j]), (pz, pz[i][j])):
                    col[i].append(val)
    jag = lambda x, t: ak.values_astype(ak.Array(x), t)  # noqa: E731
    pxa, pya, pza = jag(px, np.float64), jag(py, np.float64), jag(pz, np.float64)
    pt = np.hypot(pxa, pya)
    with np.errstate(divide="ignore"):
        eta = np.arcsinh(pza / pt)
    phi = np.arctan2(pya, pxa)
    gen = {"pt": pt, "eta": eta, "phi": phi, "pdgId": jag(pid, np.int32), "genPartIdxMother": jag(mother, np.int16),
           "status": jag(status, np.int32)}
    out = ak.Array({k: ak.values_astype(v, np.float32) if k in ("pt", "eta", "phi") else v for k, v in gen.items()})
    keep = arr.status == 1
    lhe = ak.zip({"pt": out.pt[keep][:, ::-1], "eta": out.eta[keep][:, ::-1], "phi": out.phi[keep][:, ::-1],
                  "pdgId": out.pdgId[keep][:, ::-1], "status": out.status[keep][:, ::-1]})
    write_ttree(root_path, {"GenPart": ak.zip(dict(zip(out.fields, ak.unzip(out)))), "LHEPart": lhe})


@pytest.fixture(scope="module")
def nanoaod(ttbar_lhe, tmp_path_factory):
    path = tmp_path_factory.mktemp("nano") / "nano.root"
    to_nanoaod(ttbar_lhe, path, w_copies=True)
    return path


def test_genpart_decay_chain_through_copies(nanoaod, ttbar):
    ev = lhcgan.read(nanoaod, collection="GenPart")
    assert ev.report.read == 3000 and ev.report.accepted == len(ttbar)
    np.testing.assert_array_equal(ev.pdg, ttbar.pdg)
    np.testing.assert_allclose(ev.momenta, ttbar.momenta, rtol=2e-6, atol=1e-4)


def test_lhepart_is_preferred_and_assigned_by_flavour(nanoaod, ttbar):
    ev = lhcgan.read(nanoaod)
    assert ev.meta["format"] == "root:LHEPart"
    assert ev.report.accepted == len(ttbar)  # the same CKM-suppressed events are left out
    np.testing.assert_array_equal(ev.pdg, ttbar.pdg)
    np.testing.assert_allclose(ev.momenta, ttbar.momenta, rtol=2e-6, atol=1e-4)


def test_cms_wjets_nanoaod_is_rejected():
    path = shared_file(NANOAOD)
    with pytest.raises(WrongProcessError, match="0 of 200 events contain a tt̄ decay") as info:
        lhcgan.read(path)
    assert LHE_NO_MATCH in str(info.value)
    with pytest.raises(WrongProcessError, match="0 of 200 events"):
        lhcgan.read(path, collection="GenPart")


def test_tree_without_usable_branches(tmp_path):
    path = tmp_path / "other.root"
    write_ttree(path, {"Jet_pt": ak.Array([[1.0, 2.0], [3.0]])})
    with pytest.raises(SchemaError, match="tree 'Events' has no usable branches"):
        lhcgan.read(path)


def test_file_without_tree(tmp_path):
    path = tmp_path / "empty.root"
    with uproot.recreate(path) as f:
        f["note"] = "no tree here"
    with pytest.raises(SchemaError, match="no TTree"):
        lhcgan.read(path)


def test_truncated_root_file(tmp_path, ttbar):
    path = tmp_path / "full.root"
    lhcgan.write(ttbar, path)
    cut = tmp_path / "cut.root"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MalformedFileError):
        lhcgan.read(cut)


def test_nan_in_root_file(tmp_path, ttbar):
    path = tmp_path / "nan.root"
    lhcgan.write(ttbar[:50], path)
    data = uproot.open(path)["Events"].arrays()
    pt = ak.to_numpy(ak.flatten(data.LHEPart_pt)).copy()
    pt[6 * 17 + 2] = np.nan
    bad = tmp_path / "bad.root"  # in the layout of lhcgan < 0.2, which is still read
    particle = {"pt": ak.unflatten(pt, 6), "eta": data.LHEPart_eta, "phi": data.LHEPart_phi, "pdgId": data.LHEPart_pdgId}
    write_ttree(bad, {"Particle": ak.zip(particle)})
    with pytest.raises(lhcgan.errors.NonFiniteError, match="event 17"):
        lhcgan.read(bad)
