"""The optional SMPL parameter regressor: module, loss, head option and estimator outputs.

Head tests reuse the tiny icosphere "body" of test_fastmetro_head (162 -> 41 -> 11 vertices,
so the regressor reads a 41-vertex intermediate mesh).
"""
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from smplx.lbs import batch_rodrigues
from test_fastmetro_head import (NUM_VERTS, body_head_cfg, features, files,  # noqa: F401
                                 hand_head_cfg, make_samples)

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from fastmetro_mm.models import SMPLParameterLoss, SMPLParameterRegressor, project_to_rotation
from mmpose.registry import MODELS

SMPL_TERMS = {'loss_smpl_rotmat', 'loss_smpl_betas', 'loss_smpl_joints_3d',
              'loss_smpl_joints_2d', 'loss_smpl_vertices'}


def test_released_size_has_the_released_parameter_count():
    with torch.device('meta'):
        regressor = MODELS.build(dict(type='SMPLParameterRegressor'))
    assert isinstance(regressor, SMPLParameterRegressor)
    assert sum(p.numel() for p in regressor.parameters()) == 9_734_370
    assert regressor.output_layer.out_features == 24 * 9 + 10


def test_projection_gives_rotations_with_known_answers():
    rotation = batch_rodrigues(torch.tensor([[0.3, -1.2, 0.5]]))[0]
    torch.testing.assert_close(project_to_rotation(2.5 * rotation), rotation)
    # A reflection has det -1: the released rule negates U V^T (here M itself).
    reflection = torch.diag(torch.tensor([1.0, 1.0, -1.0]))
    torch.testing.assert_close(project_to_rotation(reflection),
                               torch.diag(torch.tensor([-1.0, -1.0, 1.0])))
    random = project_to_rotation(torch.randn(50, 3, 3, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(random @ random.transpose(1, 2), torch.eye(3).expand(50, 3, 3),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(random), torch.ones(50), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r'\(\.\.\., 3, 3\)'):
        project_to_rotation(torch.zeros(2, 3, 4))


def test_regressor_shapes_and_errors():
    regressor = SMPLParameterRegressor(num_vertices=41, hidden_channels=16)
    rotmats, betas = regressor(torch.randn(3, 41, 3))
    assert rotmats.shape == (3, 24, 3, 3) and betas.shape == (3, 10)
    with pytest.raises(ValueError, match=r'\(B, 41, 3\) mesh, got \(3, 40, 3\)'):
        regressor(torch.randn(3, 40, 3))
    # A training batch of one sample is normalised with the running statistics
    # (test_mixed_precision.py trains on one).
    assert regressor(torch.randn(1, 41, 3))[0].shape == (1, 24, 3, 3)
    regressor.eval()
    assert regressor(torch.randn(1, 41, 3))[0].shape == (1, 24, 3, 3)


def _loss_inputs(batch=2, num_joints=14, num_verts=30, seed=0):
    generator = torch.Generator().manual_seed(seed)
    rotmats = project_to_rotation(torch.randn(batch, 24, 3, 3, generator=generator))
    target = {
        'smpl_rotmats': rotmats, 'smpl_betas': torch.randn(batch, 10, generator=generator),
        'has_smpl': torch.ones(batch),
        'vertices_fine': torch.randn(batch, num_verts, 3, generator=generator),
        'joints_3d': torch.randn(batch, num_joints, 3, generator=generator),
        'joints_3d_visible': torch.ones(batch, num_joints), 'has_joints_3d': torch.ones(batch),
        'keypoints_2d_visible': torch.ones(batch, num_joints),
    }
    target['joints_from_mesh'] = target['joints_3d'].clone()
    cam = torch.tensor([[2.0, 0.1, -0.1]]).expand(batch, 3)
    joints = target['joints_3d'] - target['joints_3d'][:, [2, 3]].mean(1, keepdim=True)
    target['keypoints_2d'] = cam[:, None, :1] * (joints[..., :2] + cam[:, None, 1:])
    pred = dict(rotmats=rotmats.clone(), betas=target['smpl_betas'].clone(),
                vertices=target['vertices_fine'].clone(), joints=target['joints_3d'].clone(),
                pred_cam=cam.clone())
    return pred, target


def test_loss_is_zero_when_perfect_and_known_otherwise():
    loss = SMPLParameterLoss()
    pred, target = _loss_inputs()
    losses = loss(pred, target)
    assert set(losses) == SMPL_TERMS
    assert all(value.abs().item() < 1e-5 for value in losses.values()), losses

    shifted = dict(pred, betas=pred['betas'] + 0.5,
                   vertices=pred['vertices'] + torch.tensor([0.0, 0.0, 0.2]))
    shifted['rotmats'] = pred['rotmats'].clone()
    shifted['rotmats'][0] = -shifted['rotmats'][0]  # sample 0: every entry off by 2 x itself
    target = dict(target, has_smpl=torch.tensor([1.0, 0.0]))  # only sample 0 has SMPL GT
    losses = loss(shifted, target)
    expected_rot = (2 * pred['rotmats'][0]).pow(2).mean()
    torch.testing.assert_close(losses['loss_smpl_rotmat'], 1000 * expected_rot)
    torch.testing.assert_close(losses['loss_smpl_betas'], torch.tensor(1000 * 0.1 * 0.25))
    # A constant shift of every vertex moves the mesh, not the root of the joints.
    torch.testing.assert_close(losses['loss_smpl_vertices'], torch.tensor(1000 * 0.2 / 3))
    assert losses['loss_smpl_joints_3d'].abs() < 1e-4


def test_loss_2d_uses_a_detached_camera_and_errors_are_named():
    pred, target = _loss_inputs()
    pred['pred_cam'] = pred['pred_cam'].clone().requires_grad_()
    pred['joints'] = pred['joints'].clone().requires_grad_()
    losses = SMPLParameterLoss(term_weights=dict(joints_2d=1.0, rotmat=0.0))
    assert 'loss_smpl_rotmat' not in losses(pred, target)
    value = losses(dict(pred, joints=pred['joints'] + 0.1), target)['loss_smpl_joints_2d']
    value.backward()
    assert pred['pred_cam'].grad is None and pred['joints'].grad.abs().sum() > 0
    with pytest.raises(ValueError, match='unknown term'):
        SMPLParameterLoss(term_weights=dict(pose=1.0))
    with pytest.raises(KeyError, match="target has no 'smpl_rotmats'"):
        SMPLParameterLoss()(pred, {k: v for k, v in target.items() if k != 'smpl_rotmats'})
    with pytest.raises(ValueError, match=r"smpl_betas'\] has shape \(2, 11\)"):
        SMPLParameterLoss()(pred, dict(target, smpl_betas=torch.zeros(2, 11)))


@pytest.fixture
def smpl_head(files):  # noqa: F811
    torch.manual_seed(0)
    return MODELS.build(body_head_cfg(files, smpl_regressor=dict(hidden_channels=32)))


def test_head_option_builds_trains_only_the_regressor_with_its_loss(smpl_head):
    keys = list(smpl_head.state_dict())
    assert 'smpl_regressor.output_layer.weight' in keys
    assert smpl_head.smpl_regressor.num_vertices == 41  # the intermediate level
    samples = make_samples(14, 72, has_smpl=[1, 0, 1])
    samples[1].gt_instances.smpl_pose[:] = np.nan  # unavailable: never read
    losses = smpl_head.loss(features(3), samples)
    assert SMPL_TERMS <= set(losses) and 'loss_vertices' in losses
    assert all(torch.isfinite(value) for value in losses.values()), losses
    # The regressor reads a detached mesh: its loss reaches only the regressor, and the
    # network's loss never reaches the regressor.
    sum(v for k, v in losses.items() if k.startswith('loss_smpl')).backward(retain_graph=True)
    assert all(p.grad is None for p in smpl_head.network.parameters())
    assert smpl_head.smpl_regressor.output_layer.weight.grad.abs().sum() > 0
    smpl_head.zero_grad(set_to_none=True)
    sum(v for k, v in losses.items() if not k.startswith('loss_smpl')).backward()
    assert all(p.grad is None for p in smpl_head.smpl_regressor.parameters())

    optimizer = torch.optim.Adam(smpl_head.smpl_regressor.parameters(), lr=1e-3)
    before = sum(v for k, v in smpl_head.loss(features(3), samples).items()
                 if k.startswith('loss_smpl'))
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    after = sum(v for k, v in smpl_head.loss(features(3), samples).items()
                if k.startswith('loss_smpl'))
    assert after.item() < before.item()


def test_target_rotations_and_mesh_loss_scale(files, smpl_head):
    samples = make_samples(14, 72, has_smpl=[1, 1])
    target = smpl_head.targets(samples, torch.device('cpu'), with_rotmats=True)
    pose = torch.from_numpy(samples[1].gt_instances.smpl_pose).reshape(24, 3)
    torch.testing.assert_close(target['smpl_rotmats'][1], batch_rodrigues(pose))
    torch.manual_seed(0)
    scaled = MODELS.build(body_head_cfg(files, smpl_regressor=dict(hidden_channels=32),
                                        mesh_loss_scale=1e-8))
    scaled.load_state_dict(smpl_head.state_dict())
    smpl_head.eval(), scaled.eval()  # no dropout, BatchNorm running statistics
    full, small = smpl_head.loss(features(2), samples), scaled.loss(features(2), samples)
    torch.testing.assert_close(small['loss_vertices'], 1e-8 * full['loss_vertices'])
    torch.testing.assert_close(small['loss_smpl_rotmat'], full['loss_smpl_rotmat'])


def test_predict_adds_smpl_parameters_and_their_mesh(files, smpl_head):  # noqa: F811
    smpl_head.eval()
    samples = make_samples(14, 72, has_smpl=[1, 1])
    with torch.no_grad():
        out = smpl_head.forward(features(2))
        preds = smpl_head.predict(features(2), samples)
    assert preds[1].smpl_pose.shape == (1, 24, 3, 3) and preds[1].smpl_betas.shape == (1, 10)
    assert preds[1].smpl_vertices.shape == (1, NUM_VERTS, 3)
    np.testing.assert_allclose(preds[1].smpl_pose[0], out['pred_smpl_rotmat'][1], atol=1e-6)
    vertices, _ = smpl_head.smpl_mesh(out['pred_smpl_rotmat'], out['pred_smpl_betas'])
    # Centred like the network's mesh, on its own H36M 'Pelvis' (row 0 of the file).
    pelvis = torch.as_tensor(np.load(files / 'h36m.npy')[0], dtype=vertices.dtype)
    root = torch.einsum('v,bvc->bc', pelvis, vertices)[:, None]
    np.testing.assert_allclose(preds[0].smpl_vertices[0], (vertices - root)[0], atol=1e-5)
    lean = smpl_head.predict(features(2), samples, dict(output_smpl_mesh=False))[0]
    assert 'smpl_pose' in lean and 'smpl_vertices' not in lean


def test_estimator_puts_smpl_parameters_into_pred_instances(files):  # noqa: F811
    cfg = dict(
        type='TopdownMeshEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type='ResNet', depth=18, in_channels=3, out_indices=(3, )),
        head=body_head_cfg(files, in_channels=512, smpl_regressor=dict(hidden_channels=32)),
        test_cfg=dict(output_keypoint_indices=[0, 1, 2]))
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg).eval()
    images = [torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8) for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=make_samples(
        14, 72, has_smpl=[1, 1])), training=False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    for result in results:
        pred = result.pred_instances
        assert pred.smpl_pose.shape == (1, 24, 3, 3) and pred.smpl_betas.shape == (1, 10)
        assert pred.keypoints.shape == (1, 3, 2)  # joint selection leaves SMPL fields alone
        np.testing.assert_allclose(pred.smpl_pose[0] @ pred.smpl_pose[0].transpose(0, 2, 1),
                                   np.broadcast_to(np.eye(3), (24, 3, 3)), atol=1e-5)


def test_configuration_errors(files):  # noqa: F811
    with pytest.raises(ValueError, match='needs a body head'):
        MODELS.build(hand_head_cfg(files, smpl_regressor=dict()))
    with pytest.raises(ValueError, match='intermediate mesh has 41 vertices'):
        MODELS.build(body_head_cfg(files, smpl_regressor=dict(num_vertices=1723)))
    with pytest.raises(ValueError, match='num_betas=11'):
        MODELS.build(body_head_cfg(files, smpl_regressor=dict(num_betas=11)))
    with pytest.raises(ValueError, match='mesh_loss_scale'):
        MODELS.build(body_head_cfg(files, mesh_loss_scale=-1.0))
