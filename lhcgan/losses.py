"""GAN losses, the Roth et al. gradient regulariser and the resonance-mass MMD."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lhcgan.kernels import KERNELS


def discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor,
                       real_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of D(x) = sigmoid(logits): real → 1, generated → 0.

    ``real_weights`` (B,): per real event, for a weighted sample drawn ∝ |w|: sign(w) · Σ|w|/Σw, so the
    batch mean estimates the weighted expectation; negative events enter with their sign.
    """
    real = F.softplus(-logits_real)
    if real_weights is not None:
        real = real * real_weights
    return real.mean() + F.softplus(logits_fake).mean()


def generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss −log D(G(z))."""
    return F.softplus(-logits_fake).mean()


def roth_regularizer(
    logits_real: torch.Tensor, x_real: torch.Tensor, logits_fake: torch.Tensor, x_fake: torch.Tensor
) -> torch.Tensor:
    """Ω of Roth et al., arXiv:1705.09367, eq. (9), for D = sigmoid(φ):

    Ω = E_real[(1 − D)² |∇φ|²] + E_fake[D² |∇φ|²].

    ``x_real`` and ``x_fake`` must require gradients and ``logits_*`` depend on them.
    """
    # one backward pass for both: when real and generated rows went through D as one batch, separate
    # calls would each run the whole batch's backward (half of it on zeros)
    g_real, g_fake = torch.autograd.grad(logits_real.sum() + logits_fake.sum(), (x_real, x_fake), create_graph=True)
    d_real, d_fake = torch.sigmoid(logits_real), torch.sigmoid(logits_fake)
    return ((1 - d_real) ** 2 * g_real.pow(2).sum(-1)).mean() + (d_fake**2 * g_fake.pow(2).sum(-1)).mean()


def kernel(d2: torch.Tensor, width: float, name: str) -> torch.Tensor:
    """k(x, y) of kernel ``name`` (see `KERNELS`) from the squared distance d² = (x − y)², GeV²."""
    if name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}")
    return KERNELS[name](d2, width)


MMD_ELEMENTS = 1 << 19  # kernel-matrix entries per block: a few passes over it stay in the CPU's cache


class _MMD2(torch.autograd.Function):
    """Σ_t MMD²(x_t, y_t) over T independent terms, with the gradient computed in the forward pass.

    Written as MMD² = Σ_ab w_a w_b k(z_a − z_b) over z = (x, y) with w = (1/n, −1/m), the
    gradient is ∂/∂x_i = 2 w_i Σ_b w_b k′(x_i − z_b): one pass over the (x, z) matrix gives
    the value's xx and xy sums and the gradient, a second over (y, y) adds the constant yy sum.
    Autograd would keep and revisit several (n × n) intermediates per term instead. Without
    ``constant`` the yy sum, which has no gradient, is left out: the value is then MMD² minus
    a constant, and a third of the work is saved.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor, widths: torch.Tensor, name: str,
                v: torch.Tensor | None, constant: bool = True) -> torch.Tensor:
        (t, n), m = x.shape, y.shape[1]
        z = torch.cat([x, y], dim=1)
        v = x.new_full((m,), 1 / m) if v is None else v.to(x)  # y's weights, summing to 1
        w = torch.cat([x.new_full((n,), 1 / n), -v])
        c = KERNELS[name].constant(widths.to(x))[:, None, None]
        gauss = KERNELS[name].family == "exp"
        rows = max(1, MMD_ELEMENTS // (t * (n + m)))
        grad = torch.empty_like(x)
        s_x = s_xy = s_yy = x.new_zeros(t)
        # one workspace for all blocks: fresh multi-MB buffers per block would cost page faults
        d_buf, k_buf = x.new_empty(t, rows, n + m), x.new_empty(t, rows, n + m)
        for i in range(0, n, rows):
            rb = min(rows, n - i)
            d, k = d_buf[:, :rb], k_buf[:, :rb]
            torch.sub(x[:, i : i + rb, None], z[:, None, :], out=d)
            torch.mul(d, d, out=k)
            if gauss:  # k = exp(c d²), k′ = 2c d k
                k.mul_(c).exp_()
                s_x = s_x + (k @ w).sum(1)
                s_xy = s_xy + (k[:, :, n:] @ v).sum(1)
                grad[:, i : i + rb] = (k.mul_(d) @ w) * (4 / n) * c[:, 0]
            else:  # k = c r with r = 1/(d² + c), k′ = −2 c d r²
                r = k.add_(c).reciprocal_()
                s_x = s_x + (r @ w).sum(1) * c[:, 0, 0]
                s_xy = s_xy + (r[:, :, n:] @ v).sum(1) * c[:, 0, 0]
                grad[:, i : i + rb] = (r.square_().mul_(d) @ w) * (-4 / n) * c[:, 0]
        for j in range(0, m if constant else 0, rows):
            rb = min(rows, m - j)
            d2 = d_buf[:, :rb, :m]
            torch.sub(y[:, j : j + rb, None], y[:, None, :], out=d2)
            d2.square_()
            k = d2.mul_(c).exp_() if gauss else d2.add_(c).reciprocal_().mul_(c)
            s_yy = s_yy + ((k @ v) * v[j : j + rb]).sum(1)
        ctx.save_for_backward(grad)
        # Σ_a∈x w_a Σ_b w_b k_ab = xx/n² − Σ v xy/n; the xy sum enters MMD² twice
        return (s_x / n - s_xy / n + s_yy).sum()

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return g * grad, None, None, None, None, None


def mmd2_terms(x: torch.Tensor, y: torch.Tensor, widths: Sequence[float], name: str,
               y_weights: torch.Tensor | None = None, constant: bool = True) -> torch.Tensor:
    """Σ_t MMD²(x_t, y_t): biased (V-statistic) MMD² of T pairs of 1-d samples, each with its own width.

    x: (T, n), y: (T, m), widths: T kernel widths, y_weights: (m,) weights of y's events (signed
    allowed; normalised here to sum to 1), None for equal weights. Differentiable with respect to
    x; computed in the dtype of x. ``constant=False`` leaves out the yy sum: the same gradient, a value
    that is MMD² minus a term of y alone, for a third less work.
    """
    w = torch.as_tensor([float(v) for v in widths], dtype=torch.float64)
    assert x.ndim == y.ndim == 2 and len(x) == len(y) == len(w)
    v = None if y_weights is None else (y_weights / y_weights.sum()).to(x.dtype).detach().contiguous()
    return _MMD2.apply(x, y.to(x.dtype).detach().contiguous(), w, name, v, constant)


def mmd2(x: torch.Tensor, y: torch.Tensor, widths: Sequence[float], name: str) -> torch.Tensor:
    """Biased (V-statistic) MMD² between two 1-d samples, summed over kernel widths.

    It is exactly 0 for identical samples and positive otherwise. x: (n,), y: (m,);
    differentiable with respect to x. Computed in the dtype of x: centre the values
    first (e.g. subtract the nominal mass) when that is float32.
    """
    t = len(widths)
    return mmd2_terms(x.expand(t, -1), y.expand(t, -1), widths, name)


def resonance_mmd(
    m_fake: torch.Tensor,
    m_real: torch.Tensor,
    widths: Sequence[Sequence[float]],
    name: str,
    centre: Sequence[float] | None = None,
    real_weights: torch.Tensor | None = None,
    constant: bool = True,
) -> torch.Tensor:
    """MMD² summed over resonances.

    Args:
        m_fake, m_real: (batch, n_resonances) masses in GeV, any float dtype.
        widths: kernel widths per resonance, GeV.
        centre: nominal masses; subtracted in the input dtype, the MMD then runs in float32.
        real_weights: (batch,) weights of the real events (signed allowed), None for equal weights.
        constant: include the real events' own kernel sum (no gradient; see `mmd2_terms`).
    """
    terms = [(k, v) for k, ws in enumerate(widths) for v in ws]
    cols = [k for k, _ in terms]
    x, y = m_fake[:, cols].T, m_real[:, cols].T
    if centre is not None:
        mid = torch.as_tensor([centre[k] for k in cols], dtype=x.dtype, device=x.device)[:, None]
        x, y = (x - mid).float(), (y - mid).float()
    return mmd2_terms(x.contiguous(), y, [v for _, v in terms], name, real_weights, constant).float()
