import numpy as np
import torch

from lhcgan import physics
from lhcgan.model import project_pt


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
