"""Training throughput on 1 and on 2 processes (DDP, gloo on this CPU machine), in one run.

    python benchmarks/scale.py [--steps 40] [--preset default]

Each configuration trains the same model on the same batch size (1024 events per
update, split across the processes) and prints iterations/s and events/s. On one
CPU socket two processes share the same cores, so the figure shows the overhead of
DDP here; on a multi-GPU node each process has its own GPU.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp

import lhcgan
from lhcgan.config import load_card
from lhcgan.simulate import simulate
from lhcgan.train import Trainer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(rank: int, world: int, port: int, events, preset: str, steps: int, threads: int, out: str) -> None:
    if world > 1:
        os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    trainer = Trainer(events, load_card(preset, overrides={"device": "cpu"}), Path(out) / f"w{world}")
    for _ in range(3):
        trainer.step()
    if world > 1:
        import torch.distributed as td

        td.barrier()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    dt = time.perf_counter() - t0
    if rank == 0:
        (Path(out) / f"time{world}").write_text(str(dt))
    if world > 1:
        import torch.distributed as td

        td.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--preset", default="default")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        simulate(50_000, Path(tmp) / "train.root", seed=3)
        events = lhcgan.read(Path(tmp) / "train.root")
        _run(0, 1, 0, events, args.preset, args.steps, cores, tmp)
        mp.spawn(_run, args=(2, _free_port(), events, args.preset, args.steps, max(1, cores // 2), tmp), nprocs=2)
        times = {w: float((Path(tmp) / f"time{w}").read_text()) for w in (1, 2)}
    batch = load_card(args.preset).batch
    print(f"lhcgan {lhcgan.__version__} DDP scaling, preset {args.preset}, batch {batch}, {cores} cores, CPU + gloo")
    for w, t in times.items():
        rate = args.steps / t
        print(f"{w} process{'es' if w > 1 else '  '} ({max(1, cores // w)} threads each): {rate:6.2f} it/s, "
              f"{rate * batch:9,.0f} events/s   ({rate / (args.steps / times[1]):.2f}× one process)")


if __name__ == "__main__":
    main()
