"""`lhcgan.torchfile` reads what torch.save wrote, without torch, exactly as torch.load does."""

import collections
import pickle

import numpy as np
import pytest
import torch

from lhcgan import torchfile
from lhcgan.errors import InputError
from lhcgan.modelfile import load_model


def as_numpy(obj):
    if isinstance(obj, torch.Tensor):
        return obj.numpy() if obj.dtype != torch.bfloat16 else obj.float().numpy()
    if isinstance(obj, dict):
        return type(obj)((k, as_numpy(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(as_numpy(v) for v in obj)
    return obj


def assert_same(a, b, where="top"):
    assert type(a) is type(b), where
    if isinstance(b, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b)
    elif isinstance(b, dict):
        assert list(a) == list(b), where
        for k in b:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_every_tensor_kind_reads_as_torch_load_gives_it(tmp_path):
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    payload = {
        "f32": torch.randn(3, 4, generator=gen), "f64": base, "f16": torch.randn(6, generator=gen).half(),
        "bf16": torch.randn(2, 3, generator=gen).bfloat16(), "i64": torch.arange(-5, 5), "i32": torch.arange(4).int(),
        "u8": torch.arange(250, 256, dtype=torch.uint8), "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
        "transposed": base.T,  # strides (1, 5)
        "view": base[2:5, 1:4],  # an offset into a storage it shares with "f64"
        "nested": [1, 2.0, "three", None, True, (torch.ones(2), {"k": torch.zeros(1, 1)})],
        "ordered": collections.OrderedDict(a=torch.ones(3), b=4),
    }
    torch.save(payload, tmp_path / "p.pt")
    got = torchfile.load(tmp_path / "p.pt")
    assert_same(got, as_numpy(torch.load(tmp_path / "p.pt", weights_only=True)))
    assert got["transposed"].flags.c_contiguous and not np.shares_memory(got["view"], got["f64"])


def test_a_file_that_names_any_other_class_is_refused_without_running_it(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump(Payload(), f)
    torch.save({"x": Payload()}, tmp_path / "zip.pt")
    for name in ("evil.pt", "zip.pt"):
        with pytest.raises(ValueError):
            torchfile.load(tmp_path / name)
        with pytest.raises(InputError, match="cannot load the model"):
            load_model(tmp_path / name)


def test_the_shipped_models_read_as_torch_reads_them():
    from lhcgan.modelfile import DEFAULT_MODEL

    for path in (DEFAULT_MODEL, DEFAULT_MODEL.with_name("ttbar_all_channels_model.pt")):
        assert_same(torchfile.load(path), as_numpy(torch.load(path, weights_only=True)))
