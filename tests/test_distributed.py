"""DDP on the CPU with gloo and 2 processes, and sharded generation."""

import json
import os
import socket
import sys

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
import uproot

import lhcgan
from lhcgan.config import load_card
from lhcgan.generate import generate_shards
from lhcgan.losses import resonance_mmd
from lhcgan.distributed import gather
from lhcgan.train import Trainer

TINY = {"layers": 2, "hidden": 32, "disc_layers": 2, "disc_hidden": 32, "batch": 256, "log_every": 2,
        "checkpoint_every": 3, "iterations": 6}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, events: lhcgan.Events, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    trainer = Trainer(events, load_card("default", overrides=TINY | {"device": "cpu"}), out)
    trainer.fit()
    torch.save({"G": trainer.G.state_dict(), "D": trainer.D.state_dict()}, os.path.join(out, f"rank{rank}.pt"))
    # the MMD on gathered masses equals the MMD of the whole batch in one process
    full = 80.4 + torch.linspace(-5, 5, 64, dtype=torch.float64)[:, None].repeat(1, 4)
    real = full.flip(0) + 0.3
    widths = [[2.085]] * 4
    shard = full[rank * 32 : (rank + 1) * 32]
    value = resonance_mmd(gather(shard, trainer.dist), real, widths, "breit-wigner").item()
    torch.save(value, os.path.join(out, f"mmd{rank}.pt"))
    import torch.distributed as td

    td.destroy_process_group()
    # end as the `lhcgan` console script does (cli.run): a rank once aborted in the interpreter's teardown
    # ("terminate called without an active exception", gloo's threads) after its results were saved
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_ddp(events, out) -> list[dict]:
    mp.spawn(_worker, args=(2, free_port(), events, str(out)), nprocs=2, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


@pytest.fixture(scope="module")
def small(ttbar):
    return ttbar[:2000]


def test_ranks_agree_and_runs_repeat(small, tmp_path):
    first = run_ddp(small, tmp_path / "a")
    for net in ("G", "D"):
        for k, v in first[0][net].items():
            torch.testing.assert_close(v, first[1][net][k], rtol=0, atol=0)
    again = run_ddp(small, tmp_path / "b")
    for k, v in first[0]["G"].items():
        torch.testing.assert_close(v, again[0]["G"][k], rtol=0, atol=0)
    # only rank 0 wrote the run folder's files
    assert (tmp_path / "a" / "model.pt").is_file() and (tmp_path / "a" / "checkpoint.pt").is_file()
    records = [json.loads(ln) for ln in (tmp_path / "a" / "losses.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records if "loss_d" in r] == [2, 4, 6]
    assert len([r for r in records if "refine_acceptance" in r]) == 1  # the refiner's line, once
    full = 80.4 + torch.linspace(-5, 5, 64, dtype=torch.float64)[:, None].repeat(1, 4)
    single = resonance_mmd(full, full.flip(0) + 0.3, [[2.085]] * 4, "breit-wigner").item()
    for r in range(2):
        assert torch.load(tmp_path / "a" / f"mmd{r}.pt") == pytest.approx(single, rel=1e-12)


@pytest.fixture(scope="module")
def model_file(ttbar, tmp_path_factory):
    cfg = load_card("default", overrides={"layers": 2, "hidden": 32, "disc_layers": 2, "disc_hidden": 32,
                                           "batch": 128, "iterations": 10, "checkpoint_every": 10})
    run = tmp_path_factory.mktemp("m")
    Trainer(ttbar, cfg, run).fit()
    return run / "model.pt"


def test_shards_are_disjoint_reproducible_and_concatenate(model_file, tmp_path):
    manifest = generate_shards(9001, tmp_path / "gen.root", shards=3, model=model_file, seed=4, processes=2)
    info = json.loads(manifest.read_text())
    assert info["events"] == [3001, 3000, 3000] and len(info["files"]) == 3
    arrays = uproot.concatenate([str(tmp_path / f) for f in info["files"]], ["LHEPart_pt"])
    assert len(arrays) == 9001
    shards = [lhcgan.read(tmp_path / f"gen_{k}.root").momenta for k in range(3)]
    keys = [set(map(tuple, np.round(s[:, 0], 4))) for s in shards]
    assert not (keys[0] & keys[1]) and not (keys[1] & keys[2]) and not (keys[0] & keys[2])
    again = generate_shards(3000, tmp_path / "again.root", shards=1, model=model_file, seed=4, processes=1)
    np.testing.assert_array_equal(lhcgan.read(tmp_path / "again_0.root").momenta[:3000], shards[0][:3000])
    assert again.is_file()


def test_fit_nproc_launches_torchrun(ttbar_lhe, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "lhcgan", "fit", str(ttbar_lhe), "--nproc", "2", "--iterations", "4", "--out", str(out),
           "-q", "-n", "500", "--no-validate", "--device", "cpu"]
    for key, value in TINY.items():
        if key != "iterations":
            cmd += ["--set", f"{key}={value}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "training on 2 processes" in proc.stdout
    assert len(lhcgan.read(out / "generated.root")) == 500
