"""The pieces a mixed-precision step keeps in float32 on purpose (docs/mixed_precision.md).

Under CPU autocast (bfloat16, and float16 where torch has CPU float16 kernels) the GT
targets (meshes, joints, rotations) and the SMPL regressor's rotations and betas must come
out float32 and agree with a float32 run: the targets to float32 rounding, the regressor's
outputs to the rounding of its half-precision hidden layers, and its rotations orthogonal to
float32 precision (rounded to half they were off by up to 1e-3). Also: a training step on a
batch of one sample with the regressor, and the head's host -> device traffic.
"""
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from test_fastmetro_head import body_head_cfg, features, files, make_samples  # noqa: F401

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from device_traffic import DeviceTraffic
from fastmetro_mm.models import SMPLParameterRegressor
from mmpose.registry import MODELS

HALF_TYPES = [torch.bfloat16, torch.float16]


@pytest.fixture(scope='module')
def smpl_head(files):  # noqa: F811
    torch.manual_seed(0)
    return MODELS.build(body_head_cfg(files, smpl_regressor=dict(hidden_channels=32)))


@pytest.mark.parametrize('dtype', HALF_TYPES)
def test_targets_are_float32_under_autocast(smpl_head, dtype):
    samples = make_samples(14, 72, has_smpl=[1, 0, 1, 1])
    reference = smpl_head.targets(samples, torch.device('cpu'), with_rotmats=True)
    with torch.autocast('cpu', dtype=dtype):
        mixed = smpl_head.targets(samples, torch.device('cpu'), with_rotmats=True)
    for key, value in reference.items():
        assert mixed[key].dtype == value.dtype == torch.float32, key
        torch.testing.assert_close(mixed[key], value, rtol=0, atol=1e-6, msg=key)


@pytest.mark.parametrize('dtype', HALF_TYPES)
def test_regressor_outputs_are_float32_rotations_under_autocast(dtype):
    torch.manual_seed(0)
    regressor = SMPLParameterRegressor(num_vertices=41, hidden_channels=64).eval()
    vertices = torch.randn(4, 41, 3)
    rotmats, betas = regressor(vertices)
    with torch.autocast('cpu', dtype=dtype):
        mixed_rotmats, mixed_betas = regressor(vertices)
    assert mixed_rotmats.dtype == mixed_betas.dtype == torch.float32
    identity = torch.eye(3).expand_as(mixed_rotmats)
    orthogonality = (mixed_rotmats @ mixed_rotmats.transpose(-1, -2) - identity).abs().max()
    assert orthogonality < 1e-5  # a rotation rounded to half precision: ~1e-3
    # Only the hidden layers ran in half precision: bfloat16 keeps 8 bits of mantissa.
    tolerance = 0.05 if dtype == torch.bfloat16 else 0.01
    torch.testing.assert_close(mixed_betas, betas, rtol=0, atol=tolerance)
    torch.testing.assert_close(mixed_rotmats, rotmats, rtol=0, atol=tolerance)


def test_training_step_on_a_batch_of_one_sample(smpl_head):
    smpl_head.train()
    norm = smpl_head.smpl_regressor.input_norm
    running_mean = norm.running_mean.clone()
    optimizer = torch.optim.SGD(smpl_head.parameters(), lr=1e-3)
    losses = smpl_head.loss(features(1), make_samples(14, 72, has_smpl=[1]))
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    grad = smpl_head.smpl_regressor.output_layer.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    optimizer.step()
    # One sample has no batch statistics: the running ones normalised it and stay as they were.
    torch.testing.assert_close(norm.running_mean, running_mean, rtol=0, atol=0)
    assert smpl_head.smpl_regressor.training and norm.training
    smpl_head.loss(features(2), make_samples(14, 72, has_smpl=[1, 1]))
    assert not torch.equal(norm.running_mean, running_mean)  # batches of 2 update them


@pytest.mark.parametrize('release_loss', [False, True])
def test_training_step_traffic(files, smpl_head, release_loss):  # noqa: F811
    """A batch of 16: the targets reach the device in one copy, nothing reads the device.

    Before, every field of every sample was its own copy (133 copies for 16 samples), the
    per-sample has_smpl checks read the device 32 times and the released loss's face check
    once. What remains: the one copy, no-op moves in the body model, and smplx's
    ``parents[i]`` indexing in its kinematic chain (23 host reads per body-model call while
    ``parents`` lives on the device).
    """
    head = smpl_head
    if release_loss:  # with the edge-length and normal terms on the intermediate mesh
        torch.manual_seed(0)
        head = MODELS.build(body_head_cfg(
            files, smpl_regressor=dict(hidden_channels=32),
            loss=dict(type='MeshLoss', loss_weight_edge=100.0, loss_weight_normal=100.0)))
    samples = make_samples(14, 72, has_smpl=[1, 0] * 8)
    feats = features(16)
    with DeviceTraffic() as traffic:
        losses = head.loss(feats, samples)
        sum(losses.values()).backward()
    assert ('loss_normal' in losses) == release_loss
    assert traffic.copies['as_tensor'] + traffic.copies['tensor'] == 0, traffic.copies
    # The one copy of the targets; the other `to(device)` calls move tensors that are on the
    # device already (body model inputs, the loss's faces and edges buffers): no-ops there.
    assert traffic.copies['to'] <= (7 if release_loss else 5), traffic.copies
    assert set(traffic.syncs) <= {'__index__'}, traffic.syncs


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_network_outputs_are_float32_coordinates_under_autocast(dtype):
    """The xyz and camera heads and the upsampling run in float32 under autocast."""
    from fastmetro_mm.models.fastmetro_network import FastMETRONetwork
    adjacency = np.eye(6, k=1) + np.eye(6, k=-1)
    rows = np.repeat(np.arange(10), 2)
    cols = np.stack([np.arange(10) % 6, (np.arange(10) + 1) % 6], 1).ravel()
    up = [sp.csc_matrix((np.full(20, 0.5), (rows, cols)), shape=(10, 6))]  # 2 per row
    torch.manual_seed(0)
    net = FastMETRONetwork(adjacency, up, num_joints=3, num_vertices=6, in_channels=8,
                           model_size='S', d_model_1=32, d_model_2=16, dim_feedforward_1=32,
                           dim_feedforward_2=16, nhead=4).eval()
    features = torch.randn(2, 8, 3, 3)
    with torch.no_grad():
        reference = net(features)
        with torch.autocast('cpu', dtype=dtype):
            mixed = net(features)
    for key in ('pred_cam', 'pred_3d_joints', 'pred_3d_vertices_coarse',
                'pred_3d_vertices_fine'):
        assert mixed[key].dtype == torch.float32, key
        torch.testing.assert_close(mixed[key], reference[key], rtol=0.05, atol=0.05)
