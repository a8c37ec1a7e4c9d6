"""A tiny FastMETRO transformer and its inputs, shared by the transformer speed-up tests."""
import numpy as np
import torch

from fastmetro_mm.mesh.attention_mask import attention_mask_to_additive, build_attention_mask
from fastmetro_mm.models.transformer import FastMETROTransformer

K, N, S, D = 3, 6, 5, 16


def transformer_inputs(batch: int, shared: bool):
    """(image (B, S, D), camera (B, 1, D), tokens (1 | B, K + N, D), pos (S, D), mask)."""
    gen = torch.Generator().manual_seed(3)
    image = torch.randn(batch, S, D, generator=gen)
    camera = torch.randn(batch, 1, D, generator=gen)
    tokens = torch.randn(1 if shared else batch, K + N, D, generator=gen)
    pos = torch.randn(S, D, generator=gen)
    adjacency = np.zeros((N, N))
    for i in range(N):  # a ring of N vertices
        adjacency[i, (i + 1) % N] = adjacency[(i + 1) % N, i] = 1
    mask = attention_mask_to_additive(build_attention_mask(adjacency, K))
    return image, camera, tokens, pos, mask


def tiny_transformer() -> FastMETROTransformer:
    """Two encoder and two decoder layers of width 16, seeded, in eval mode."""
    torch.manual_seed(0)
    return FastMETROTransformer(D, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                                dim_feedforward=32, dropout=0.1).eval()
