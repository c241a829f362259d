import numpy as np
import pytest
import torch

from lhcgan import physics
from lhcgan.config import FitConfig
from lhcgan.errors import ConfigError
from lhcgan.decoder import project_pt
from lhcgan.preprocessing import (
    PARAMETRISATIONS,
    make_parametrisation,
    parametrisation_from_dict,
    parametrisation_to_dict,
)
from lhcgan.process import TTBAR


def test_projection_balances_exactly_and_is_idempotent():
    gen = torch.Generator().manual_seed(0)
    p = 100 * torch.randn(1000, 6, 3, generator=gen, dtype=torch.float64)
    q = project_pt(p)
    assert physics.pt_balance(q).max().item() < 1e-14
    torch.testing.assert_close(project_pt(q), q)
    torch.testing.assert_close(q[..., 2], p[..., 2])  # pz untouched
    # orthogonal: the change is perpendicular to every balanced event
    balanced = project_pt(100 * torch.randn(1000, 6, 3, generator=gen, dtype=torch.float64))
    dot = ((p - q) * balanced).sum(dim=(1, 2))
    assert dot.abs().max().item() < 1e-8
    np.testing.assert_allclose(physics.pt_balance(q.numpy()), 0, atol=1e-14)


def test_noise_is_unit_logistic():
    from lhcgan.model import Generator
    from lhcgan.preprocessing import LOGISTIC

    z = Generator(18, 8, 1, 18).noise(200_000, torch.Generator().manual_seed(1)).numpy()
    assert z.shape == (200_000, 18) and z.dtype == np.float32
    np.testing.assert_allclose(np.quantile(z, [0.25, 0.5, 0.75]), [-np.log(3) * LOGISTIC, 0, np.log(3) * LOGISTIC],
                               atol=0.01)
    np.testing.assert_allclose(z.std(), 1, atol=0.01)


def test_residual_generator_starts_from_the_training_marginals(ttbar):
    # with a zero correction the residual generator is the identity on its noise, and the decay
    # parametrisation turns independent logistic noise into events with the sample's resonance peaks
    from lhcgan.model import Generator
    from lhcgan.preprocessing import DecayParametrisation
    from lhcgan.validate.metrics import in_peak_fractions
    from lhcgan.events import Events

    g = Generator(18, 16, 2, 18, residual=True)
    torch.nn.init.zeros_(g.net[-1].weight)
    torch.nn.init.zeros_(g.net[-1].bias)
    z = g.noise(20_000, torch.Generator().manual_seed(2))
    torch.testing.assert_close(g(z), z)
    pre = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    p = pre.inverse(g(z).detach().double(), conserve_pt=True).numpy()
    gen = Events(p, np.repeat(ttbar.pdg[:1], len(p), axis=0), process=ttbar.process)
    fg, ft = in_peak_fractions(gen), in_peak_fractions(ttbar)
    for name in fg:
        assert abs(fg[name] / ft[name] - 1) < 0.08, name
    assert physics.pt_balance(p).max() < 1e-12
    # without the residual, the same zeroed network gives a constant: no marginals at all
    h = Generator(18, 16, 2, 18, residual=False)
    torch.nn.init.zeros_(h.net[-1].weight)
    assert torch.unique(h(z)[:, 0]).numel() == 1


def test_autocast_follows_the_settings():
    from lhcgan.cpu import cpu_has_bf16
    from lhcgan.model import autocast

    lin = torch.nn.Linear(4, 4)
    x = torch.randn(3, 4)
    with autocast(torch.device("cpu"), cpu_bf16=False):
        assert lin(x).dtype == torch.float32
    with autocast(torch.device("cpu"), cpu_bf16=True):
        assert lin(x).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), cpu_bf16=None):
        assert lin(x).dtype == (torch.bfloat16 if cpu_has_bf16() else torch.float32)


