"""Softmax then dropout of attention scores, with the large tensors written in place.

In training, FastMETRO's masked token self-attention makes (B, H, 445, 445) tensors: 101 MB
each at batch 16 in float32. Written as ``F.dropout(scores.softmax(-1))``, autograd makes a
fresh one for the softmax, and in the backward for the dropout's gradient and the softmax's
gradient. A fresh tensor that large costs page faults on every step (about 25 ms each on a
2-core CPU, more than the arithmetic). Here the softmax overwrites the scores, and the
backward works in one buffer. The values are those of the plain composition, bit for bit:
the same kernels (``_softmax``, ``bernoulli_``, ``_softmax_backward_data``) in the same
order, so the dropout draws are the same too. It is the CPU's dropout: on CUDA ``F.dropout``
is one fused kernel with other random numbers, and the attention keeps it there.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch.autograd.function import once_differentiable

from .dropout_draws import dropout_mask


class _SoftmaxDropout(torch.autograd.Function):
    """``F.dropout(softmax(scores, -1).expand(batch, ...), p)`` on the CPU's dropout path."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor, p: float,
                batch: int) -> Tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        probs = torch._softmax(scores, -1, False, out=scores)
        ctx.mark_dirty(scores)
        expanded = probs.expand(batch, *probs.shape[1:])
        # What F.dropout does off CUDA: a {0, 1} mask drawn for every entry, scaled, multiplied
        # (the mask may come drawn ahead: dropout_draws.py).
        noise = dropout_mask(expanded, p)
        ctx.save_for_backward(probs, noise)
        return expanded * noise, probs

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_dropped: Optional[torch.Tensor],
                 grad_probs: Optional[torch.Tensor]) -> Tuple[Optional[torch.Tensor], None, None]:
        if grad_probs is not None:
            raise RuntimeError('softmax_dropout: its second output is the softmax written over '
                               'the scores and takes no gradient')
        if grad_dropped is None:
            return None, None, None
        probs, noise = ctx.saved_tensors
        # The weights feed one matrix product and nothing else (see softmax_dropout): its
        # backward made this gradient for this function alone, so it may be overwritten.
        if _dense_like(grad_dropped, noise):
            grad = grad_dropped.mul_(noise)
        else:
            grad = grad_dropped * noise
        if grad.shape[0] != probs.shape[0]:
            grad = grad.sum(0, keepdim=True)  # the backward of the expand
        grad_scores = torch._softmax_backward_data(grad, probs, -1, probs.dtype,
                                                   grad_input=grad)
        return grad_scores, None, None


def _dense_like(grad: torch.Tensor, noise: torch.Tensor) -> bool:
    """Whether ``grad`` can take the product in place: contiguous, the mask's shape and dtype."""
    return grad.is_contiguous() and grad.shape == noise.shape and grad.dtype == noise.dtype


def softmax_dropout(scores: torch.Tensor, p: float, batch: int) -> torch.Tensor:
    """Dropout of the softmax of ``scores`` over the last axis, drawn per image.

    Equal to ``F.dropout(scores.softmax(-1).expand(batch, -1, -1, -1), p, training=True)``
    on the CPU bit for bit, dropout draws included, and so are the gradients. Two things
    make that cheap and are the caller's to keep:

    - ``scores`` is overwritten with its softmax: pass a tensor nothing else uses (the
      scores the attention just computed);
    - the result must feed one matrix product and nothing else, whose backward then hands
      this function a gradient of its own, which the backward overwrites.

    Args:
        scores: (B | 1, H, L, S) float attention scores, mask added; B = 1 for tokens shared
            by every image.
        p: dropout probability, 0 < p < 1.
        batch: B, the number of images (dropout masks drawn).

    Returns:
        (B, H, L, S) attention weights after dropout.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f'softmax_dropout: p must lie in (0, 1), got {p}')
    if scores.dim() != 4 or scores.shape[0] not in (1, batch):
        raise ValueError(f'softmax_dropout: expected (1 or {batch}, H, L, S) scores, got '
                         f'{tuple(scores.shape)}')
    dropped, _ = _SoftmaxDropout.apply(scores, p, batch)
    return dropped
