"""The FastMETROHead preset of MeshHead and TopdownMeshEstimator built through MMPose's
registry on tiny meshes (tiny_meshes.py); the network is FastMETRO-S.
"""
import pickle

import numpy as np
import pytest
import torch
import trimesh
from mmengine.registry import DefaultScope

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
import fastmetro_mm.models.heads  # noqa: F401
import fastmetro_mm.models.losses  # noqa: F401
import fastmetro_mm.models.pose_estimators  # noqa: F401
from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.camera import weak_perspective_project
from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.mesh.joint_regressor import JointRegressor
from fastmetro_mm.mesh.joint_sets import H36M_TO_J14, SMPL_24
from mmpose.registry import MODELS

from tiny_meshes import (FINGERTIPS, IMAGE, NUM_VERTS, features, make_samples, model_arrays,
                         write_tiny_mesh_files)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    return write_tiny_mesh_files(tmp_path_factory.mktemp('fastmetro_head'))


def body_head_cfg(files, **overrides):
    cfg = dict(type='FastMETROHead', in_channels=32, mesh_type='body',
               hierarchy_file=str(files / 'body.npz'),
               body_model=dict(model_path=str(files / 'SMPL_NEUTRAL.pkl')),
               joint_regressor_file=str(files / 'h36m.npy'), model_size='S',
               network_cfg=dict(dropout=0.0))
    cfg.update(overrides)
    return cfg


def hand_head_cfg(files, **overrides):
    cfg = dict(type='FastMETROHead', in_channels=32, mesh_type='hand',
               hierarchy_file=str(files / 'hand.npz'),
               body_model=dict(model_path=str(files / 'MANO_RIGHT.npz')),
               fingertip_vertex_ids=FINGERTIPS, model_size='S',
               loss=dict(type='MeshLoss', vertex_level_weights=dict(coarse=0.5, fine=0.5)))
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope='module')
def body_head(files):
    return MODELS.build(body_head_cfg(files))


def test_build_keeps_only_the_network_in_the_state_dict(body_head):
    keys = list(body_head.state_dict())
    assert keys and all(key.startswith('network.') for key in keys)
    assert body_head.network.num_joints == 14 and body_head.network.num_vertices == 11
    assert body_head.network.upsample_intermediate.out_features == 41  # release layout
    assert body_head.root_indices == (2, 3) and body_head.loss_module.root_indices == (2, 3)


def test_targets_hold_gt_meshes_from_the_body_model(files, body_head):
    samples = make_samples(14, 72, has_smpl=[1, 0, 1])
    samples[1].gt_instances.smpl_pose[:] = np.nan  # unavailable: must not be evaluated
    target = body_head.targets(samples, torch.device('cpu'))
    model = BodyModel.smpl(files / 'SMPL_NEUTRAL.pkl')
    pose = torch.from_numpy(np.concatenate([s.gt_instances.smpl_pose for s in samples]))
    betas = torch.from_numpy(np.concatenate([s.gt_instances.smpl_betas for s in samples]))
    expected = model(pose[[0, 2]], betas[[0, 2]]).vertices
    torch.testing.assert_close(target['vertices_fine'][[0, 2]], expected)
    assert torch.equal(target['vertices_fine'][1], torch.zeros(NUM_VERTS, 3))
    hierarchy = MeshHierarchy.from_npz(files / 'body.npz')
    fine = target['vertices_fine'][0].double().numpy()
    np.testing.assert_allclose(target['vertices_intermediate'][0], hierarchy.down[0] @ fine,
                               atol=1e-6)
    np.testing.assert_allclose(target['vertices_coarse'][0],
                               hierarchy.down[1] @ (hierarchy.down[0] @ fine), atol=1e-6)
    regressor = JointRegressor.from_file(files / 'h36m.npy', select=H36M_TO_J14)
    torch.testing.assert_close(target['joints_from_mesh'], regressor(target['vertices_fine']))
    keypoints = samples[2].gt_instances.keypoints[0]
    np.testing.assert_allclose(target['keypoints_2d'][2], keypoints / IMAGE * 2 - 1, atol=1e-6)


def test_loss_is_finite_and_a_gradient_step_lowers_it(files):
    torch.manual_seed(0)
    head = MODELS.build(body_head_cfg(files))
    samples = make_samples(14, 72, has_smpl=[1, 0, 1])
    feats = features(3)
    losses = head.loss(feats, samples)
    assert set(losses) == {'loss_vertices', 'loss_joints_3d', 'loss_joints_3d_reg',
                           'loss_joints_2d', 'loss_joints_2d_reg'}
    assert all(torch.isfinite(value) for value in losses.values())
    optimizer = torch.optim.SGD(head.parameters(), lr=1e-5)
    before = sum(losses.values())
    before.backward()
    optimizer.step()
    after = sum(head.loss(feats, samples).values())
    assert after.item() < before.item()


