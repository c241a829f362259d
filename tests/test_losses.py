import pytest
import torch

from lhcgan.losses import KERNELS as REGISTRY
from lhcgan.losses import (discriminator_loss, generator_loss, kernel, mmd2, mmd2_terms, resonance_mmd,
                           roth_regularizer)

KERNELS = list(REGISTRY)


@pytest.mark.parametrize("name", KERNELS)
def test_mmd_is_zero_for_identical_and_positive_for_shifted(name):
    gen = torch.Generator().manual_seed(0)
    x = 80.4 + 2.085 * torch.randn(512, generator=gen, dtype=torch.float64)
    assert mmd2(x, x.clone(), [2.085], name).item() == pytest.approx(0, abs=1e-12)
    shifted = mmd2(x, x + 1.0, [2.085], name).item()
    assert shifted > 1e-3
    assert mmd2(x, x + 3.0, [2.085], name).item() > shifted  # grows with the shift


@pytest.mark.parametrize("name", KERNELS)
def test_fused_gradient_matches_autograd(name):
    gen = torch.Generator().manual_seed(1)
    x = (3 * torch.randn(60, generator=gen, dtype=torch.float64)).requires_grad_(True)
    y = 3 * torch.randn(70, generator=gen, dtype=torch.float64) + 1
    assert torch.autograd.gradcheck(lambda a: mmd2(a, y, [1.5, 4.0], name), (x,))

    def reference(a):
        d = lambda u, v: (u[:, None] - v[None, :]) ** 2  # noqa: E731
        return sum(kernel(d(a, a), w, name).mean() + kernel(d(y, y), w, name).mean()
                   - 2 * kernel(d(a, y), w, name).mean() for w in (1.5, 4.0))

    (g1,) = torch.autograd.grad(mmd2(x, y, [1.5, 4.0], name), x)
    (g2,) = torch.autograd.grad(reference(x), x)
    torch.testing.assert_close(g1, g2)


def test_breit_wigner_kernel_has_the_resonance_width_as_fwhm():
    d2 = torch.tensor([0.0, (2.085 / 2) ** 2])
    k = kernel(d2, 2.085, "breit-wigner")
    assert k[0] == 1 and k[1] == pytest.approx(0.5)


def test_resonance_mmd_centred_float32_matches_float64():
    gen = torch.Generator().manual_seed(2)
    m1 = torch.tensor([80.4, 80.4, 172.5, 172.5], dtype=torch.float64) + torch.randn(256, 4, generator=gen, dtype=torch.float64)
    m2 = m1 + 0.5
    widths = [[2.085], [2.085], [1.42], [1.42]]
    exact = resonance_mmd(m1, m2, widths, "breit-wigner")
    centred = resonance_mmd(m1, m2, widths, "breit-wigner", centre=[80.4, 80.4, 172.5, 172.5])
    assert centred.item() == pytest.approx(exact.item(), rel=1e-5)


def test_gan_losses_and_regulariser():
    logits = torch.tensor([10.0, -10.0])
    assert discriminator_loss(logits[:1], logits[1:]).item() < 1e-3  # perfect discriminator
    assert generator_loss(torch.tensor([-10.0])).item() > 9  # generator fooled nobody
    x_real = torch.randn(32, 3, requires_grad=True)
    x_fake = torch.randn(32, 3, requires_grad=True)
    w = torch.tensor([1.0, -2.0, 0.5])
    omega = roth_regularizer(x_real @ w, x_real, x_fake @ w, x_fake)
    # for a linear φ, |∇φ|² = |w|² and Ω = |w|² E[(1−D)²] + |w|² E[D²]
    d_r, d_f = torch.sigmoid(x_real @ w), torch.sigmoid(x_fake @ w)
    expected = w.pow(2).sum() * (((1 - d_r) ** 2).mean() + (d_f**2).mean())
    assert omega.item() == pytest.approx(expected.item(), rel=1e-6)


def test_resonance_mmd_is_the_sum_of_its_terms_whatever_the_blocks(monkeypatch):
    import lhcgan.losses as losses

    gen = torch.Generator().manual_seed(3)
    m1 = (torch.tensor([80.4, 80.4, 172.5, 172.5], dtype=torch.float64)
          + 3 * torch.randn(300, 4, generator=gen, dtype=torch.float64)).requires_grad_(True)
    m2 = m1.detach()[:250] + torch.randn(250, 4, generator=gen, dtype=torch.float64)
    widths = [[2.085], [2.085, 6.0], [1.42], [1.42]]
    for name in KERNELS:
        separate = sum(mmd2(m1[:, k], m2[:, k], w, name) for k, w in enumerate(widths))
        (g_sep,) = torch.autograd.grad(separate, m1)
        for elements in (1000, 1 << 19):  # many small blocks (a ragged last one) and one block
            monkeypatch.setattr(losses, "MMD_ELEMENTS", elements)
            joint = resonance_mmd(m1, m2, widths, name)
            (g_joint,) = torch.autograd.grad(joint, m1)
            assert joint.item() == pytest.approx(separate.item(), rel=1e-7)  # sums in another order
            torch.testing.assert_close(g_joint, g_sep)


