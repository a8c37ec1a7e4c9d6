"""AutocastOptimWrapper: bfloat16 autocast training steps on CPU through mmengine's builder."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch import nn

import fastmetro_mm  # noqa: F401  (registers AutocastOptimWrapper)


def _wrapper(model: nn.Module, **extra):
    init_default_scope('mmpose')
    cfg = dict(type='AutocastOptimWrapper', optimizer=dict(type='AdamW', lr=1e-2),
               clip_grad=dict(max_norm=1.0), **extra)
    return build_optim_wrapper(model, cfg)


def test_forward_runs_in_bfloat16_and_weights_stay_float32():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    wrapper = _wrapper(model)
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    losses = []
    for _ in range(20):
        with wrapper.optim_context(model):
            out = model(x)
            assert out.dtype == torch.bfloat16
            loss = (out.float() - y).pow(2).mean()
        wrapper.update_params(loss)
        losses.append(loss.item())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert losses[-1] < 0.7 * losses[0]
    # Outside the wrapper's context the model is float32 again.
    assert model(x).dtype == torch.float32


def test_refuses_an_unknown_dtype():
    with pytest.raises(ValueError, match="dtype must be one of .*'float32'"):
        _wrapper(nn.Linear(2, 2), dtype='float32')
