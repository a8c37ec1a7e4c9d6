"""softmax_dropout: the plain softmax-then-dropout's values, draws and gradients, in place."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fastmetro_mm.models.attention import MultiheadAttention
from fastmetro_mm.models.softmax_dropout import softmax_dropout

BATCH, HEADS, TOKENS, HEAD_DIM = 3, 2, 9, 4


def _mask() -> torch.Tensor:
    mask = torch.zeros(TOKENS, TOKENS)
    mask[2:, :2] = float('-inf')  # masked entries: exact zeros after the softmax
    mask[5, 6:] = float('-inf')
    return mask


def _attend(q, k, v, mask, batch, fused):
    scores = q @ k.transpose(-2, -1)
    scores += mask
    if fused:
        dropped = softmax_dropout(scores, 0.3, batch)
    else:
        dropped = F.dropout(scores.softmax(-1).expand(batch, -1, -1, -1), 0.3, training=True)
    return dropped @ v


@pytest.mark.parametrize('shared', [False, True], ids=['per-image', 'shared-tokens'])
def test_values_draws_and_gradients_are_the_plain_ones_bit_for_bit(shared):
    generator = torch.Generator().manual_seed(1)
    rows = 1 if shared else BATCH
    inputs = [torch.randn(rows, HEADS, TOKENS, HEAD_DIM, generator=generator) for _ in range(3)]
    grad_out = torch.randn(BATCH, HEADS, TOKENS, HEAD_DIM, generator=generator)
    results = []
    for fused in (False, True):
        q, k, v = (x.clone().requires_grad_() for x in inputs)
        torch.manual_seed(5)
        out = _attend(q, k, v, _mask(), BATCH, fused)
        out.backward(grad_out)
        after = torch.rand(4)  # the generator has moved on by the same draws
        results.append([out.detach(), q.grad, k.grad, v.grad, after])
    for plain, fused in zip(*results):
        assert torch.equal(plain, fused)
    # The inputs were not written.
    assert all(torch.equal(x, y) for x, y in zip(inputs, (q, k, v)))


def test_a_second_backward_of_a_kept_graph_gives_the_same_gradients():
    q, k, v = (torch.randn(BATCH, HEADS, TOKENS, HEAD_DIM, requires_grad=True) for _ in range(3))
    torch.manual_seed(0)
    out = _attend(q, k, v, _mask(), BATCH, fused=True)
    out.sum().backward(retain_graph=True)
    first = q.grad.clone()
    q.grad = None
    out.sum().backward()
    assert torch.equal(first, q.grad)


def test_attention_in_training_equals_its_explicit_weights_path():
    # need_weights=True keeps the plain softmax and dropout: same draws, same result.
    torch.manual_seed(0)
    attention = MultiheadAttention(16, 4, dropout=0.2).train()
    tokens = torch.randn(BATCH, TOKENS, 16)
    results = []
    for need_weights in (False, True):
        x = tokens.clone().requires_grad_()
        attention.zero_grad(set_to_none=True)
        torch.manual_seed(3)
        out, _ = attention(x, x, x, attn_mask=_mask(), need_weights=need_weights)
        out.square().sum().backward()
        results.append([out.detach(), x.grad, attention.in_proj_weight.grad,
                        attention.out_proj.weight.grad])
    for plain, fused in zip(*results):
        assert torch.equal(plain, fused)


@pytest.mark.parametrize('p, shape, message', [
    (0.0, (1, 2, 3, 3), 'p must lie in'),
    (1.0, (1, 2, 3, 3), 'p must lie in'),
    (0.1, (2, 3, 3), r'expected \(1 or 4, H, L, S\)'),
    (0.1, (2, 2, 3, 3), r'expected \(1 or 4, H, L, S\)'),
])
def test_bad_arguments_are_named(p, shape, message):
    with pytest.raises(ValueError, match=message):
        softmax_dropout(torch.zeros(shape), p, 4)
