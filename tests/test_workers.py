"""Generation in forked worker processes: the same events as in one process, errors that surface, no
process left behind."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lhcgan.errors import InputError
from lhcgan.events import Events
from lhcgan.workers import WorkerError, ordered_map

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork (Linux)")


def _arrays(task: int) -> dict[str, np.ndarray]:
    time.sleep(0.02 * (task % 3 == 0))  # later tasks finish first: the order must come from the tasks
    rng = np.random.default_rng(task)
    return {"x": rng.random((1000 + 37 * task, 6, 3)), "pdg": rng.integers(-6, 7, (1000 + 37 * task, 6), np.int32),
            "f": np.asfortranarray(rng.random((50, 4)))}


@pytest.mark.parametrize("slot_bytes", [0, 200_000, 1 << 22], ids=["pipe", "some-too-large", "shared"])
def test_results_come_back_whole_and_in_order(slot_bytes):
    """Arrays come back equal (values, dtype, writability) through shared memory or, where they do not fit a
    slot, through the pipe; tasks are read lazily and their results yielded in order."""
    got = list(ordered_map(_arrays, range(17), 3, slot_bytes=slot_bytes))
    assert len(got) == 17
    for task, out in enumerate(got):
        want = _arrays(task)
        for k in want:
            np.testing.assert_array_equal(out[k], want[k])
            assert out[k].dtype == want[k].dtype
        out["x"][0] = 0.0  # a copy of its own, not the slot's memory
    assert not multiprocessing.active_children()


def _fails_at_five(task: int) -> int:
    if task == 5:
        raise InputError("bad task", path="x.root", event=5, hint="do something")
    return task


def test_a_workers_exception_is_raised_with_its_type_and_line():
    with pytest.raises(InputError, match=r"x.root: event 5: bad task \(do something\)"):
        list(ordered_map(_fails_at_five, range(20), 2))
    assert not multiprocessing.active_children()


def _dies_at_three(task: int) -> int:
    if task == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
    return task


def test_a_worker_that_dies_raises_instead_of_hanging():
    start = time.monotonic()
    with pytest.raises(WorkerError, match="exit code -9"):
        list(ordered_map(_dies_at_three, range(20), 2))
    assert time.monotonic() - start < 30
    assert not multiprocessing.active_children()


def test_leaving_early_ends_the_workers():
    stream = ordered_map(_arrays, iter(range(10**6)), 2)
    assert next(stream)["x"].shape == (1000, 6, 3)
    assert len(multiprocessing.active_children()) == 2
    stream.close()
    assert not multiprocessing.active_children()


def test_the_shipped_model_gives_the_same_events_in_any_number_of_processes():
    """The stream is made of blocks with random numbers of their own. Two workers or three, any chunk size and any
    n (a prefix) give the same events, flavours and variation weights, bit for bit: every worker runs the network
    on one thread, and each block's rows sit alike in its products. One process runs it on all threads, whose
    matrix products may sum in another order: float32 rounding of sums over 256 units (√256 · 2⁻²⁴ ≈ 1e-6) in
    the network's coordinates, which the map back turns into an error on each momentum in proportion to its
    |p⃗| (the steep ends of the quantile maps amplify it by at most ~100)."""
    from lhcgan.modelfile import TrainedModel

    model = TrainedModel.load()
    two = Events.concatenate(list(model.iterate(60_000, seed=4, processes=2)))
    three = Events.concatenate(list(model.iterate(60_000, seed=4, processes=3, chunk=20_000)))
    few = Events.concatenate(list(model.iterate(700, seed=4, processes=2)))
    assert len(two) == len(three) == 60_000 and len(few) == 700
    for a, b in ((two, three), (two[:700], few)):
        np.testing.assert_array_equal(a.momenta, b.momenta)
        np.testing.assert_array_equal(a.pdg, b.pdg)
        np.testing.assert_array_equal(a.variations, b.variations)
    one = Events.concatenate(list(model.iterate(700, seed=4, processes=1)))
    size = np.linalg.norm(few.momenta, axis=-1, keepdims=True)
    assert np.all(np.abs(one.momenta - few.momenta) <= 1e-4 * size)
    np.testing.assert_array_equal(one.pdg, few.pdg)
    other = Events.concatenate(list(model.iterate(700, seed=5, processes=2)))
    assert not np.allclose(other.momenta, few.momenta)
    assert not multiprocessing.active_children()


def test_a_torch_imported_after_the_thread_limit_follows_it():
    """A worker that imports torch only when it first needs it (bf16 generation) must run it on the worker's one
    thread: with torch's default of one thread per core beside the other workers, `lhcgan generate` ran 10×
    slower on a 2-core AVX-512 bf16 CPU. A fresh interpreter, since this one has imported torch already."""
    code = ("import sys; from lhcgan import cpu; cpu.limit_threads(1); assert 'torch' not in sys.modules; "
            "import torch; print(torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
