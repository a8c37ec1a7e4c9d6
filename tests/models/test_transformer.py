import math

import numpy as np
import pytest
import torch
from torch import nn

from fastmetro_mm.mesh.attention_mask import attention_mask_to_additive, build_attention_mask
from fastmetro_mm.models.positional_encoding import SinePositionalEncoding
from fastmetro_mm.models.transformer import (FastMETROTransformer, MultiheadAttention,
                                             TransformerDecoderLayer, TransformerEncoderLayer)


def _ring_adjacency(num_vertices: int) -> np.ndarray:
    """Cycle graph: vertex i is adjacent to i - 1 and i + 1 only."""
    adjacency = np.zeros((num_vertices, num_vertices))
    idx = np.arange(num_vertices)
    adjacency[idx, (idx + 1) % num_vertices] = 1
    adjacency[(idx + 1) % num_vertices, idx] = 1
    return adjacency


def test_attention_matches_torch_multihead_attention():
    torch.manual_seed(0)
    ours = MultiheadAttention(32, 8).eval()
    reference = nn.MultiheadAttention(32, 8, batch_first=True).eval()
    reference.load_state_dict(ours.state_dict())  # same parameter names and shapes
    query, key, value = torch.randn(2, 5, 32), torch.randn(2, 7, 32), torch.randn(2, 7, 32)
    forbidden = torch.rand(5, 7) < 0.4
    forbidden[:, 0] = False  # every query keeps one key
    out, _ = ours(query, key, value, attn_mask=attention_mask_to_additive(forbidden))
    expected, _ = reference(query, key, value, attn_mask=forbidden)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_attention_weights_path_equals_fused_path_and_respects_mask():
    torch.manual_seed(1)
    attention = MultiheadAttention(64, 8).eval()
    x = torch.randn(3, 12, 64)
    forbidden = build_attention_mask(_ring_adjacency(9), num_joints=3)  # (12, 12)
    mask = attention_mask_to_additive(forbidden)
    fused, none = attention(x, x, x, attn_mask=mask)
    explicit, weights = attention(x, x, x, attn_mask=mask, need_weights=True)
    assert none is None
    torch.testing.assert_close(explicit, fused, atol=1e-6, rtol=0)
    assert weights.shape == (3, 12, 12)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 12))
    assert torch.all(weights[:, forbidden] == 0)
    assert torch.all(weights[:, ~forbidden] > 0)


def test_attention_refuses_boolean_and_misshaped_masks():
    attention = MultiheadAttention(16, 8)
    x = torch.randn(1, 4, 16)
    with pytest.raises(TypeError, match='additive float mask'):
        attention(x, x, x, attn_mask=torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'expected \(L, S\) = \(4, 4\)'):
        attention(x, x, x, attn_mask=torch.zeros(4, 5))
    with pytest.raises(ValueError, match='not divisible'):
        MultiheadAttention(20, 8)


def test_attention_dropout_only_in_training():
    torch.manual_seed(2)
    attention = MultiheadAttention(32, 8, dropout=0.5)
    x = torch.randn(2, 6, 32)
    attention.train()
    first, _ = attention(x, x, x)
    second, _ = attention(x, x, x)
    assert not torch.allclose(first, second)
    attention.eval()
    torch.testing.assert_close(attention(x, x, x)[0], attention(x, x, x)[0], atol=0, rtol=0)


def test_decoder_self_attention_follows_mesh_topology():
    """A vertex token's output depends on its 1-ring neighbours and the joints only."""
    torch.manual_seed(3)
    num_joints, num_vertices = 2, 10
    layer = TransformerDecoderLayer(32, 8, 64, dropout=0.1).eval()
    mask = attention_mask_to_additive(
        build_attention_mask(_ring_adjacency(num_vertices), num_joints))
    tokens = torch.randn(1, num_joints + num_vertices, 32)
    memory = torch.randn(1, 5, 32)

    def vertex_output(changed_vertex: int) -> torch.Tensor:
        perturbed = tokens.clone()
        # Random, not constant: the pre-norm LayerNorm would erase a constant shift.
        perturbed[0, num_joints + changed_vertex] += torch.randn(32)
        out, _, _ = layer(perturbed, memory, self_attn_mask=mask)
        return out[0, num_joints + 4]  # vertex 4: neighbours 3 and 5

    baseline = layer(tokens, memory, self_attn_mask=mask)[0][0, num_joints + 4]
    torch.testing.assert_close(vertex_output(7), baseline, atol=0, rtol=0)
    assert (vertex_output(5) - baseline).abs().max() > 1e-3
    # Joints see every vertex.
    changed = tokens.clone()
    changed[0, num_joints + 7] += torch.randn(32)
    joint_change = layer(changed, memory, self_attn_mask=mask)[0][0, 0] - \
        layer(tokens, memory, self_attn_mask=mask)[0][0, 0]
    assert joint_change.abs().max() > 1e-3


