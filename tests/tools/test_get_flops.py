"""tools/analysis/get_flops.py: MMEngine's counter with this network's operators, by hand.

The head's count of a tiny FastMETRONetwork (a few tokens and channels) is checked against a
count written out layer by layer in MMEngine's convention (one multiply-add = 1 FLOP, bias
additions free, LayerNorm 5 per element), so a change of the network or of the extra operator
handles (fused attention, the upsampler's embedding_bag) that the tool misses shows here.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from mmengine.analysis import FlopAnalyzer
from torch import nn

from fastmetro_mm.models.fastmetro_network import FastMETRONetwork

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC_CONFIG = ROOT / 'configs' / 'fastmetro_s_r50_synthetic.py'

# The tiny network: K joints, N coarse / N_MID intermediate / V fine vertices (E entries per
# up-sampling row), C input channels on an H x W feature map, widths D1 / D2, FFN F1 / F2.
K, N, N_MID, V, E = 2, 5, 9, 20, 3
C, H, W = 6, 2, 3
D1, D2, F1, F2, HEADS = 16, 8, 32, 16, 2
ENCODER_LAYERS, DECODER_LAYERS = 2, 1


def _tool():
    path = ROOT / 'tools' / 'analysis' / 'get_flops.py'
    spec = importlib.util.spec_from_file_location('tools_get_flops', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _up_matrix(rows: int, cols: int, seed: int) -> sp.csr_matrix:
    """(rows, cols) with E stored entries per row, as the real up-sampling matrices."""
    rng = np.random.default_rng(seed)
    index = np.stack([rng.choice(cols, E, replace=False) for _ in range(rows)])
    weight = rng.random((rows, E))
    return sp.csr_matrix((weight.ravel(), index.ravel(), np.arange(0, rows * E + 1, E)),
                         shape=(rows, cols))


def _network(layout: str) -> FastMETRONetwork:
    adjacency = np.eye(N, k=1) + np.eye(N, k=-1)  # a chain of vertices
    return FastMETRONetwork(
        adjacency, [_up_matrix(N_MID, N, 0), _up_matrix(V, N_MID, 1)], num_joints=K,
        num_vertices=N, in_channels=C, num_encoder_layers=ENCODER_LAYERS,
        num_decoder_layers=DECODER_LAYERS, layout=layout, d_model_1=D1, d_model_2=D2,
        dim_feedforward_1=F1, dim_feedforward_2=F2, nhead=HEADS).eval()


def _transformer_flops(d: int, ffn: int, image_tokens: int, queries: int) -> int:
    """One FastMETROTransformer on one image (pre-norm encoder-decoder, d wide)."""
    tokens = 1 + image_tokens  # the camera token and the image tokens
    norm = 5  # MMEngine's LayerNorm estimate per element (with affine parameters)
    encoder_layer = (2 * norm * tokens * d  # two LayerNorms
                     + 3 * tokens * d * d  # Q, K, V projections
                     + 2 * tokens * tokens * d  # Q K^T and weights x V over all heads
                     + tokens * d * d  # output projection
                     + 2 * tokens * d * ffn)  # feed-forward
    decoder_layer = (3 * norm * queries * d
                     + 4 * queries * d * d + 2 * queries * queries * d  # masked self-attn
                     + 2 * queries * d * d + 2 * image_tokens * d * d  # cross-attn Q, O; K, V
                     + 2 * queries * image_tokens * d
                     + 2 * queries * d * ffn)
    return (ENCODER_LAYERS * encoder_layer + norm * tokens * d
            + DECODER_LAYERS * decoder_layer + norm * queries * d)


def _hand_count(layout: str, batch: int) -> dict:
    """FLOPs of the tiny network by hand: transformers and heads, and upsampling."""
    image_tokens, queries = H * W, K + N
    network = (image_tokens * C * D1  # 1x1 input projection
               + _transformer_flops(D1, F1, image_tokens, queries)
               + (1 + image_tokens) * D1 * D2 + queries * D1 * D2  # reductions
               + _transformer_flops(D2, F2, image_tokens, queries)
               + D2 * 3 + queries * D2 * 3)  # camera and xyz heads
    if layout == 'paper':  # both steps fixed: E multiply-adds per row and coordinate
        upsampling = 3 * E * (N_MID + V)
    else:  # a learnable N -> N_MID linear map per coordinate, then the fixed step
        upsampling = 3 * N * N_MID + 3 * E * V
    return dict(upsampling=batch * upsampling, total=batch * (network + upsampling))


def test_mmengine_counts_one_multiply_add_as_one_flop():
    # Linear(4 -> 3) on 2 rows: 2 * 4 * 3 multiply-adds, the bias free.
    assert FlopAnalyzer(nn.Linear(4, 3), (torch.randn(2, 4), )).total() == 24
    # (2, 3) @ (3, 5): 30 multiply-adds.
    assert FlopAnalyzer(_MatMul(), (torch.randn(2, 3), torch.randn(3, 5))).total() == 30


class _MatMul(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b


@pytest.mark.parametrize('layout', ['paper', 'release'])
@pytest.mark.parametrize('batch', [1, 2])
def test_head_flops_match_a_hand_count(layout, batch):
    tool = _tool()
    network = _network(layout)
    analyzer = FlopAnalyzer(network, (torch.randn(batch, C, H, W), ))
    analyzer.set_op_handle(**tool.EXTRA_HANDLES)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    expected = _hand_count(layout, batch)
    assert analyzer.total() == expected['total']
    by_module = analyzer.by_module()
    assert by_module['upsample_intermediate'] + by_module['upsample_fine'] == \
        expected['upsampling']
    # Every operator that does arithmetic beyond element-wise has a handle.
    assert not set(analyzer.unsupported_ops()) & {
        'aten::scaled_dot_product_attention', 'aten::embedding_bag', 'aten::matmul',
        'aten::linear', 'aten::_convolution'}


def test_tool_reports_every_part_of_the_synthetic_config(synthetic_data_dir, capsys):
    tool = _tool()
    options = [f'model.head.hierarchy_file={synthetic_data_dir}/synthetic_downsampling.npz',
               f'model.head.body_model.model_path={synthetic_data_dir}/SMPL_NEUTRAL.pkl',
               'model.head.joint_regressor_file='
               f'{synthetic_data_dir}/J_regressor_h36m_synthetic.npy']
    model, cfg = tool.build_model(str(SYNTHETIC_CONFIG), tool.parse_args(
        [str(SYNTHETIC_CONFIG), '--cfg-options', *options]).cfg_options)
    shape = tool.config_input_shape(cfg)
    assert shape == (128, 128)  # the test pipeline's crop of the synthetic body config
    result = tool.analyse(model, shape)
    flops, params = result['flops'], result['params']
    assert flops['total'] == flops['backbone'] + flops['head']
    assert 0 < flops['    upsampling'] < flops['  network'] == flops['head']
    assert params['head'] == 9_231_366  # the paper's FastMETRO-S transformer (Table 1)
    assert params['total'] == params['backbone'] + params['head']
    report = tool.format_report(str(SYNTHETIC_CONFIG), shape, result)
    for label in ('backbone', 'head', 'upsampling', 'total'):
        assert label in report
