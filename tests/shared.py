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


#: Unit roundoff of float32 (half an ulp at 1).
FLOAT32_EPS = 2.0 ** -24


def float32_mass_tolerance(p4: "np.ndarray", eta: "np.ndarray | None" = None, ops: int = 8) -> "np.ndarray":
    """Per-event bound (GeV) on the error of an invariant mass rebuilt in float32 from float32 (pT, η, φ, m).

    m² = E² − |p⃗|² cancels: a relative error ε on each four-vector component moves m² by up to
    ~4 ε E² and so m by 2 ε E²/m, which grows with the boost. ε is ``ops`` roundings (float32 storage,
    cosh/sinh/sin/cos whose SIMD kernels differ by an ulp or two between CPUs, the sums) plus the
    rounding of η itself, which moves p_z by |η| ulps.

    Args:
        p4: exact four-momenta (N, k, 4) (E, px, py, pz) GeV of the k particles summed.
        eta: their |η| (N, k), for the p_z term; 0 where None.
    """
    import numpy as np

    total = p4.sum(axis=1)
    e = total[:, 0]
    m = np.sqrt(np.clip(e**2 - (total[:, 1:] ** 2).sum(-1), 1e-30, None))
    eta_max = 0.0 if eta is None else np.abs(eta).max(axis=1)
    eps = FLOAT32_EPS * (ops + eta_max)
    return 2 * eps * e**2 / m
