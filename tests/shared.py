"""The scikit-hep-testdata files in the shared folder beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTDATA = Path(os.environ.get("LHCGAN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))

NON_TTBAR_LHE = [
    "pylhe-testlhef3.lhe",
    "pylhe-testfile-madgraph-2.0.0-wbj.lhe",
    "pylhe-testfile-madgraph5-3.5.8-pp_to_jj.lhe.gz",
    "pylhe-testfile-pythia-8.3.14-weakbosons.lhe",
    "pylhe-testfile-whizard-3.1.4-eeWW.lhe",
]
NANOAOD = "nanoAOD_2015_CMS_Open_Data_ttbar.root"
LOW, HIGH = 170.0, 176.0  # m_t of the two samples of the conditioned fit (conftest.mt_model), GeV


def shared_file(name: str) -> str:
    """Path of a scikit-hep-testdata file from the shared folder; skip when absent."""
    if not (TESTDATA / name).is_file():
        pytest.skip(f"{name} not found in {TESTDATA}")
    import skhep_testdata

    return skhep_testdata.data_path(name, cache_dir=str(TESTDATA))


def write_ttree(path, arrays: dict) -> None:
    """Write awkward arrays as a TTree ``Events`` (uproot's ``f[name] = ...`` would make an RNTuple)."""
    import awkward as ak
    import uproot

    with uproot.recreate(path) as f:
        tree = f.mktree("Events", {k: v.type.content for k, v in arrays.items()})
        data = dict(arrays)
        for k, v in arrays.items():
            if v.ndim > 1:
                data["n" + k] = ak.to_numpy(ak.num(v)).astype("int32")
        tree.extend(data)
