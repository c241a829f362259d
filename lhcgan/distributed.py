"""Where training runs: the device, and the process's place in a torchrun (DDP) job."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from lhcgan.errors import TrainingError


def select_device(name: str) -> torch.device:
    """CUDA when asked for or, with "auto", when present; the CPU otherwise."""
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for, but no CUDA device is available", hint="use --device cpu")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


@dataclass(frozen=True)
class Dist:
    """Where this process stands in a torchrun job (rank 0 of 1 without one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def distributed() -> Dist:
    """The torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK), or a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    return Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def init_distributed(dist: Dist, device: torch.device) -> None:
    """Join the process group: NCCL on GPUs, gloo on the CPU."""
    import torch.distributed as td

    if dist.world > 1 and not td.is_initialized():
        td.init_process_group("nccl" if device.type == "cuda" else "gloo")


def gather(x: torch.Tensor, dist: Dist) -> torch.Tensor:
    """Concatenate x from every rank along dim 0, differentiably (gradients flow back to each rank)."""
    if dist.world == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)
