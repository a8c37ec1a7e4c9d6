"""Attention-map helpers on hand-made attention weights with known answers."""
import numpy as np
import pytest
import torch

from fastmetro_mm.mesh.upsampler import MeshUpsampler
from fastmetro_mm.visualization.attention_maps import (colour_map, coarse_to_mesh,
                                                       heatmap_on_crop,
                                                       joint_to_image_attention,
                                                       joint_to_vertex_attention)

K, N, LAYERS = 3, 5, 2


def _self_attention():
    rng = np.random.default_rng(0)
    weights = rng.random((2, LAYERS, K + N, K + N))
    return weights / weights.sum(-1, keepdims=True)


def test_joint_to_vertex_attention_averages_transformers_and_layers():
    attention = _self_attention()
    expected = attention[:, :, 1, K:].mean(axis=(0, 1))
    np.testing.assert_allclose(joint_to_vertex_attention(attention, 1, K), expected)
    np.testing.assert_allclose(joint_to_vertex_attention(attention, 1, K, transformers=1),
                               attention[1, :, 1, K:].mean(0))
    with pytest.raises(ValueError, match='joint 3'):
        joint_to_vertex_attention(attention, 3, K)


def test_joint_to_image_attention_finds_the_attended_cell():
    cross = np.full((2, LAYERS, K + N, 7 * 7), 1e-3)
    cross[:, :, 2, 3 * 7 + 5] = 1.0  # joint 2 looks at row 3, column 5
    heat = joint_to_image_attention(cross, 2)
    assert heat.shape == (7, 7)
    assert np.unravel_index(heat.argmax(), heat.shape) == (3, 5)
    crop = np.zeros((224, 224, 3), np.uint8)
    drawn = heatmap_on_crop(crop, heat)
    red = drawn[..., 0].astype(int) - drawn[..., 2]
    row, col = np.unravel_index(red.argmax(), red.shape)
    assert 3 * 32 <= row < 4 * 32 and 5 * 32 <= col < 6 * 32  # inside the attended cell
    with pytest.raises(ValueError, match='square'):
        joint_to_image_attention(cross[..., :48], 2)
    assert joint_to_image_attention(cross[..., :48], 2, feature_size=(6, 8)).shape == (6, 8)


def test_coarse_values_spread_over_the_mesh_by_the_upsampler():
    import scipy.sparse as sp
    # 5 coarse -> 7 fine vertices: copies (with a negligible second entry: the upsampler
    # stores a fixed number per row), and two midpoints.
    rows = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    cols = [0, 1, 1, 2, 2, 3, 3, 4, 4, 0, 0, 1, 3, 4]
    vals = [1, 1e-30, 1, 1e-30, 1, 1e-30, 1, 1e-30, 1, 1e-30, 0.5, 0.5, 0.5, 0.5]
    up = MeshUpsampler([sp.csr_matrix((vals, (rows, cols)), shape=(7, 5))])
    values = np.array([0.0, 1.0, 0.2, 0.4, 0.8])
    fine = coarse_to_mesh(values, [up])
    np.testing.assert_allclose(fine, [0, 1, 0.2, 0.4, 0.8, 0.5, 0.6], atol=1e-6)
    colours = colour_map(fine)
    assert colours.shape == (7, 3)
    assert colours[1, 0] > 0.4 and colours[1, 2] < 0.2  # the maximum is red (JET)
    assert colours[0, 2] > 0.4 and colours[0, 0] < 0.2  # the minimum is blue
    assert isinstance(torch.as_tensor(fine), torch.Tensor)
