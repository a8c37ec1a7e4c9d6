"""Weights cast once under autocast for inference: the same outputs as casting every call.

The transformer keeps bfloat16 copies of its weights for inference under autocast (a
speed-up only); the in-place residual adds are covered by test_in_place_residuals.py.
"""
import torch

from fastmetro_mm.models.transformer import FastMETROTransformer
from tiny_transformer import tiny_transformer as _transformer
from tiny_transformer import transformer_inputs as _inputs


def _kept(model: FastMETROTransformer) -> int:
    return sum(len(m._autocast_weights) for m in model.modules()
               if hasattr(m, '_autocast_weights'))


def _run(model, inputs, grad: bool, **kwargs):
    with torch.set_grad_enabled(grad), torch.autocast('cpu', dtype=torch.bfloat16):
        return model(*inputs, **kwargs)


def test_kept_casts_give_the_outputs_of_autocast_casting_every_call():
    model = _transformer()
    inputs = _inputs(3, shared=False)
    # With autograd on, autocast casts in every call and nothing is kept: the reference.
    reference = _run(model, inputs, grad=True)
    assert _kept(model) == 0
    first = _run(model, inputs, grad=False)
    kept = _kept(model)
    assert kept > 0
    second = _run(model, inputs, grad=False)
    assert _kept(model) == kept
    for ref, a, b in zip(reference[:3], first[:3], second[:3]):
        assert a.dtype == ref.dtype
        torch.testing.assert_close(a, ref.detach(), rtol=0, atol=0)
        torch.testing.assert_close(b, ref.detach(), rtol=0, atol=0)


def test_kept_casts_follow_weight_changes_and_moves():
    model = _transformer()
    inputs = _inputs(2, shared=False)
    _run(model, inputs, grad=False)
    with torch.no_grad():
        model.decoder.layers[1].ffn.fc_in.weight.add_(0.5)  # an optimizer-style update
    updated = _run(model, inputs, grad=False)
    expected = _run(model, inputs, grad=True)
    torch.testing.assert_close(updated.queries, expected.queries.detach(), rtol=0, atol=0)
    model.to(torch.float64)
    assert _kept(model) == 0


def test_nothing_kept_without_autocast():
    model = _transformer()
    with torch.no_grad():
        model(*_inputs(2, shared=False))
    assert _kept(model) == 0
