"""BatchedMuon (int_exp/models/muon.py) against torch.optim.Muon: the same updates."""

from __future__ import annotations

import pytest
import torch

from int_exp.models.muon import BatchedMuon, orthogonalize


def _params(seed: int) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    shapes = [(16, 16), (16, 16), (48, 16), (16, 48), (48, 16)]  # square, tall and wide, repeated shapes
    return [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]


@pytest.mark.parametrize("nesterov", [True, False])
def test_batched_muon_matches_torch_muon_over_steps(nesterov):
    ours, theirs = _params(0), _params(0)
    opts = [BatchedMuon(ours, lr=0.02, weight_decay=0.1, nesterov=nesterov),
            torch.optim.Muon(theirs, lr=0.02, weight_decay=0.1, nesterov=nesterov)]
    gen = torch.Generator().manual_seed(1)
    for _ in range(4):
        grads = [torch.randn(p.shape, generator=gen) for p in ours]
        for params, opt in zip((ours, theirs), opts):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            opt.step()
    for a, b, start in zip(ours, theirs, _params(0)):
        moved = (b.detach() - start).abs().max()
        assert moved > 0.01  # the step did something
        # bf16 iterations: batched and single matmuls round differently, far below the step size
        assert (a.detach() - b.detach()).abs().max() < 0.05 * moved
        assert torch.allclose(opts[0].state[a]["momentum_buffer"], opts[1].state[b]["momentum_buffer"], atol=1e-6)


def test_orthogonalize_gives_near_orthogonal_rows():
    x = torch.randn(3, 8, 32)
    o = orthogonalize(x, (3.4445, -4.775, 2.0315), 5, 1e-7).float()
    singular = torch.linalg.svdvals(o)
    assert o.shape == x.shape
    assert singular.min() > 0.5 and singular.max() < 1.5  # Muon's quintic: U S' V^T with S' ~ U(0.5, 1.5)


def test_parameters_without_gradient_are_left_alone():
    params = _params(0)
    before = [p.detach().clone() for p in params]
    params[0].grad = torch.ones_like(params[0])
    BatchedMuon(params, lr=0.02).step()
    assert not torch.equal(params[0].detach(), before[0])
    assert all(torch.equal(p.detach(), b) for p, b in zip(params[1:], before[1:]))
