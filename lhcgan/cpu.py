"""What this CPU offers the networks: its L2 cache, its cores, native bf16; found without importing torch."""

from __future__ import annotations

import functools
import os
import sys

#: L2 bytes per core assumed where the OS does not say (the smallest of the x86 server cores measured)
DEFAULT_L2 = 512 * 1024

#: /proc/cpuinfo flags of native bf16 matrix products: AVX-512 bf16 and AMX (the probes torch.cpu has)
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")


@functools.cache
def l2_bytes(caches: str = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """The L2 cache of one core in bytes, from Linux's sysfs (``caches``: its folder); `DEFAULT_L2` elsewhere."""
    try:
        for index in sorted(os.listdir(caches)):
            base = f"{caches}/{index}"
            with open(f"{base}/level") as f:
                if f.read().strip() != "2":
                    continue
            with open(f"{base}/size") as f:
                size = f.read().strip().upper()
            scale = {"K": 1024, "M": 1024**2}.get(size[-1:], 1)
            return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return DEFAULT_L2


def net_slice(hidden: int, threads: int = 1) -> int:
    """Events per network call in inference: one layer's fp32 activations (slice × ``hidden``) fill the
    ``threads``' L2 caches, a power of two from 256 to 8192.

    A matmul whose activations leave L2 runs at DRAM speed: on a 2-core AMD EPYC (512 KiB L2 per core)
    the 6×256 generator ran at 160k events/s in slices of 1024 and 100k in slices of 8192.
    """
    n = l2_bytes() * max(threads, 1) // (4 * hidden)
    return int(min(max(1 << max(n, 1).bit_length() - 1, 256), 8192))


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str] | None:
    """The CPU's feature flags as Linux lists them (``cpuinfo``: that file); None where it cannot be read."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return None


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX-512 bf16 or AMX), and oneDNN may use it: with
    ``ONEDNN_MAX_CPU_ISA`` capped below those (AVX2, say) bf16 runs emulated, several times slower than fp32.

    Linux's CPU flags answer without torch (generation in fp32 then never imports it); elsewhere torch's probes.
    """
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if isa and not any(k in isa for k in ("BF16", "AMX", "ALL", "AVX10")):
        return False
    flags = cpu_flags() if sys.platform.startswith("linux") else None
    if flags is not None:
        return any(f in flags for f in BF16_FLAGS)
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def generates_in_bf16(cpu_bf16: bool | None) -> bool:
    """Whether generation on the CPU runs a model's generator under bf16 autocast, given its ``cpu_bf16``
    setting: where the CPU has native bf16 and the setting does not say False. None is the setting's own
    "where the CPU has native bf16", which older model files (the shipped one among them) kept unresolved;
    elsewhere bf16 is emulated, 6× slower than fp32 on an AVX2 CPU, and fp32 runs the same network more precisely
    (in numpy, without torch: `lhcgan.numpynet`)."""
    return cpu_bf16 is not False and cpu_has_bf16()


#: the threads `limit_threads` allowed this process; None: no limit set
_limit: int | None = None


def limit_threads(n: int) -> None:
    """Run this process's torch and numpy's BLAS on ``n`` threads, and count ``n`` usable cores: a forked worker
    or a shard's process has that share of the CPU. A torch imported later follows it too (``OMP_NUM_THREADS``):
    a worker that imported torch for bf16 with its default threads, one per core, ran 10× slower beside the
    other workers."""
    global _limit
    _limit = max(1, int(n))
    os.environ["OMP_NUM_THREADS"] = str(_limit)  # read by torch (and any OpenMP runtime) where it starts later
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(_limit)
    from threadpoolctl import threadpool_limits

    threadpool_limits(_limit)  # for the rest of the process


def usable_cores() -> int:
    """The cores this process may run on: what `limit_threads` set; else ``OMP_NUM_THREADS`` where set (as torch
    follows it), within its CPU affinity; torch's own thread count where torch is imported."""
    if _limit is not None:
        return _limit
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch = sys.modules.get("torch")
    if torch is not None:
        return max(1, min(torch.get_num_threads(), affinity))
    try:
        omp = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        omp = 0
    return max(1, min(omp, affinity) if omp > 0 else affinity)