def test_release_loss_terms_use_the_hierarchy_faces(files):
    head = MODELS.build(body_head_cfg(files, loss=dict(
        type='MeshLoss', vertex_level_weights=dict(coarse=0.25, intermediate=0.5, fine=0.25),
        loss_weight_edge=500.0, loss_weight_edge_self=0.01, loss_weight_normal=10.0)))
    faces = MeshHierarchy.from_npz(files / 'body.npz').faces[1]
    assert torch.equal(head.loss_module.faces, torch.from_numpy(faces))
    losses = head.loss(features(2), make_samples(14, 72, has_smpl=[1, 1]))
    assert {'loss_vertices_intermediate', 'loss_vertices_coarse', 'loss_edge',
            'loss_edge_self', 'loss_normal'} <= set(losses)
    assert all(torch.isfinite(value) and value > 0 for value in losses.values())


def test_predict_gives_contract_shapes_and_consistent_outputs(files, body_head):
    body_head.eval()
    samples = make_samples(14, 72, has_smpl=[1, 1])
    preds = body_head.predict(features(2), samples)
    assert len(preds) == 2
    shapes = {k: v.shape for k, v in preds[0].items()}
    assert shapes == {'vertices': (1, NUM_VERTS, 3), 'keypoints_3d': (1, 14, 3), 'cam': (1, 3),
                      'keypoints': (1, 14, 2), 'keypoint_scores': (1, 14)}
    for pred in preds:
        assert all(isinstance(v, np.ndarray) for v in pred.values())
        joints, cam = torch.from_numpy(pred.keypoints_3d), torch.from_numpy(pred.cam)
        # Root-relative as released: the mesh's regressed H36M pelvis (row 0) is the origin,
        # and the joints are the mesh's own.
        pelvis = np.load(files / 'h36m.npy')[0] @ pred.vertices[0].astype(np.float64)
        np.testing.assert_allclose(pelvis, 0, atol=1e-6)
        torch.testing.assert_close(body_head.joint_regressor(torch.from_numpy(pred.vertices)),
                                   joints)
        crop = (weak_perspective_project(joints, cam) + 1) * 0.5 * IMAGE
        np.testing.assert_allclose(pred.keypoints, crop.numpy(), rtol=1e-5, atol=1e-4)
        assert np.all(pred.keypoint_scores == 1)

    attention = body_head.predict(features(2), samples, dict(output_attention=True))[0]
    assert attention.decoder_self_attention.shape == (1, 2, 1, 25, 25)
    assert attention.decoder_cross_attention.shape == (1, 2, 1, 25, 16)
    np.testing.assert_allclose(attention.decoder_cross_attention.sum(-1), 1, atol=1e-5)
    with pytest.raises(ValueError, match='flip_test'):
        body_head.predict(features(2), samples, dict(flip_test=True))


def test_hand_head_uses_mano_joints_and_no_intermediate_mesh(files):
    head = MODELS.build(hand_head_cfg(files))
    assert head.root_indices == (0, ) and head.intermediate_index is None
    assert head.joint_regressor.num_joints == 21
    mano = BodyModel.mano(files / 'MANO_RIGHT.npz')
    expected = JointRegressor.mano_21(mano.j_regressor, FINGERTIPS)
    torch.testing.assert_close(head.joint_regressor.to_dense(), expected.to_dense())
    samples = make_samples(21, 48, has_smpl=[1, 0])
    losses = head.loss(features(2), samples)
    assert set(losses) == {'loss_vertices', 'loss_vertices_coarse', 'loss_joints_3d',
                           'loss_joints_3d_reg', 'loss_joints_2d', 'loss_joints_2d_reg'}
    assert all(torch.isfinite(value) for value in losses.values())
    head.eval()
    pred = head.predict(features(2), samples)[1]
    assert pred.vertices.shape == (1, NUM_VERTS, 3) and pred.keypoints.shape == (1, 21, 2)
    np.testing.assert_allclose(pred.keypoints_3d[0, 0], 0, atol=1e-6)  # wrist-relative


