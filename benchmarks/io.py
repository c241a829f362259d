"""I/O and simulation throughput, each beside a reference, in one run on this machine.

    python benchmarks/io.py [--events 100000]

Prints events/s for: simulation (lhcgan simulate vs a bare Pythia 8 event loop),
LHE reading (lhcgan vs pylhe.LHEFile.fromfile + pylhe.to_awkward), ROOT writing
(lhcgan, ZSTD(1) vs plain uproot with its default ZLIB) and LHE writing (lhcgan vs
pylhe's writer), all on the same tt̄ sample.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np
import pylhe
import uproot

import lhcgan
from lhcgan.simulate import make_pythia, pythia_settings, simulate
from lhcgan.writing.lhe import write_lhe
from lhcgan.writing.root import BRANCH_TYPE, _particles, write_root


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def bare_pythia(n: int, seed: int) -> int:
    pythia = make_pythia(pythia_settings(13000.0, seed))
    done = 0
    while done < n:
        done += bool(pythia.next())
    return done


def pylhe_read(path: Path) -> ak.Array:
    return pylhe.to_awkward(pylhe.LHEFile.fromfile(path, with_attributes=False).events)


def uproot_default_write(events: lhcgan.Events, path: Path) -> None:
    with uproot.recreate(path) as f:  # default compression: ZLIB(1)
        tree = f.mktree("Events", {"LHEPart": ak.types.from_datashape(BRANCH_TYPE, highlevel=False), "genWeight": "float64"})
        tree.extend({"nLHEPart": np.full(len(events), 6, np.int32), "LHEPart": _particles(events), "genWeight": np.ones(len(events))})


def pylhe_write(source: Path, path: Path) -> int:
    f = pylhe.LHEFile.fromfile(source, with_attributes=False)
    events = list(f.events)
    pylhe.LHEFile(init=f.init, events=events).tofile(str(path))
    return len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    n = args.events
    rows: list[tuple[str, str, float, str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        lhe = d / "ttbar.lhe"
        t_bare, _ = timed(bare_pythia, n, 11)
        t_sim_root, _ = timed(simulate, n, d / "sim.root", seed=11)
        rows.append(("simulate → ROOT", "lhcgan simulate -o x.root", n / t_sim_root, "Pythia 8 next() loop, no output", n / t_bare))
        t_sim, _ = timed(simulate, n, lhe, seed=11)
        rows.append(("simulate → LHE", "lhcgan simulate -o x.lhe", n / t_sim, "Pythia 8 next() loop, no output", n / t_bare))

        t_read, events = timed(lhcgan.read, lhe)
        t_pylhe, _ = timed(pylhe_read, lhe)
        rows.append(("LHE reading", "lhcgan.read", n / t_read, "pylhe fromfile + to_awkward", n / t_pylhe))

        m = len(events)
        t_root, _ = timed(write_root, events, d / "a.root")
        t_plain, _ = timed(uproot_default_write, events, d / "b.root")
        size_a, size_b = (d / "a.root").stat().st_size, (d / "b.root").stat().st_size
        rows.append(("ROOT writing", f"lhcgan ZSTD(1) ({size_a / m:.0f} B/ev)", m / t_root,
                     f"uproot default ZLIB ({size_b / m:.0f} B/ev)", m / t_plain))

        t_lhe, _ = timed(write_lhe, events, d / "a.lhe")
        t_pw, n_pw = timed(pylhe_write, lhe, d / "b.lhe")
        rows.append(("LHE writing", "lhcgan write_lhe", m / t_lhe, "pylhe read + tofile", n_pw / t_pw))

    print(f"lhcgan {lhcgan.__version__} I/O benchmark: {n} tt̄ events, {platform.processor() or platform.machine()}")
    print(f"{'task':<18} {'lhcgan':<34} {'ev/s':>10}   {'reference':<34} {'ev/s':>10}  ratio")
    for task, a, ra, b, rb in rows:
        print(f"{task:<18} {a:<34} {ra:>10,.0f}   {b:<34} {rb:>10,.0f}  {ra / rb:5.2f}×")


if __name__ == "__main__":
    main()
