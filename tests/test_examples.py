"""The examples run as users would run them, on files lhcgan wrote."""

import subprocess
import sys
from pathlib import Path

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


def test_shower_with_pythia(ttbar, tmp_path):
    path = tmp_path / "ev.lhe"
    lhcgan.write(ttbar[:50], path)
    out = run("shower_with_pythia.py", str(path), "50")
    assert "showered 50 events, 0 failed" in out


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
