import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from fastmetro_mm.mesh.attention_mask import (attention_mask_to_additive,
                                              build_attention_mask)


def _path_graph(n: int) -> sp.csc_matrix:
    """0 - 1 - 2 - ... - (n-1), each edge counted twice as on a closed mesh."""
    rows = np.arange(n - 1)
    adjacency = sp.coo_matrix((np.full(n - 1, 2.0), (rows, rows + 1)), shape=(n, n))
    return (adjacency + adjacency.T).tocsc()


def test_mask_counted_by_hand():
    # 2 joints, a path of 4 vertices: each vertex sees itself and its path neighbours.
    mask = build_attention_mask(_path_graph(4), num_joints=2)
    expected_allowed = np.array([
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0],
        [1, 1, 0, 1, 1, 1],
        [1, 1, 0, 0, 1, 1],
    ], dtype=bool)
    assert mask.dtype == torch.bool
    assert mask.shape == (6, 6)
    assert torch.equal(mask, torch.from_numpy(~expected_allowed))
    # 36 entries, joints touch 2*6*2 - 4 = 20, vertex block allows 4 + 6 = 10 -> 6 masked
    assert int(mask.sum()) == 6


def test_mask_ignores_weights_and_diagonal_and_accepts_dense_and_torch():
    adjacency = _path_graph(5)
    with_diag = adjacency + sp.eye(5) * 7.0
    reference = build_attention_mask(adjacency, 3)
    assert torch.equal(build_attention_mask(with_diag, 3), reference)
    assert torch.equal(build_attention_mask(adjacency.toarray(), 3), reference)
    assert torch.equal(build_attention_mask(torch.tensor(adjacency.toarray()), 3), reference)


def test_mask_icosahedron_vertex_degree():
    # Every vertex of an icosahedron has 5 neighbours: each vertex row allows K + 6 keys.
    import trimesh
    ico = trimesh.creation.icosahedron()
    edges = ico.edges_unique
    adjacency = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(12, 12))
    mask = build_attention_mask(adjacency + adjacency.T, num_joints=14)
    allowed_per_row = (~mask).sum(dim=1)
    assert torch.all(allowed_per_row[:14] == 26)
    assert torch.all(allowed_per_row[14:] == 14 + 6)


def test_mask_rejects_bad_input():
    with pytest.raises(ValueError, match='square'):
        build_attention_mask(np.ones((3, 4)), 2)
    asymmetric = np.zeros((3, 3))
    asymmetric[0, 1] = 1
    with pytest.raises(ValueError, match='symmetric'):
        build_attention_mask(asymmetric, 2)
    with pytest.raises(ValueError, match='num_joints'):
        build_attention_mask(_path_graph(3), -1)


def test_additive_mask_matches_multihead_attention_semantics():
    torch.manual_seed(0)
    mask = build_attention_mask(_path_graph(6), num_joints=2)
    additive = attention_mask_to_additive(mask)
    assert additive.dtype == torch.float32
    assert torch.all(additive[~mask] == 0) and torch.all(torch.isinf(additive[mask]))
    q, k, v = (torch.randn(1, 2, 8, 4) for _ in range(3))
    fused = F.scaled_dot_product_attention(q, k, v, attn_mask=additive)
    scores = (q @ k.transpose(-1, -2)) / 2.0
    scores = scores.masked_fill(mask, float('-inf'))
    reference = scores.softmax(-1) @ v
    torch.testing.assert_close(fused, reference)
    with pytest.raises(TypeError):
        attention_mask_to_additive(additive)
