"""The examples run as users would run them, on files lhcgan wrote."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lhcgan

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_analysis_with_uproot(ttbar, tmp_path):
    path = tmp_path / "ev.root"
    lhcgan.write(ttbar, path)
    out = run("analysis_with_uproot.py", str(path))
    assert f"{len(ttbar)} events" in out
    line = next(ln for ln in out.splitlines() if "m(t   )" in ln)
    assert abs(float(line.split("peak")[1].split()[0]) - 173.0) < 1.0


def test_analysis_with_coffea(ttbar, tmp_path):
    pytest.importorskip("coffea")
    path = tmp_path / "ev.root"
    w = np.where(np.arange(len(ttbar)) % 4 == 0, -0.5, 1.5)  # signed weights must reach the analysis
    lhcgan.write(lhcgan.Events(ttbar.momenta, ttbar.pdg, w), path)
    out = run("analysis_with_coffea.py", str(path))
    assert f"{len(ttbar)} events, first event ID 1:1:1" in out
    line = next(ln for ln in out.splitlines() if "m(t   )" in ln)
    assert abs(float(line.split("peak")[1].split()[0]) - 173.0) < 1.0
    assert f"sum of genWeight {w.sum():.6g}" in out
    m_tt = lhcgan.physics.invariant_mass(ttbar.momenta, ttbar.masses)
    assert f"weighted mean m(tt̄) {np.average(m_tt, weights=w):.1f} GeV" in out


def test_shower_with_pythia(ttbar, tmp_path):
    path = tmp_path / "ev.lhe"
    lhcgan.write(ttbar[:50], path)
    out = run("shower_with_pythia.py", str(path), "50")
    assert "showered 50 events, 0 failed" in out


def test_shower_with_pythia_decays_the_tau(all_channels, tmp_path):
    names = [c.name for c in all_channels.process.channels]
    tau_events = all_channels[np.isin(all_channels.channel_index(), [names.index("taujets"), names.index("taudilep")])]
    events = tau_events[:40]
    n_tau = int((np.abs(events.pdg) == 15).sum())
    path = tmp_path / "tau.lhe"
    lhcgan.write(events, path)
    out = run("shower_with_pythia.py", str(path), "40")
    assert "showered 40 events, 0 failed" in out
    assert n_tau >= 40 and f"{n_tau} of {n_tau} τ decayed" in out  # the shower decays every τ of a W


def test_validate_with_uproot(ttbar, tmp_path):
    lhcgan.write(ttbar[:1500], tmp_path / "a.root")
    lhcgan.write(ttbar[1500:], tmp_path / "b.root")
    out = run("validate_with_uproot.py", str(tmp_path / "a.root"), str(tmp_path / "b.root"), str(tmp_path / "plots"))
    ratio = float(out.split("ratio ")[1].split()[0])
    assert 0.85 < ratio < 1.15  # two halves of one Pythia sample
    assert (tmp_path / "plots" / "top_mass.png").stat().st_size > 10_000
    assert (tmp_path / "plots" / "b_pt.png").is_file()
    source = (EXAMPLES / "validate_with_uproot.py").read_text()
    assert "import lhcgan" not in source and "from lhcgan" not in source


def test_mt_templates(mt_model, tmp_path):
    from tests.shared import HIGH, LOW

    model = tmp_path / "model.pt"
    mt_model.save(model)
    pseudo = tmp_path / "pseudo.root"
    lhcgan.write(mt_model.sample(20_000, seed=9, parameters={"mt": 172.6}), pseudo)
    out = run("mt_templates.py", str(model), str(pseudo), "--masses", str(LOW), "171.5", "173", "174.5", str(HIGH),
              "--events", "20000", "--out", str(tmp_path / "t"))
    peaks = [ln.split("|")[1:4] for ln in out.splitlines() if ln.startswith("| 1")]
    assert len(peaks) == 5
    for mass, fitted, _ in peaks:  # every template's peak where its m_t is
        assert abs(float(fitted) - float(mass)) < 0.3
    measured = float(out.split("measured m_t = ")[1].split()[0])
    assert abs(measured - 172.6) < 0.3  # between the templates, 1.5 GeV apart
    assert "made at 172.6 GeV" in out and "edge" not in out
    assert (tmp_path / "t" / "templates.png").stat().st_size > 10_000