def test_discriminator_sees_the_decay_coordinates(ttbar):
    from lhcgan.model import Bridge
    from lhcgan.preprocessing import DecayParametrisation, Standardizer

    pre = DecayParametrisation.fit(ttbar.momenta, ttbar.process)
    m = ttbar.resonance_masses()
    bridge = Bridge(pre, Standardizer.fit(ttbar.momenta), ttbar.process, mass_mean=m.mean(0), mass_scale=m.std(0),
                    conserve_pt=True, disc_masses=True, disc_coordinates=True)
    p = torch.as_tensor(ttbar.momenta[:100])
    f = bridge.features(p)
    assert f.shape == (100, bridge.n_features) == (100, 18 + 4 + 18)
    np.testing.assert_allclose(f[:, 22:].numpy(), pre.forward(ttbar.momenta[:100]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(f[:, 18:22].mean(0).numpy(), ((m[:100] - m.mean(0)) / m.std(0)).mean(0), atol=1e-5)


def test_generator_output_layer_runs_in_float32_under_bf16_autocast():
    from lhcgan.model import Generator, autocast

    torch.manual_seed(0)
    gen = Generator(18, 64, 3, 18, residual=False)
    z = gen.noise(256)
    with torch.no_grad():
        with autocast(torch.device("cpu"), cpu_bf16=True):
            x = gen(z)
        exact = gen(z)
    assert x.dtype == torch.float32
    # not rounded to bf16's 8-bit mantissa on the way out, and within bf16's error of the float32 network
    assert (x != x.bfloat16().float()).float().mean() > 0.9
    torch.testing.assert_close(x, exact, rtol=0.05, atol=0.02)


@pytest.mark.parametrize("kind", sorted(PARAMETRISATIONS))
def test_every_registered_parametrisation_inverts_and_round_trips(kind, ttbar):
    param = make_parametrisation(kind, ttbar.momenta, ttbar.process)
    x = param.forward(ttbar.momenta)
    np.testing.assert_allclose(param.inverse(x), ttbar.momenta, rtol=1e-6, atol=1e-6)
    again = parametrisation_from_dict(parametrisation_to_dict(param), ttbar.process)
    assert type(again) is PARAMETRISATIONS[kind].cls
    np.testing.assert_array_equal(again.forward(ttbar.momenta), x)


def test_an_unknown_parametrisation_is_refused_not_replaced():
    with pytest.raises(ConfigError, match="unknown parametrisation 'flow'"):
        parametrisation_from_dict({"kind": "flow", "state": {}}, TTBAR)
    with pytest.raises(ConfigError, match="parametrisation must be one of"):
        FitConfig(parametrisation="flow")


def test_net_slice_fills_the_threads_l2_with_one_layer_of_activations(tmp_path):
    from lhcgan.cpu import DEFAULT_L2, l2_bytes, net_slice

    for level, size in (("1", "32K"), ("2", "512K"), ("3", "32768K")):  # a sysfs cache folder as Linux writes it
        d = tmp_path / f"index{level}"
        d.mkdir()
        (d / "level").write_text(level + "\n")
        (d / "size").write_text(size + "\n")
    assert l2_bytes(str(tmp_path)) == 512 * 1024
    assert l2_bytes(str(tmp_path / "absent")) == DEFAULT_L2
    sizes = {(h, t): net_slice(h, t) for h in (64, 256, 512, 4096) for t in (1, 2, 8)}
    assert all(s & (s - 1) == 0 and 256 <= s <= 8192 for s in sizes.values())  # powers of two, bounded
    assert all(4 * h * s <= max(l2_bytes() * t, 4 * h * 256) for (h, t), s in sizes.items())  # within the caches
    assert sizes[(256, 2)] >= sizes[(512, 2)] and sizes[(256, 8)] >= sizes[(256, 1)]


def test_generation_does_not_depend_on_the_network_or_bridge_slices(monkeypatch):
    import lhcgan.modelfile as modelfile
    import lhcgan.numpynet as numpynet
    from lhcgan.modelfile import TrainedModel

    model = TrainedModel.load()
    z = numpynet.logistic_noise(3000, model.network.latent, np.random.default_rng(4))
    pdg = np.tile(np.asarray(next(iter(model.flavour_fractions)), np.int64), (len(z), 1))
    monkeypatch.setattr(numpynet, "net_slice", lambda hidden: 256)
    monkeypatch.setattr(modelfile, "BRIDGE_SLICE", 1000)  # slices that are no multiple of the network's
    small = model.momenta(z, pdg)
    monkeypatch.setattr(numpynet, "net_slice", lambda hidden: 8192)
    monkeypatch.setattr(modelfile, "BRIDGE_SLICE", 16384)
    large = model.momenta(z, pdg)
    assert small.shape == large.shape == (len(z), 6, 3)
    # float32 sums blocked differently differ by a few ulp (~1e-7); the quantile maps, steepest in the
    # tails, amplify that by at most ~100, so 1e-4 relative is already loose but catches mixed-up rows
    np.testing.assert_allclose(small, large, rtol=1e-4, atol=1e-3)
