"""Mutation fuzzing: damaged files are read or rejected with an `LhcganError`, within seconds, never a raw
exception or a hang. Seeded mutants (byte flips, truncations, zeroed blocks), read in a subprocess so a
hang fails the test instead of stalling the suite."""

import json
import subprocess
import sys

import numpy as np
import pytest

import lhcgan

N_MUTANTS = 200
READ_ALL = """
import json, sys, lhcgan
out = []
for path in sys.argv[1:]:
    try:
        out.append(["ok", len(lhcgan.read(path))])
    except lhcgan.errors.LhcganError as exc:
        out.append(["error", str(exc)])
    except Exception as exc:  # what the test is there to catch
        out.append(["raw", f"{type(exc).__name__}: {exc}"[:300]])
print(json.dumps(out))
"""


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    kind = rng.integers(3)
    if kind == 0:  # random bytes
        for _ in range(rng.integers(1, 20)):
            b[rng.integers(len(b))] = rng.integers(256)
    elif kind == 1:  # truncated
        b = b[: rng.integers(len(b))]
    else:  # a zeroed block
        s, n = rng.integers(len(b)), rng.integers(1, 4096)
        b[s : s + n] = bytes(len(b[s : s + n]))
    return bytes(b)


@pytest.mark.parametrize("suffix", ["root", "lhe.gz", "lhe"])
def test_mutated_files_end_in_lhcgan_errors(suffix, ttbar, tmp_path):
    original = tmp_path / f"original.{suffix}"
    w = np.linspace(0.5, 1.5, 2000)
    kwargs = {"chunk_size": 400} if suffix == "root" else {}  # several baskets
    lhcgan.write(lhcgan.Events(ttbar.momenta[:2000], ttbar.pdg[:2000], w), original, **kwargs)
    data = original.read_bytes()
    rng = np.random.default_rng(12345)
    paths = []
    for i in range(N_MUTANTS):
        p = tmp_path / f"m{i}.{suffix}"
        p.write_bytes(mutate(data, rng))
        paths.append(str(p))
    proc = subprocess.run([sys.executable, "-c", READ_ALL, *paths], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    raw = [(p, r[1]) for p, r in zip(paths, results) if r[0] == "raw"]
    assert not raw, raw[:5]
    errors = [r[1] for r in results if r[0] == "error"]
    assert len(errors) > N_MUTANTS // 3  # the mutants do damage, and it is seen
    bad = [e for e in errors if "\n" in e or not e.startswith(str(tmp_path))]
    assert not bad, bad[:3]  # one line, naming the file
