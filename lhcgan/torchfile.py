"""Reading what ``torch.save`` wrote, without torch: its zip of a pickle and raw storages, tensors as numpy arrays.

A model file (`lhcgan.modelfile`) is a ``torch.save`` of plain data and CPU tensors. Generation reads it here so
that a process that generates in numpy never imports torch. Like ``torch.load(weights_only=True)`` the pickle
may name no class beyond the tensor rebuilders, the storages and an OrderedDict: a file cannot run code.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np

#: torch's storage classes by name → numpy dtypes (bf16 is read as its 16 bits, then widened to float32)
STORAGES: dict[str, np.dtype] = {name: np.dtype(dt) for name, dt in (
    ("FloatStorage", "<f4"), ("DoubleStorage", "<f8"), ("HalfStorage", "<f2"), ("BFloat16Storage", "<u2"),
    ("LongStorage", "<i8"), ("IntStorage", "<i4"), ("ShortStorage", "<i2"), ("CharStorage", "i1"),
    ("ByteStorage", "u1"), ("BoolStorage", "?"),
)}


class _Storage:
    """One storage's elements as a flat numpy array, and its torch name."""

    def __init__(self, data: np.ndarray, name: str) -> None:
        self.data, self.name = data, name


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
                    ) -> np.ndarray:
    """``torch._utils._rebuild_tensor_v2`` for numpy: the view (offset, size, stride in elements), copied."""
    data = storage.data
    if not size:
        out = data[offset: offset + 1].reshape(())
    else:
        span = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
        flat = data[offset: offset + span]
        out = np.lib.stride_tricks.as_strided(flat, shape=size, strides=[s * data.itemsize for s in stride]) \
            if span else np.zeros(size, data.dtype)
    out = np.array(out, order="C")  # its own memory, writable, C-contiguous
    if storage.name == "BFloat16Storage":
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"the file names {module}.{name}, which a model file never holds")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r:.80}")
        kind, key, numel = pid[1].name, str(pid[2]), int(pid[4])
        if key not in self.storages:
            dtype = STORAGES[kind]
            raw = self.archive.read(f"{self.prefix}data/{key}")
            self.storages[key] = _Storage(np.frombuffer(raw, dtype=dtype, count=numel), kind)
        return self.storages[key]


def load(path: str | os.PathLike[str]) -> Any:
    """The object ``torch.save`` wrote to ``path``, every CPU tensor as a numpy array.

    Raises ValueError for a file that is no zip-format torch save (or names any other class),
    OSError where it cannot be read.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError("not a zip-format torch file") from exc
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ValueError("no single data.pkl in the archive")
        prefix = pickles[0][: -len("data.pkl")]
        try:
            order = archive.read(f"{prefix}byteorder").decode().strip()
        except KeyError:
            order = "little"
        if order != "little":
            raise ValueError(f"tensors stored {order}-endian")
        try:
            return _Unpickler(archive.read(pickles[0]), archive, prefix).load()
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from exc
