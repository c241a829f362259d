"""Run a pure per-event function on the two halves of a chunk at once: numpy's passes use one core each."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

#: below this many events a chunk is not split (a thread costs more than it saves)
MIN_EVENTS = 20_000
_split = True


def serial() -> None:
    """Never split again in this process: a worker process (`lhcgan.workers`) has one core of its own."""
    global _split
    _split = False


def in_halves(fn: Callable[..., Any], *arrays: np.ndarray) -> Any:
    """``fn(*arrays)`` computed as ``fn`` of the first and of the second half of every array (axis 0) in two
    threads, the results joined along axis 0: the same numbers, for a ``fn`` that treats each event alone.

    ``fn`` returns an array, a dict of arrays, None, or a tuple of those. numpy releases the GIL in its
    loops, so two halves take 55–65 % of the time of one whole on two cores. A thread's exception is
    raised here. The threads end with the call: no pool outlives it (a forked process inherits none).
    """
    n = len(arrays[0])
    if n < MIN_EVENTS or not _split:
        return fn(*arrays)
    h = n // 2
    result: list[Any] = [None]
    error: list[BaseException] = []

    def second() -> None:
        try:
            result[0] = fn(*(a[h:] for a in arrays))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    worker = threading.Thread(target=second, name="lhcgan-half")
    worker.start()
    try:
        first = fn(*(a[:h] for a in arrays))
    finally:
        worker.join()
    if error:
        raise error[0]
    return _join(first, result[0])


def _join(a: Any, b: Any) -> Any:
    if a is None:
        return None
    if isinstance(a, tuple):
        return tuple(_join(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: np.concatenate([a[k], b[k]]) for k in a}
    return np.concatenate([a, b])