def test_regulariser_of_a_shared_batch_equals_separate_passes():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))
    x_real, x_fake = torch.randn(20, 5, requires_grad=True), torch.randn(30, 5, requires_grad=True)
    l_real, l_fake = net(torch.cat([x_real, x_fake])).squeeze(-1).split([20, 30])
    shared = roth_regularizer(l_real, x_real, l_fake, x_fake)
    l_real2, l_fake2 = net(x_real).squeeze(-1), net(x_fake).squeeze(-1)
    (g_real,) = torch.autograd.grad(l_real2.sum(), x_real, create_graph=True)
    (g_fake,) = torch.autograd.grad(l_fake2.sum(), x_fake, create_graph=True)
    d_real, d_fake = torch.sigmoid(l_real2), torch.sigmoid(l_fake2)
    separate = ((1 - d_real) ** 2 * g_real.pow(2).sum(-1)).mean() + (d_fake**2 * g_fake.pow(2).sum(-1)).mean()
    assert shared.item() == pytest.approx(separate.item(), rel=1e-6)
    grads = torch.autograd.grad(shared, list(net.parameters()))
    expected = torch.autograd.grad(separate, list(net.parameters()))
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", KERNELS)
def test_weighted_mmd_equals_mmd_of_duplicated_events(name):
    gen = torch.Generator().manual_seed(4)
    x = (3 * torch.randn(50, generator=gen, dtype=torch.float64)).requires_grad_(True)
    y = 3 * torch.randn(40, generator=gen, dtype=torch.float64) + 1
    k = torch.randint(1, 4, (40,), generator=gen)
    masses = lambda a: a[:, None]  # noqa: E731 - one "resonance"
    weighted = resonance_mmd(masses(x), masses(y), [[1.5, 4.0]], name, real_weights=k.double())
    repeated = resonance_mmd(masses(x), masses(y.repeat_interleave(k)), [[1.5, 4.0]], name)
    torch.testing.assert_close(weighted, repeated)
    (g1,) = torch.autograd.grad(weighted, x)
    (g2,) = torch.autograd.grad(repeated, x)
    torch.testing.assert_close(g1, g2)


def test_negative_weights_cancel_in_mmd_and_discriminator_loss():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(300, generator=gen, dtype=torch.float64)
    extra = torch.randn(100, generator=gen, dtype=torch.float64) + 3  # an excess, taken back by negatives
    y = torch.cat([x, extra, extra])
    w = torch.cat([torch.ones(300), torch.ones(100), -torch.ones(100)]).double()
    assert mmd2(x, x, [1.0], "gauss").item() == pytest.approx(0, abs=1e-12)
    assert resonance_mmd(x[:, None], y[:, None], [[1.0]], "gauss", real_weights=w).item() == pytest.approx(0, abs=1e-12)
    assert resonance_mmd(x[:, None], y[:, None], [[1.0]], "gauss").item() > 1e-2  # unsigned: the excess stays
    logits = torch.randn(500, generator=gen)
    signed = torch.cat([logits[:300], logits[300:400], logits[300:400]])
    sign = w.float() * (w.abs().sum() / w.sum()).float()  # sign(w) Σ|w|/Σw, as the trainer passes it
    fake = torch.zeros(1)
    assert discriminator_loss(signed, fake, sign).item() == pytest.approx(
        discriminator_loss(logits[:300], fake).item(), rel=1e-5)


@pytest.mark.parametrize("name", ["breit-wigner", "gauss"])
def test_mmd_without_its_constant_has_the_same_gradient_and_drops_only_the_real_sum(name):
    # the yy sum depends on the real events alone: leaving it out changes the value by exactly that sum
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(300, 2, generator=g, dtype=torch.float64) * 3).requires_grad_(True)
    y = torch.randn(400, 2, generator=g, dtype=torch.float64) * 3 + 0.5
    w = torch.rand(400, generator=g, dtype=torch.float64) + 0.5
    full = mmd2_terms(x.T, y.T, [1.5, 4.0], name, w)  # float64 throughout (resonance_mmd returns float32)
    part = mmd2_terms(x.T, y.T, [1.5, 4.0], name, w, constant=False)
    (g_full,) = torch.autograd.grad(full, x)
    (g_part,) = torch.autograd.grad(part, x)
    torch.testing.assert_close(g_part, g_full, rtol=1e-12, atol=0)
    v = w / w.sum()
    yy = sum((v[:, None] * v[None, :] * kernel((y[:, k, None] - y[None, :, k]) ** 2, width, name)).sum()
             for k, width in enumerate((1.5, 4.0)))
    assert (full - part).item() == pytest.approx(yy.item(), rel=1e-9)
