"""The C allocator's settings for generation: freed memory kept for the next chunk instead of returned to the OS.

glibc serves a large array from a fresh mmap, and frees it back, once its size passes a threshold that it adapts
as arrays come and go; the heap's free top goes back to the OS past twice that. Generation allocates and frees
arrays of the same few sizes for every task, so every task faulted its pages in anew: on a 2-core AMD EPYC,
`lhcgan generate -n 1000000` spent 3.4–3.9 s of its 21 s of CPU in the kernel, 1.0–1.3 s with fixed thresholds
(10–20 % less wall time; the same peak memory).
"""

from __future__ import annotations

import ctypes
import functools
import sys

#: arrays up to this size come from the heap (as far as glibc's own adaptation goes on 64-bit)
MMAP_THRESHOLD = 32 << 20
#: free heap top kept for reuse up to this size
TRIM_THRESHOLD = 512 << 20

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


@functools.cache
def keep_freed_memory() -> bool:
    """Fix glibc's thresholds for this process (`MMAP_THRESHOLD`, `TRIM_THRESHOLD`); whether it took. Elsewhere
    (macOS, musl, Windows) nothing changes. Once per process: a forked worker inherits the setting."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