def test_sample_gender_picks_the_gendered_model(files):
    head = MODELS.build(body_head_cfg(files, use_sample_gender=True,
                                      body_model=dict(model_path=str(files))))
    samples = make_samples(14, 72, has_smpl=[1, 1, 1], gender=[2, 0, 1])
    target = head.targets(samples, torch.device('cpu'))
    pose = torch.from_numpy(np.concatenate([s.gt_instances.smpl_pose for s in samples]))
    betas = torch.from_numpy(np.concatenate([s.gt_instances.smpl_betas for s in samples]))
    for index, gender in enumerate(('female', 'neutral', 'male')):
        model = BodyModel.smpl(files, gender=gender)
        expected = model(pose[index:index + 1], betas[index:index + 1]).vertices[0]
        torch.testing.assert_close(target['vertices_fine'][index], expected)
    samples[0].gt_instances.gender = np.array([5])
    with pytest.raises(ValueError, match=r'gender codes \[5\]'):
        head.targets(samples, torch.device('cpu'))


def test_configuration_errors_are_explicit(files, tmp_path):
    with pytest.raises(ValueError, match='joint_regressor_file'):
        MODELS.build(body_head_cfg(files, joint_regressor_file=None))
    small = trimesh.creation.icosphere(subdivisions=1)  # 42 vertices, not 162
    arrays = model_arrays(24, SMPL_24.parents, 0, small.vertices, small.faces)
    with open(tmp_path / 'small.pkl', 'wb') as stream:
        pickle.dump(arrays, stream)
    with pytest.raises(ValueError, match='has 42 vertices but level 0 .* has 162'):
        MODELS.build(body_head_cfg(files, body_model=dict(model_path=str(tmp_path / 'small.pkl'))))
    with pytest.raises(ValueError, match='mesh_type'):
        MODELS.build(body_head_cfg(files, mesh_type='face'))
    with pytest.raises(ValueError, match='gives 17 joints'):
        MODELS.build(body_head_cfg(files, joint_regressor_select=None))
    with pytest.raises(ValueError, match='level 2'):
        MODELS.build(body_head_cfg(files, hierarchy_file=str(files / 'hand.npz')))
    with pytest.raises(ValueError, match="'intermediate' mesh"):
        MODELS.build(hand_head_cfg(files, loss=dict(type='MeshLoss', loss_weight_edge=1.0)))
    head = MODELS.build(body_head_cfg(files))
    samples = make_samples(14, 72, has_smpl=[1])
    del samples[0].gt_instances.joints_3d
    with pytest.raises(KeyError, match='data sample 0 has no gt_instances.joints_3d'):
        head.loss(features(1), samples)
    samples = make_samples(14, 72, has_smpl=[1])
    samples[0].gt_instances.smpl_pose = np.zeros((1, 69), np.float32)
    with pytest.raises(ValueError, match=r'smpl_pose has shape \(1, 69\), expected \(1, 72\)'):
        head.loss(features(1), samples)


def test_estimator_runs_loss_and_predict_from_a_config(files):
    torch.manual_seed(0)
    cfg = dict(
        type='TopdownMeshEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=dict(type='ResNet', depth=18, in_channels=3, out_indices=(3, )),
        head=body_head_cfg(files, in_channels=512))
    # As in an MMPose config with default_scope='mmpose' (the preprocessor is built through
    # MMEngine's registry, which finds MMPose's children only in that scope).
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg)
    images = [torch.randint(0, 256, (3, IMAGE, IMAGE), dtype=torch.uint8) for _ in range(2)]
    samples = make_samples(14, 72, has_smpl=[1, 0])
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), training=True)
    losses = model(**data, mode='loss')
    assert 'loss_vertices' in losses and all(torch.isfinite(v) for v in losses.values())
    total, log_vars = model.parse_losses(losses)
    assert torch.isfinite(total) and 'loss_joints_2d_reg' in log_vars

    model.eval()
    data = model.data_preprocessor(dict(inputs=images, data_samples=make_samples(
        14, 72, has_smpl=[1, 0])), training=False)
    with torch.no_grad():
        crop = model.head.predict(model.extract_feat(data['inputs']), data['data_samples'])
        results = model(**data, mode='predict')
    for result, head_pred in zip(results, crop):
        pred = result.pred_instances
        center, scale = result.metainfo['input_center'], result.metainfo['input_scale']
        expected = head_pred.keypoints / IMAGE * scale + center - 0.5 * scale
        np.testing.assert_allclose(pred.keypoints, expected, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(pred.vertices, head_pred.vertices, atol=1e-6)  # 3D kept
        np.testing.assert_allclose(pred.keypoints_3d, head_pred.keypoints_3d, atol=1e-6)
        assert pred.keypoints_visible.shape == (1, 14) and pred.cam.shape == (1, 3)
        np.testing.assert_array_equal(pred.bboxes, result.gt_instances.bboxes)
