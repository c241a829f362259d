"""The shipped tt̄ sample is what data/README.md says it is."""

import hashlib
from pathlib import Path

import numpy as np

import lhcgan
from lhcgan.simulate import simulate

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "ttbar_13TeV_pythia8.lhe.gz"


def test_sample_is_small_and_reproducible(tmp_path):
    assert SAMPLE.stat().st_size <= 10 * 2**20
    shipped = lhcgan.read(SAMPLE)
    assert shipped.report.read == 25000 and shipped.meta["ecm"] == 13000
    # the command in data/README.md regenerates it event for event
    simulate(25000, tmp_path / "again.lhe.gz", seed=1)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "again.lhe.gz", SAMPLE)]
    assert digest[0] == digest[1]
    assert np.median(shipped.resonance_masses()[:, 0]) > 79
