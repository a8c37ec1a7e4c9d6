"""Multi-head attention through PyTorch's fused scaled-dot-product attention.

Parameters are laid out like ``nn.MultiheadAttention``'s (``in_proj_weight`` (3d, d),
``in_proj_bias`` (3d,), ``out_proj``), so the official FastMETRO weights load 1:1. The normal
path calls ``F.scaled_dot_product_attention``; ``need_weights=True`` switches to an explicit
softmax that also returns the weights averaged over heads, for visualisation.

Shapes: B batch, L query tokens, S key tokens, d model width, H heads.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from . import dropout_draws
from .autocast_weights import AutocastWeights
from .graph_capture import capturing_graph
from .softmax_dropout import softmax_dropout


class MultiheadAttention(AutocastWeights):
    """Batch-first multi-head attention with ``nn.MultiheadAttention``'s parameters.

    Args:
        embed_dim: d, the token width.
        num_heads: H; must divide d.
        dropout: dropout probability on the attention weights, applied only in training
            (as ``nn.MultiheadAttention`` does).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(
                f'MultiheadAttention: embed_dim {embed_dim} is not divisible by '
                f'num_heads {num_heads}')
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        # Rows [0:d] project queries, [d:2d] keys, [2d:3d] values, as in nn.MultiheadAttention.
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # Same initial distribution as nn.MultiheadAttention.
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, H, T, d / H)."""
        batch, tokens, _ = x.shape
        return x.view(batch, tokens, self.num_heads, self.head_dim).transpose(1, 2)

    def project(self, x: torch.Tensor, which: str) -> torch.Tensor:
        """Projects tokens to one of query 'q', key 'k' or value 'v', split into heads.

        Args:
            x: (B, T, d) tokens (B may be 1 for tokens shared by every image).
            which: 'q', 'k' or 'v'.

        Returns:
            (B, H, T, d / H).
        """
        row = 'qkv'.index(which) * self.embed_dim
        weight = self.autocast_weight('in_proj_weight')[row:row + self.embed_dim]
        bias = self.autocast_weight('in_proj_bias')[row:row + self.embed_dim]
        return self._split_heads(F.linear(x, weight, bias))

    def forward(self,
                query: torch.Tensor,
                key: torch.Tensor,
                value: torch.Tensor,
                attn_mask: Optional[torch.Tensor] = None,
                need_weights: bool = False,
                batch_size: Optional[int] = None,
                projected_query: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Attends from ``query`` to ``key``/``value``.

        Inputs with batch 1 are shared by every image: they are projected once and broadcast
        against the others (FastMETRO's joint and vertex tokens enter the first decoder layer
        the same for every image).

        Args:
            query: (B | 1, L, d).
            key: (B | 1, S, d).
            value: (B | 1, S, d).
            attn_mask: optional (L, S) ADDITIVE float mask (0 = may attend, -inf = may not),
                see ``fastmetro_mm.mesh.attention_mask.attention_mask_to_additive``. Boolean
                masks are refused: SDPA and nn.MultiheadAttention read True oppositely.
            need_weights: also return the attention weights (explicit softmax path).
            batch_size: broadcast every input to this batch before attending (needed when
                the attention dropout must differ per image); default: the largest batch
                of the inputs.
            projected_query: ``project(query, 'q')`` computed earlier, (B | 1, H, L, d / H);
                ``query`` is then only used for its shape.

        Returns:
            output: (B, L, d).
            weights: (B, L, S) attention probabilities averaged over heads, before dropout;
                None unless ``need_weights``.
        """
        if attn_mask is not None:
            if not attn_mask.is_floating_point():
                raise TypeError(
                    'MultiheadAttention: attn_mask must be an additive float mask (0 / -inf), '
                    f'got dtype {attn_mask.dtype}; convert a boolean mask with '
                    'attention_mask_to_additive')
            expected = (query.shape[1], key.shape[1])
            if tuple(attn_mask.shape) != expected:
                raise ValueError(
                    f'MultiheadAttention: attn_mask has shape {tuple(attn_mask.shape)}, '
                    f'expected (L, S) = {expected}')
        q = self.project(query, 'q') if projected_query is None else projected_query
        k = self.project(key, 'k')  # (B | 1, H, S, d/H)
        v = self.project(value, 'v')  # (B | 1, H, S, d/H)
        batch = batch_size or max(q.shape[0], k.shape[0], v.shape[0])
        mask = None if attn_mask is None else attn_mask.to(q.dtype)
        dropout_p = self.dropout if self.training else 0.0

        weights: Optional[torch.Tensor] = None
        if need_weights or dropout_p > 0:
            # With dropout, SDPA on the CPU takes its math path anyway, which adds a guard
            # against fully masked rows (none here: every token sees itself) and, under
            # autocast, float32 copies; the explicit softmax draws the same dropout mask.
            # Scores and softmax are computed at the inputs' own batch: tokens shared by
            # every image (batch 1) attend once, and only the dropout, drawn for the whole
            # batch as before, differs per image.
            scores = (q * self.head_dim ** -0.5) @ k.transpose(-2, -1)  # (B | 1, H, L, S)
            if mask is not None:
                scores += mask  # in place: no second tensor of the scores' size
            if self._softmax_in_place(scores, need_weights, dropout_p):
                dropped = softmax_dropout(scores, dropout_p, batch)
            else:
                probs = scores.softmax(dim=-1)
                if need_weights:
                    weights = probs.mean(dim=1).expand(batch, -1, -1)  # (B, L, S)
                probs = probs.expand(batch, -1, -1, -1)
                dropped = dropout_draws.dropout(probs, dropout_p, self.training)
            out = dropped @ v  # (B, H, L, d/H); the weights feed nothing else
        else:
            q, k, v = (t.expand(batch, -1, -1, -1) if t.shape[0] != batch else t
                       for t in (q, k, v))
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        length = out.shape[2]
        out = out.transpose(1, 2).reshape(batch, length, self.embed_dim)  # (B, L, d)
        return self.autocast_call('out_proj', out), weights

    @staticmethod
    def _softmax_in_place(scores: torch.Tensor, need_weights: bool, dropout_p: float) -> bool:
        """Whether softmax and dropout can run as ``softmax_dropout`` (the same values).

        Only on the CPU: elsewhere ``F.dropout`` is one fused kernel with its own random
        numbers. Not when the weights are returned, under autocast (whose softmax follows its
        own dtype rules) or while a graph is traced, exported or compiled.
        """
        return (dropout_p > 0 and not need_weights and scores.device.type == 'cpu'
                and not torch.is_autocast_enabled('cpu') and not capturing_graph())

    def extra_repr(self) -> str:
        return f'embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}'