def test_encoder_layer_position_goes_to_queries_and_keys_only():
    torch.manual_seed(4)
    layer = TransformerEncoderLayer(16, 8, 32).eval()
    src = torch.randn(2, 5, 16)
    pos = torch.randn(5, 16)
    out, _ = layer(src, pos=pos)
    # Recompute by hand: values come from the normalised tokens without position.
    x = layer.self_attn_norm(src)
    attended, _ = layer.self_attn(x + pos, x + pos, x)
    expected = src + attended
    expected = expected + layer.ffn(layer.ffn_norm(expected))
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_fastmetro_transformer_shapes_weights_and_camera_without_position():
    torch.manual_seed(5)
    model = FastMETROTransformer(d_model=32, nhead=8, num_encoder_layers=2,
                                 num_decoder_layers=2, dim_feedforward=64).eval()
    image, camera = torch.randn(2, 6, 32), torch.randn(2, 1, 32)
    queries = torch.randn(2, 13, 32)
    pos = torch.randn(6, 32)
    mask = attention_mask_to_additive(build_attention_mask(_ring_adjacency(10), 3))
    fused = model(image, camera, queries, pos, mask)
    explicit = model(image, camera, queries, pos, mask, need_weights=True)
    assert fused.attention is None
    assert fused.camera.shape == (2, 1, 32) and fused.image.shape == (2, 6, 32)
    assert fused.queries.shape == (2, 13, 32)
    for name in ('camera', 'image', 'queries'):
        torch.testing.assert_close(getattr(explicit, name), getattr(fused, name),
                                   atol=1e-6, rtol=0)
    attention = explicit.attention
    assert [w.shape for w in attention['encoder_self_attn']] == [(2, 7, 7)] * 2
    assert [w.shape for w in attention['decoder_self_attn']] == [(2, 13, 13)] * 2
    assert [w.shape for w in attention['decoder_cross_attn']] == [(2, 13, 6)] * 2
    # Batched and unbatched positions give the same result.
    batched = model(image, camera, queries, pos.expand(2, -1, -1), mask)
    torch.testing.assert_close(batched.queries, fused.queries, atol=1e-6, rtol=0)
    # The camera token gets no position: the encoder sees a zero row in front of pos.
    manual_pos = torch.cat([torch.zeros(1, 32), pos])
    encoded, _ = model.encoder(torch.cat([camera, image], dim=1), pos=manual_pos)
    torch.testing.assert_close(fused.camera, encoded[:, :1], atol=1e-6, rtol=0)


def test_transformer_parameters_are_xavier_initialised():
    torch.manual_seed(6)
    model = FastMETROTransformer(d_model=128, nhead=8, num_encoder_layers=1,
                                 num_decoder_layers=1, dim_feedforward=512)
    weight = model.encoder.layers[0].ffn.fc_in.weight  # (512, 128)
    bound = math.sqrt(6.0 / (128 + 512))
    assert weight.abs().max() <= bound
    assert weight.abs().max() > 0.95 * bound  # nn.Linear's default bound is 1/sqrt(128)
    out_proj = model.decoder.layers[0].cross_attn.out_proj.weight
    assert out_proj.abs().max() > 0.95 * math.sqrt(6.0 / 256)


def test_sine_positional_encoding_known_values():
    encoding = SinePositionalEncoding(num_feats=4)
    pos = encoding(2, 3)
    assert pos.shape == (8, 2, 3)
    eps = 1e-6
    y = torch.tensor([1.0, 2.0]) / (2 + eps) * 2 * math.pi
    x = torch.tensor([1.0, 2.0, 3.0]) / (3 + eps) * 2 * math.pi
    # channels: sin(p), cos(p), sin(p / 100), cos(p / 100); y block then x block
    expected_y = torch.stack([y.sin(), y.cos(), (y / 100).sin(), (y / 100).cos()])  # (4, 2)
    expected_x = torch.stack([x.sin(), x.cos(), (x / 100).sin(), (x / 100).cos()])  # (4, 3)
    torch.testing.assert_close(pos[:4], expected_y[:, :, None].expand(4, 2, 3))
    torch.testing.assert_close(pos[4:], expected_x[:, None, :].expand(4, 2, 3))
    # Last row/column sit just below 2*pi: sin ~ 0, cos ~ 1.
    assert abs(pos[0, -1, 0].item()) < 1e-4 and abs(pos[5, 0, -1].item() - 1) < 1e-4


def test_sine_positional_encoding_fastmetro_sizes():
    pos = SinePositionalEncoding(256)(7, 7)
    assert pos.shape == (512, 7, 7)
    assert pos.dtype == torch.float32
    assert SinePositionalEncoding(64)(7, 7, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match='even number'):
        SinePositionalEncoding(3)


def test_sine_positional_encoding_is_kept_per_grid_and_dtype():
    encoding = SinePositionalEncoding(16)
    with torch.inference_mode():  # kept as a normal tensor: training may use it later
        first = encoding(7, 7)
    assert not first.is_inference()
    assert encoding(7, 7) is first
    torch.testing.assert_close(first, encoding.encode(7, 7), rtol=0, atol=0)
    half = encoding(7, 7, dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16 and half is not first
    torch.testing.assert_close(half, encoding.encode(7, 7, dtype=torch.bfloat16), rtol=0,
                               atol=0)
    other = encoding(5, 6)
    assert other.shape == (32, 5, 6)  # 2F channels
    torch.testing.assert_close(other, encoding.encode(5, 6), rtol=0, atol=0)
    with pytest.raises(ValueError, match='at least 1 x 1'):
        encoding(0, 7)
