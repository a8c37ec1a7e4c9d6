"""Mesh-topology attention mask of FastMETRO's decoder self-attention.

The decoder's tokens are K joint tokens followed by N coarse-vertex tokens. Joints attend to
everything and everything attends to joints; a vertex attends only to itself and its 1-ring
neighbours on the coarse mesh (paper, Sec. 3.2).
"""
from __future__ import annotations

from typing import Union

import numpy as np
import scipy.sparse as sp
import torch

AdjacencyLike = Union[sp.spmatrix, np.ndarray, torch.Tensor]


def _adjacency_pattern(adjacency: AdjacencyLike) -> np.ndarray:
    """Returns the boolean non-zero pattern of a square adjacency matrix, shape (N, N)."""
    if sp.issparse(adjacency):
        pattern = adjacency.toarray() != 0
    elif isinstance(adjacency, torch.Tensor):
        dense = adjacency.to_dense() if adjacency.is_sparse else adjacency
        pattern = dense.detach().cpu().numpy() != 0
    else:
        pattern = np.asarray(adjacency) != 0
    if pattern.ndim != 2 or pattern.shape[0] != pattern.shape[1]:
        raise ValueError(
            f'adjacency must be a square (N, N) matrix, got shape {tuple(pattern.shape)}')
    if not np.array_equal(pattern, pattern.T):
        raise ValueError('adjacency must be symmetric (an undirected mesh graph)')
    return pattern


def build_attention_mask(adjacency: AdjacencyLike, num_joints: int) -> torch.Tensor:
    """Builds FastMETRO's decoder self-attention mask from the coarse mesh's adjacency.

    Args:
        adjacency: (N, N) symmetric vertex adjacency of the coarse mesh (e.g. level 2 of the
            SMPL hierarchy, N = 431, or level 1 of MANO's, N = 195). Any non-zero entry counts
            as an edge; the diagonal is ignored (a vertex always sees itself).
        num_joints: K, the number of joint tokens placed before the vertex tokens.

    Returns:
        torch.BoolTensor of shape (K + N, K + N), True where a query (row) may NOT attend to a
        key (column), as ``nn.MultiheadAttention``'s boolean ``attn_mask`` expects. Joint rows
        and joint columns are all False.
    """
    if num_joints < 0:
        raise ValueError(f'num_joints must be >= 0, got {num_joints}')
    pattern = _adjacency_pattern(adjacency)
    num_vertices = pattern.shape[0]
    allowed = pattern | np.eye(num_vertices, dtype=bool)
    mask = torch.zeros(num_joints + num_vertices, num_joints + num_vertices, dtype=torch.bool)
    mask[num_joints:, num_joints:] = torch.from_numpy(~allowed)
    return mask


def attention_mask_to_additive(mask: torch.Tensor,
                               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Converts a boolean "may not attend" mask to the additive mask of fused attention.

    ``F.scaled_dot_product_attention`` reads a boolean mask with the opposite meaning (True =
    may attend), so passing FastMETRO's mask there directly would invert it; the additive
    form is unambiguous.

    Args:
        mask: (L, S) boolean tensor, True = may not attend.
        dtype: floating dtype of the result; match the attention's query dtype.

    Returns:
        (L, S) tensor with 0 where attention is allowed and -inf where it is not.
    """
    if mask.dtype != torch.bool:
        raise TypeError(f'mask must be a boolean tensor, got {mask.dtype}')
    additive = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return additive.masked_fill(mask, float('-inf'))
