"""The networks in numpy (`lhcgan.numpynet`) compute what the torch modules compute, within float32's rounding,
and generation with them never imports torch."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from lhcgan.model import Generator, mlp
from lhcgan.modelfile import TrainedModel
from lhcgan.numpynet import GeneratorNet, Mlp, logistic_noise

EPS32 = float(np.finfo(np.float32).eps)


def rounding_bound(net: torch.nn.Sequential, x: np.ndarray) -> np.ndarray:
    """A bound on |float32 result − exact| of the MLP at x, whatever the order of each sum (Higham: a dot product
    of n terms is within γ_n Σ|w x| of exact, γ_n ≈ n ε), carried through the layers in float64: LeakyReLU is
    1-Lipschitz, so layer l's error e becomes |W| e + γ_n (|W| |h| + |b|) + ε |h W + b|."""
    h, e = x.astype(np.float64), np.zeros_like(x, dtype=np.float64)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for k, lin in enumerate(linears):
        w, b = lin.weight.detach().double().numpy().T, lin.bias.detach().double().numpy()
        gamma = (w.shape[0] + 1) * EPS32
        h_new = h @ w + b
        e = e @ np.abs(w) + gamma * (np.abs(h) @ np.abs(w) + np.abs(b)) + EPS32 * np.abs(h_new)
        h = np.where(h_new > 0, h_new, 0.2 * h_new) if k < len(linears) - 1 else h_new
    return e


@pytest.mark.parametrize("shape", [(18, 256, 6, 18), (40, 64, 3, 9), (5, 7, 1, 1)])
def test_an_mlp_in_numpy_is_torchs_within_float32_rounding(shape):
    torch.manual_seed(1)
    net = mlp(*shape).eval()
    x = np.random.default_rng(2).standard_normal((3000, shape[0])).astype(np.float32)
    with torch.no_grad():
        exact = net.double()(torch.from_numpy(x).double()).numpy()
        net.float()
        theirs = net(torch.from_numpy(x)).numpy()
    ours = Mlp.from_state(net.state_dict())(x)
    bound = rounding_bound(net, x)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    assert np.all(np.abs(ours - exact) <= bound) and np.all(np.abs(theirs - exact) <= bound)
    assert not np.allclose(ours, Mlp.from_state({k: v * 1.001 for k, v in net.state_dict().items()})(x), rtol=1e-4)


@pytest.mark.parametrize("residual, n_condition", [(True, 0), (False, 0), (True, 3)])
def test_the_generator_in_numpy_is_torchs(residual, n_condition):
    torch.manual_seed(3)
    gen = Generator(18, 64, 3, 18, residual=residual, n_condition=n_condition).eval()
    z = logistic_noise(2000, 18, np.random.default_rng(4))
    cond = np.eye(max(n_condition, 1), dtype=np.float32)[np.arange(2000) % max(n_condition, 1)][:, :n_condition]
    net = GeneratorNet(gen.spec, {k: v.numpy() for k, v in gen.state_dict().items()})
    with torch.no_grad():
        theirs = gen(torch.from_numpy(z), torch.from_numpy(cond) if n_condition else None).numpy()
    ours = net(z, cond if n_condition else None)
    # six layers of 64 at |x| ~ 1: float32 sums in another order differ by ~1e-6; a wrong layer by ~1e-1
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    if n_condition:
        assert not np.allclose(net(z, cond[::-1].copy()), ours, atol=1e-3)  # the condition is used


def test_logistic_noise_is_unit_variance_logistic():
    z = logistic_noise(200_000, 4, np.random.default_rng(5))
    assert z.dtype == np.float32 and np.isfinite(z).all()
    z = z.astype(np.float64)
    # the sample variance of a logistic has sd √((κ + 2)/n) = √(3.2/n) = 0.004 here (excess kurtosis κ = 1.2)
    assert np.all(np.abs(z.mean(0)) < 5 * np.sqrt(1 / 200_000))
    assert np.all(np.abs(z.var(0) - 1) < 5 * 0.004)
    u = 1 / (1 + np.exp(-z[:, 0] * np.pi / np.sqrt(3)))  # its CDF: uniform if logistic
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    assert np.all(np.abs(counts - 10_000) < 5 * np.sqrt(10_000))


def test_generated_momenta_in_numpy_are_those_of_the_torch_networks(monkeypatch):
    import lhcgan.cpu

    monkeypatch.setattr(lhcgan.cpu, "cpu_has_bf16", lambda: False)  # numpy, fp32, on any CPU
    model = TrainedModel.load()
    z = logistic_noise(20_000, model.network.latent, np.random.default_rng(6))
    ours = model.momenta(z)
    with torch.no_grad():
        theirs = torch.cat([model.bridge.to_momenta(model.generator(a)) for a in torch.from_numpy(z).split(1024)])
    # float32 sums in another order differ by a few ulp (~1e-7); the quantile maps, steepest in the tails,
    # amplify that by at most ~100 (as between slices of other sizes)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-3)


def test_generating_into_root_never_imports_torch(tmp_path):
    """`lhcgan generate` on a CPU without native bf16 (here: oneDNN capped at AVX2) loads the model, generates and
    writes without torch, whose import alone takes 1.6–2.5 s."""
    code = ("import sys; from lhcgan.generate import generate; "
            f"assert generate(3000, {str(tmp_path / 'g.root')!r}, seed=2) == 3000; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    env = os.environ | {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-800:]
    import uproot

    assert uproot.open(tmp_path / "g.root")["Events"].num_entries == 3000
