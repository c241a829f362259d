"""Tasks computed in forked worker processes, their results in task order.

Generation is numpy on one core each (and torch, where it generates in bf16); one process per core, each
with one thread, keeps every core busy (`TrainedModel.iterate`). The workers are forked, so the model is
shared, not pickled, and no worker imports anything again. A forked process must not start OpenMP
threads of its own where its parent had some (it hangs in libgomp), and BLAS threads of its own would
compete with the other workers': every worker runs torch and numpy's BLAS on one thread.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import pickle
import signal
import sys
from collections.abc import Callable, Generator, Iterable
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar, cast

from lhcgan import cpu, memory
from lhcgan.errors import LhcganError

T = TypeVar("T")
R = TypeVar("R")

#: seconds between checks that the workers (or, in a worker, the parent) are still alive
POLL_S = 0.5


class WorkerError(LhcganError):
    """A worker process ended without its result (killed, or out of memory)."""


def usable_processes() -> int:
    """How many worker processes this process may fork: its usable cores (`cpu.usable_cores`: ``OMP_NUM_THREADS``
    and the CPU affinity), where fork is safe (Linux, CUDA not started); else 1."""
    if not sys.platform.startswith("linux"):
        return 1  # macOS: fork is unsafe with its system libraries; Windows has none
    torch = sys.modules.get("torch")  # a process that never imported torch has not started CUDA
    if torch is not None and torch.cuda.is_initialized():
        return 1  # a process that started CUDA must not fork
    return cpu.usable_cores()


def ordered_map(fn: Callable[[T], R], tasks: Iterable[T], processes: int, *, ahead: int = 2,
                slot_bytes: int = 0) -> Generator[R, None, None]:
    """``fn(task)`` for every task, computed in ``processes`` forked processes, yielded in the tasks' order.

    ``tasks`` is read lazily: each worker holds at most ``ahead`` tasks, and at most ``ahead`` × processes
    are in flight or waiting to be yielded, so memory stays bounded. A result's arrays come back through
    shared memory (one slot of ``slot_bytes`` per task in flight; anonymous, so not limited by
    /dev/shm), or pickled through a pipe where they do not fit: a pipe carries 0.2–0.5 GB/s, one copy
    through memory 5–10 GB/s. An exception in ``fn`` is raised here with its type and message; a worker
    that dies raises `WorkerError`. Leaving the iterator (exhausted, closed or garbage-collected) ends
    every worker; a worker whose parent has gone ends by itself.
    """
    ctx = multiprocessing.get_context("fork")
    n_slots = ahead * processes
    shared = mmap.mmap(-1, n_slots * slot_bytes) if slot_bytes else None  # pages cost memory once written
    todo = [ctx.Pipe(duplex=False) for _ in range(processes)]  # (worker's end, parent's end)
    done = [ctx.Pipe(duplex=False) for _ in range(processes)]  # (parent's end, worker's end)
    workers = [ctx.Process(target=_work, args=(fn, todo[k][0], done[k][1], os.getpid(), shared, slot_bytes),
                           daemon=True, name=f"lhcgan-worker-{k}") for k in range(processes)]
    source = iter(tasks)
    exhausted = False
    issued = yielded = 0
    held = [0] * processes  # tasks each worker holds
    free = list(range(n_slots))
    slot_of: dict[int, int] = {}
    results: dict[int, Any] = {}
    ends = {done[k][0]: k for k in range(processes)}
    sentinels: dict[Any, Any] = {}  # the started workers: a Ctrl-C while they start ends those already started

    def feed() -> None:
        nonlocal issued, exhausted
        for k in range(processes):
            while not exhausted and held[k] < ahead and issued - yielded < n_slots:
                task = next(source, _END)
                if task is _END:
                    exhausted = True
                    return
                slot_of[issued] = free.pop()
                todo[k][1].send((issued, slot_of[issued], task))
                held[k] += 1
                issued += 1

    try:
        # forked with SIGINT blocked, so a Ctrl-C cannot reach a worker before it ignores it (a traceback of
        # its own); the parent takes it once they have all started
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for w in workers:
                w.start()
                sentinels[w.sentinel] = w
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        feed()
        while yielded < issued:
            while yielded not in results:
                for ready in wait([*ends, *sentinels], timeout=POLL_S):
                    if ready in sentinels:
                        dead = sentinels[ready]
                        dead.join(timeout=5)  # its sentinel closes while it exits, before the kernel can report its code
                        raise WorkerError(f"a generating process ended (exit code {dead.exitcode}) "
                                          "without its result",
                                          hint="out of memory? give fewer processes (--processes) or smaller chunks")
                    end = cast(Connection, ready)
                    i, ok, value = end.recv()
                    held[ends[end]] -= 1
                    if not ok:
                        raise cast(BaseException, value)
                    results[i] = _unpack(value, shared, slot_of[i], slot_bytes)
                    free.append(slot_of.pop(i))
                feed()
            yield results.pop(yielded)
            yielded += 1
            feed()
    finally:
        for w in sentinels.values():
            w.terminate()
        for w in sentinels.values():
            w.join()
        for pair in (*todo, *done):
            for end in pair:
                end.close()
        if shared is not None:
            shared.close()


_END = object()


def _work(fn: Callable[[Any], Any], todo: Connection, done: Connection, parent: int, shared: mmap.mmap | None,
          slot_bytes: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends the workers
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # forked with it blocked: now ignored instead
    from lhcgan import halves

    cpu.limit_threads(1)  # see the module's docstring
    memory.keep_freed_memory()  # every task allocates the same arrays again
    halves.serial()  # one core per worker: the numpy passes need no threads of their own
    while True:
        if not todo.poll(POLL_S):
            if os.getppid() != parent:
                return
            continue
        try:
            i, slot, task = todo.recv()
        except EOFError:
            return
        out: tuple[int, bool, Any]
        try:
            out = (i, True, _pack(fn(task), shared, slot, slot_bytes))
        except BaseException as exc:  # sent to the parent, which raises it
            out = (i, False, _picklable(exc))
        done.send(out)


def _pack(value: Any, shared: mmap.mmap | None, slot: int, slot_bytes: int) -> tuple[bytes, list[int] | None]:
    """The value pickled, its large buffers (numpy arrays) written into its slot where they fit."""
    if shared is None:  # no slots: in band, pickled once
        return pickle.dumps(value, protocol=5), None
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    try:
        raws = [b.raw() for b in buffers]
    except BufferError:  # a non-contiguous buffer: in band
        raws = None
    if raws is None or sum(r.nbytes for r in raws) > slot_bytes:  # pickled again, in band
        return pickle.dumps(value, protocol=5), None
    at = slot * slot_bytes
    for r in raws:
        shared[at: at + r.nbytes] = r
        at += r.nbytes
    return data, [r.nbytes for r in raws]


def _unpack(value: tuple[bytes, list[int] | None], shared: mmap.mmap | None, slot: int, slot_bytes: int) -> Any:
    data, sizes = value
    if sizes is None:
        return pickle.loads(data)
    view, at, buffers = memoryview(shared), slot * slot_bytes, []  # type: ignore[arg-type]
    for size in sizes:
        buffers.append(bytearray(view[at: at + size]))  # a copy of its own: the slot is used again
        at += size
    view.release()
    return pickle.loads(data, buffers=buffers)


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return LhcganError(f"{type(exc).__name__}: {exc}")
