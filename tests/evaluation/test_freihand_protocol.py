"""FreiHAND's protocol end to end without a model: dataset -> pipeline -> MeshMetric.

A tiny FreiHAND release is written from the synthetic MANO hand (vertices = MANO(pose, shape)
+ trans, xyz = the 21 joints regressed from them, as FreiHAND's files relate), read by the
val dataset of configs/_base_/datasets/freihand.py through its real test pipeline, and scored
by that config's evaluator against predictions with known errors.
"""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.joint_regressor import JointRegressor
from mmpose.registry import DATASETS, METRICS

CONFIG = Path(__file__).resolve().parents[2] / 'configs/_base_/datasets/freihand.py'
NUM = 3


@pytest.fixture(scope='module', autouse=True)
def mmpose_scope():
    init_default_scope('mmpose')


@pytest.fixture(scope='module')
def freihand_release(tmp_path_factory, synthetic_data_dir):
    """A FreiHAND 'evaluation' split of NUM synthetic hands; returns (root, verts, xyz)."""
    root = tmp_path_factory.mktemp('freihand')
    mano = BodyModel(synthetic_data_dir / 'MANO_RIGHT.pkl', model_type='mano',
                     flat_hand_mean=False)
    rng = np.random.default_rng(4)
    pose, betas = 0.3 * rng.normal(size=(NUM, 48)), rng.normal(size=(NUM, 10))
    trans = np.array([[0.01, -0.02, 0.6], [-0.02, 0.0, 0.55], [0.0, 0.01, 0.65]])
    with torch.no_grad():
        posed = mano(torch.from_numpy(pose), torch.from_numpy(betas)).vertices.double().numpy()
    verts = posed + trans[:, None]
    xyz = JointRegressor.mano_21(mano.j_regressor)(torch.from_numpy(verts)).numpy()
    intrinsics = np.array([[[480.0, 0.0, 112.0], [0.0, 480.0, 112.0], [0.0, 0.0, 1.0]]] * NUM)
    mano_params = np.concatenate([pose, betas, trans], 1)[:, None]  # (N, 1, 61)
    (root / 'evaluation' / 'rgb').mkdir(parents=True)
    for i in range(NUM):
        cv2.imwrite(str(root / 'evaluation' / 'rgb' / f'{i:08d}.jpg'),
                    np.full((224, 224, 3), 40 * i, np.uint8))
    for name, value in dict(xyz=xyz, K=intrinsics, mano=mano_params, verts=verts).items():
        (root / f'evaluation_{name}.json').write_text(json.dumps(value.tolist()))
    return root, verts, xyz


def _config(root: Path, mano_file: Path, load_vertices: bool = True) -> Config:
    cfg = Config.fromfile(str(CONFIG))
    cfg.val_dataloader.dataset.data_root = str(root)
    cfg.val_dataloader.dataset.load_vertices = load_vertices
    cfg.val_evaluator.body_model.model_path = str(mano_file)
    return cfg


def _score(cfg: Config, predictions: np.ndarray) -> dict:
    """The config's metric over the config's val samples with predicted vertices."""
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    metric = METRICS.build(cfg.val_evaluator)
    samples = []
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        sample.pred_instances = InstanceData(vertices=predictions[index][None],
                                             keypoints_3d=np.zeros((1, 21, 3)))
        samples.append(sample.to_dict())
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_freihand_vertices_are_packed(freihand_release, synthetic_data_dir):
    root, verts, xyz = freihand_release
    cfg = _config(root, synthetic_data_dir / 'MANO_RIGHT.pkl')
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(dataset) == NUM
    for index in range(NUM):
        packed = dataset[index]
        assert tuple(packed['inputs'].shape) == (3, 224, 224)
        gt = packed['data_samples'].gt_instances
        np.testing.assert_allclose(gt.vertices[0], verts[index], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(gt.joints_3d[0], xyz[index], rtol=1e-6, atol=1e-7)
        assert gt.has_smpl.tolist() == [1] and gt.smpl_pose.shape == (1, 48)
        # The crop is the whole 224 x 224 image, so crop pixels are image pixels.
        uv = xyz[index] @ np.array([[480.0, 0, 112], [0, 480.0, 112], [0, 0, 1]]).T
        np.testing.assert_allclose(gt.keypoints[0], uv[:, :2] / uv[:, 2:], atol=1e-3)
    without = _config(root, synthetic_data_dir / 'MANO_RIGHT.pkl', load_vertices=False)
    gt = DATASETS.build(without.val_dataloader.dataset)[0]['data_samples'].gt_instances
    assert 'vertices' not in gt


@pytest.mark.parametrize('load_vertices', [True, False])
def test_freihand_protocol_known_errors(freihand_release, synthetic_data_dir, load_vertices):
    root, verts, xyz = freihand_release
    cfg = _config(root, synthetic_data_dir / 'MANO_RIGHT.pkl', load_vertices)
    wrist = xyz[:, :1]
    # Sample 0 exact, sample 1 moved 3 cm (wrist-relative errors stay 0), sample 2 scaled by
    # 1.1 about its wrist and moved: every wrist-relative point moves by 10 % of its distance
    # to the wrist, and Procrustes undoes it.
    predictions = verts.copy()
    predictions[1] += [0.03, 0.0, -0.01]
    predictions[2] = wrist[2] + 1.1 * (verts[2] - wrist[2]) + 0.05
    out = _score(cfg, predictions)
    expected_mpvpe = 100 * np.linalg.norm(verts[2] - wrist[2], axis=-1).mean() / NUM
    expected_mpjpe = 100 * np.linalg.norm(xyz[2] - wrist[2], axis=-1).mean() / NUM
    for name in ('MPJPE', 'PA-MPJPE', 'MPVPE', 'PA-MPVPE', 'F@5mm', 'F@15mm'):
        assert out[f'{name}_count'] == NUM, name
    # Without the vertices file the GT mesh is posed from evaluation_mano.json by MANO
    # (float32), centred on its own wrist: the same errors within float32 rounding.
    tolerance = dict(rel=1e-5) if load_vertices else dict(rel=1e-4, abs=2e-3)
    assert out['MPVPE'] == pytest.approx(expected_mpvpe, **tolerance)
    assert out['MPJPE'] == pytest.approx(expected_mpjpe, rel=1e-5)
    assert out['PA-MPJPE'] == pytest.approx(0.0, abs=1e-4)
    assert out['PA-MPVPE'] == pytest.approx(0.0, abs=2e-3)
    assert out['F@5mm'] == out['F@15mm'] == 1.0

    # A prediction 8 mm off for half of the vertices, in alternating directions along x,
    # keeps those vertices farther than 5 mm from the GT set after alignment.
    bad = verts.copy()
    offsets = np.zeros_like(verts)
    offsets[:, ::2, 0] = 0.008 * np.where(np.arange(0, 778, 2) % 4 == 0, 1.0, -1.0)
    bad += offsets
    worse = _score(cfg, bad)
    assert worse['F@5mm'] < 0.9 and worse['F@15mm'] == 1.0
    assert worse['PA-MPVPE'] > 2.0
