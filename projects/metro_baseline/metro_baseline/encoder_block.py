"""One of METRO's three transformer-encoder blocks (Lin et al., CVPR 2021), BERT style.

A block maps every token's feature vector from ``in_dim`` to ``out_dim`` through a BERT
encoder of width ``hidden_dim``:

    x (B, T, in_dim) -> Linear(in_dim, H) + learned position embedding (T, H) -> dropout
      -> ``num_layers`` post-norm BERT layers (self-attention, GELU FFN of ``ffn_dim``)
      -> Linear(H, out_dim) + Linear(in_dim, out_dim)(x)      (residual from the input)

METRO stacks three blocks whose widths shrink ("progressive dimensionality reduction"):
in 2051 -> 512 -> 128 -> 3, hidden 1024 / 256 / 128, 4 layers and 4 heads each, FFN 3072
(BERT-base's intermediate size, kept in all blocks by the released code's legacy setting).

The released code builds each block from a full BERT model, whose word-piece embedding table
(30522 x H), BERT's own position / token-type embeddings and pooler are never used but are
counted in the paper's 102.3M. ``with_unused_bert_tables=True`` adds frozen tensors of those
shapes so that the count matches (102,256,646 for the three blocks); they take no part in the
computation and receive no gradient.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: BERT-base vocabulary, position-table length and token types (the released code's config).
BERT_VOCAB_SIZE = 30522
BERT_MAX_POSITIONS = 512
BERT_TYPE_VOCAB_SIZE = 2
#: BERT's LayerNorm epsilon.
LAYER_NORM_EPS = 1e-12


class BertSelfAttention(nn.Module):
    """Multi-head self-attention with BERT's separate query/key/value/output projections.

    Args:
        hidden_dim: token width H.
        num_heads: heads; must divide H.
        dropout: dropout on the attention weights (training only).
    """

    def __init__(self, hidden_dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if hidden_dim % num_heads:
            raise ValueError(f'BertSelfAttention: hidden_dim {hidden_dim} is not divisible '
                             f'by num_heads {num_heads}')
        self.num_heads = num_heads
        self.query = nn.Linear(hidden_dim, hidden_dim)
        self.key = nn.Linear(hidden_dim, hidden_dim)
        self.value = nn.Linear(hidden_dim, hidden_dim)
        self.output = nn.Linear(hidden_dim, hidden_dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, H) -> (B, T, H); every token attends to every token (no mask in METRO)."""
        batch, length, width = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:  # (B, T, H) -> (B, heads, T, H / heads)
            return t.view(batch, length, self.num_heads, -1).transpose(1, 2)

        attended = F.scaled_dot_product_attention(
            heads(self.query(x)), heads(self.key(x)), heads(self.value(x)),
            dropout_p=self.dropout if self.training else 0.0)
        return self.output(attended.transpose(1, 2).reshape(batch, length, width))


class BertLayer(nn.Module):
    """Post-norm BERT layer: ``x = LN(x + Drop(Attn(x)))``, ``x = LN(x + Drop(FFN(x)))``.

    Args:
        hidden_dim: token width H.
        num_heads: attention heads.
        ffn_dim: hidden width of the GELU feed-forward block.
        dropout: dropout on attention weights and on both residual branches.
    """

    def __init__(self, hidden_dim: int, num_heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.attention = BertSelfAttention(hidden_dim, num_heads, dropout)
        self.attention_norm = nn.LayerNorm(hidden_dim, eps=LAYER_NORM_EPS)
        self.ffn_in = nn.Linear(hidden_dim, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, hidden_dim)
        self.ffn_norm = nn.LayerNorm(hidden_dim, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, H) -> (B, T, H)."""
        x = self.attention_norm(x + self.dropout(self.attention(x)))
        return self.ffn_norm(x + self.dropout(self.ffn_out(F.gelu(self.ffn_in(x)))))


class METROEncoderBlock(nn.Module):
    """A METRO transformer-encoder block: (B, T, in_dim) -> (B, T, out_dim).

    Args:
        in_dim: input feature width (2051 = 2048 image + 3 template xyz in the first block).
        hidden_dim: BERT width H (1024 / 256 / 128).
        out_dim: output width (512 / 128 / 3).
        num_layers: BERT layers (4).
        num_heads: attention heads (4).
        ffn_dim: feed-forward width (3072).
        dropout: dropout probability (0.1).
        max_tokens: length of the learned position table (BERT's 512); T must not exceed it.
        with_unused_bert_tables: add the released code's unused, frozen BERT tables (see the
            module docstring) so that the parameter count equals the paper's.
    """

    def __init__(self,
                 in_dim: int,
                 hidden_dim: int,
                 out_dim: int,
                 num_layers: int = 4,
                 num_heads: int = 4,
                 ffn_dim: int = 3072,
                 dropout: float = 0.1,
                 max_tokens: int = BERT_MAX_POSITIONS,
                 with_unused_bert_tables: bool = False) -> None:
        super().__init__()
        self.input_embedding = nn.Linear(in_dim, hidden_dim)
        self.position_embedding = nn.Embedding(max_tokens, hidden_dim)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            BertLayer(hidden_dim, num_heads, ffn_dim, dropout) for _ in range(num_layers))
        self.output_head = nn.Linear(hidden_dim, out_dim)
        self.residual = nn.Linear(in_dim, out_dim)
        self.apply(_bert_init)
        self.unused_bert_tables = (_unused_bert_tables(hidden_dim)
                                   if with_unused_bert_tables else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in_dim) -> (B, T, out_dim)."""
        length = x.shape[1]
        if length > self.position_embedding.num_embeddings:
            raise ValueError(f'METROEncoderBlock: {length} tokens but the position table has '
                             f'{self.position_embedding.num_embeddings} entries')
        hidden = self.input_embedding(x) + self.position_embedding.weight[:length]
        hidden = self.dropout(hidden)
        for layer in self.layers:
            hidden = layer(hidden)
        return self.output_head(hidden) + self.residual(x)


def _bert_init(module: nn.Module) -> None:
    """BERT's initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if getattr(module, 'bias', None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _unused_bert_tables(hidden_dim: int) -> nn.ParameterDict:
    """Frozen tensors shaped as the BERT embeddings and pooler the released code never uses."""
    shapes = {
        'word_embeddings': (BERT_VOCAB_SIZE, hidden_dim),
        'position_embeddings': (BERT_MAX_POSITIONS, hidden_dim),
        'token_type_embeddings': (BERT_TYPE_VOCAB_SIZE, hidden_dim),
        'embedding_norm_weight': (hidden_dim, ),
        'embedding_norm_bias': (hidden_dim, ),
        'pooler_weight': (hidden_dim, hidden_dim),
        'pooler_bias': (hidden_dim, ),
    }
    return nn.ParameterDict({
        name: nn.Parameter(torch.zeros(shape), requires_grad=False)
        for name, shape in shapes.items()
    })
