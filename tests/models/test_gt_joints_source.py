"""MeshHead(gt_joints_3d=...): GT 3D joints from the annotation (default) or, as the released
hand training step, from the MANO layer of the GT pose and shape."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from fastmetro_mm.mesh import BodyModel, MeshHierarchy, mano_layer_joints
from fastmetro_mm.synthetic import make_synthetic_mano, write_model_file
from mmpose.registry import MODELS

from tiny_meshes import features, make_samples, write_tiny_mesh_files

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'


@pytest.fixture(scope='module')
def hand_files(tmp_path_factory):
    """The synthetic MANO (778 vertices, so the layer's fingertip ids exist) and a hierarchy."""
    root = tmp_path_factory.mktemp('gt_joints_source')
    hand = make_synthetic_mano(True)
    write_model_file(hand, root / 'MANO_RIGHT.pkl')
    MeshHierarchy.build(hand['v_template'], hand['f'], factors=(4, )).save(root / 'hand.npz')
    return root


def hand_head(files, **overrides):
    cfg = dict(type='MeshHead', in_channels=32, mesh_type='hand',
               hierarchy_file=str(files / 'hand.npz'),
               body_model=dict(model_path=str(files / 'MANO_RIGHT.pkl'), flat_hand_mean=False),
               network=dict(type='FastMETRONetwork', model_size='S', d_model_1=32, d_model_2=16,
                            dim_feedforward_1=64, dim_feedforward_2=32, nhead=4, dropout=0.0))
    cfg.update(overrides)
    return MODELS.build(cfg)


def test_default_reads_the_annotation(hand_files):
    head = hand_head(hand_files)
    assert head.targets.gt_joints_3d == 'annotation'
    samples = make_samples(21, 48, has_smpl=[1, 0])
    samples[1].gt_instances.has_joints_3d = np.array([0.0], np.float32)
    target = head.targets(samples, torch.device('cpu'))
    expected = np.concatenate([s.gt_instances.joints_3d for s in samples])
    np.testing.assert_array_equal(target['joints_3d'].numpy(), expected)
    assert target['has_joints_3d'].tolist() == [1.0, 0.0]


def test_body_model_joints_are_the_mano_layer_joints_where_there_is_a_mesh(hand_files):
    head = hand_head(hand_files, gt_joints_3d='body_model')
    samples = make_samples(21, 48, has_smpl=[1, 0, 1], seed=3)
    for sample in samples:  # the annotation's 3D joints are not needed, and not read
        for key in ('joints_3d', 'joints_3d_visible', 'has_joints_3d'):
            del sample.gt_instances[key]
    target = head.targets(samples, torch.device('cpu'))
    pose = torch.as_tensor(np.concatenate([s.gt_instances.smpl_pose for s in samples]))
    betas = torch.as_tensor(np.concatenate([s.gt_instances.smpl_betas for s in samples]))
    posed = BodyModel(hand_files / 'MANO_RIGHT.pkl', model_type='mano',
                      flat_hand_mean=False)(pose, betas)
    joints = mano_layer_joints(posed.joints, posed.vertices)
    joints = joints - joints[:, :1]
    torch.testing.assert_close(target['joints_3d'][[0, 2]], joints[[0, 2]])
    assert not target['joints_3d'][1].any()  # no GT mesh, no GT joints
    assert target['has_joints_3d'].tolist() == [1.0, 0.0, 1.0]  # has_smpl
    assert bool((target['joints_3d_visible'] == 1).all())
    # The wrist is the skeleton's, where the GT mesh is centred too.
    torch.testing.assert_close(target['mesh_root'][[0, 2], 0], posed.joints[[0, 2], 0])


def test_body_model_loss_ignores_the_annotation_and_its_flags(hand_files):
    head = hand_head(hand_files, gt_joints_3d='body_model')
    first = make_samples(21, 48, has_smpl=[1, 0], seed=5)
    second = make_samples(21, 48, has_smpl=[1, 0], seed=5)
    for sample in second:
        sample.gt_instances.joints_3d = sample.gt_instances.joints_3d + 1.0
        sample.gt_instances.joints_3d_visible = np.zeros((1, 21), np.float32)
        sample.gt_instances.has_joints_3d = np.array([0.0], np.float32)
    feats = features(2)
    losses = head.loss(feats, first)
    again = head.loss(feats, second)
    assert losses['loss_joints_3d'] > 0
    for name in losses:
        torch.testing.assert_close(losses[name], again[name])
    annotated = hand_head(hand_files).loss(feats, first)
    assert not torch.isclose(annotated['loss_joints_3d'], losses['loss_joints_3d'])


def test_bad_values_name_the_option(hand_files, tmp_path):
    with pytest.raises(ValueError, match="gt_joints_3d must be one of .*'mano'"):
        hand_head(hand_files, gt_joints_3d='mano')
    files = write_tiny_mesh_files(tmp_path)
    with pytest.raises(ValueError, match="gt_joints_3d='body_model'.*SMPL"):
        MODELS.build(dict(type='MeshHead', in_channels=32, mesh_type='body',
                          hierarchy_file=str(files / 'body.npz'),
                          body_model=dict(model_path=str(files / 'SMPL_NEUTRAL.pkl')),
                          joint_regressor_file=str(files / 'h36m.npy'),
                          network=dict(type='FastMETRONetwork', model_size='S'),
                          gt_joints_3d='body_model'))


def test_only_the_release_hand_config_takes_the_mano_layer_joints():
    release = Config.fromfile(str(CONFIG_DIR / 'official' / 'fastmetro_l_h64_freihand_release.py'))
    assert release.model.head.gt_joints_3d == 'body_model'
    for name in ('fastmetro_l_h64_freihand.py', 'fastmetro_s_r50_synthetic_hand.py'):
        assert Config.fromfile(str(CONFIG_DIR / name)).model.head.gt_joints_3d == 'annotation'
