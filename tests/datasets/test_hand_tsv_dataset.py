"""METRO's FreiHAND TSV release read by ``MeshTSVDataset(mesh_type='hand')``.

A tiny release is written here in METRO's real format (``freihand/train.yaml`` naming
``train.img.tsv``, ``train.label.tsv``, ``train.hw.tsv`` and ``train.linelist.tsv``; labels
as METRO's FreiHAND TSV script writes them: centre (112, 112), scale 0.9, 21 2D joints with
a confidence column, 21 wrist-relative 3D joints, ``hrnet_2d_joints``, MANO pose 48 and betas
10). The dataset must give those values back through the hand's test pipeline, a batch of the
training pipeline must reach the synthetic hand model's loss, and a body dataset must refuse
the hand rows naming the fix.
"""
import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import fastmetro_mm  # noqa: F401  (registers datasets, transforms, models)
from fastmetro_mm.datasets import MeshTSVDataset, write_lineidx
from mmpose.registry import MODELS

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
NUM_ROWS = 3
SIZE = 224


@pytest.fixture(scope='module', autouse=True)
def mmpose_scope():
    init_default_scope('mmpose')


def _write_tsv(path: Path, rows) -> None:
    with open(path, 'w') as f:
        for row in rows:
            f.write('\t'.join(row) + '\n')
    write_lineidx(str(path))


def _hand_label(rng: np.random.Generator) -> dict:
    """One METRO FreiHAND training label (the keys and shapes of METRO's TSV script)."""
    joints_2d = np.concatenate([rng.uniform(40, 184, (21, 2)), np.ones((21, 1))], 1)
    joints_3d = np.concatenate([rng.normal(0, 0.03, (21, 3)), np.ones((21, 1))], 1)
    joints_3d[0, :3] = 0.0  # wrist-relative
    return {'center': [112, 112], 'scale': 0.9,
            '2d_joints': joints_2d.tolist(), 'has_2d_joints': 1,
            '3d_joints': joints_3d.tolist(), 'has_3d_joints': 1,
            'hrnet_2d_joints': rng.uniform(40, 184, 63).tolist(), 'has_hrnet_2d_joints': 1,
            'pose': rng.normal(0, 0.3, 48).tolist(), 'betas': rng.normal(0, 1, 10).tolist(),
            'has_smpl': 1}


@pytest.fixture(scope='module')
def freihand_tsv(tmp_path_factory) -> Path:
    """``freihand/`` with train.yaml and its TSVs; returns the data root (parent folder)."""
    root = tmp_path_factory.mktemp('metro_data')
    folder = root / 'freihand'
    folder.mkdir()
    rng = np.random.default_rng(12)
    keys = [f'{i:08d}.jpg' for i in range(NUM_ROWS)]
    images = []
    for i in range(NUM_ROWS):
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        image = np.stack([xx, yy, (xx + yy + 60 * i) % 256], -1).astype(np.uint8)
        images.append(base64.b64encode(cv2.imencode('.jpg', image)[1].tobytes()).decode())
    _write_tsv(folder / 'train.img.tsv', zip(keys, images))
    labels = [json.dumps([_hand_label(rng)]) for _ in range(NUM_ROWS)]
    _write_tsv(folder / 'train.label.tsv', zip(keys, labels))
    _write_tsv(folder / 'train.hw.tsv',
               [(k, json.dumps([{'height': SIZE, 'width': SIZE}])) for k in keys])
    (folder / 'train.linelist.tsv').write_text(''.join(f'{i}\n' for i in range(NUM_ROWS)))
    (folder / 'train.yaml').write_text('img: train.img.tsv\nhw: train.hw.tsv\n'
                                       'label: train.label.tsv\nlinelist: train.linelist.tsv\n')
    return root


def _labels(root: Path) -> list:
    rows = (root / 'freihand' / 'train.label.tsv').read_text().splitlines()
    return [json.loads(row.split('\t')[1])[0] for row in rows]


def _pipelines() -> Config:
    return Config.fromfile(str(CONFIG_DIR / '_base_' / 'datasets' / 'hand_pipelines.py'))


def test_hand_tsv_rows_read_back_through_the_test_pipeline(freihand_tsv):
    dataset = MeshTSVDataset(data_root=str(freihand_tsv), yaml_file='freihand/train.yaml',
                             mesh_type='hand', test_mode=True,
                             pipeline=_pipelines().hand_test_pipeline_224)
    assert len(dataset) == NUM_ROWS and dataset.num_joints == 21
    assert dataset.metainfo['dataset_name'] == 'mano21_hand' and \
        len(dataset.metainfo['keypoint_id2name']) == 21
    for index, label in enumerate(_labels(freihand_tsv)):
        info = dataset.get_data_info(index)
        np.testing.assert_allclose(info['bbox_center'], [[112, 112]])
        np.testing.assert_allclose(info['bbox_scale'], [[180, 180]])  # 0.9 x 200 pixels
        np.testing.assert_allclose(info['mano_pose'][0], label['pose'], rtol=1e-6)
        assert 'smpl_pose' not in info and info['has_smpl'].tolist() == [1]
        packed = dataset[index]
        gt = packed['data_samples'].gt_instances
        assert packed['inputs'].shape == (3, SIZE, SIZE)
        # A 180-pixel box fed at 224: keypoints scale by 224 / 180 about the centre.
        expected_2d = (np.asarray(label['2d_joints'])[:, :2] - 112) * SIZE / 180 + SIZE / 2
        np.testing.assert_allclose(gt.keypoints[0], expected_2d, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(gt.joints_3d[0], np.asarray(label['3d_joints'])[:, :3],
                                   atol=1e-6)
        np.testing.assert_allclose(gt.smpl_pose[0], label['pose'], rtol=1e-6)
        np.testing.assert_allclose(gt.smpl_betas[0], label['betas'], rtol=1e-6)


def test_hand_tsv_batch_reaches_the_hand_model_loss(freihand_tsv, synthetic_data_dir):
    """A training batch of the TSV rows through the synthetic hand config's model: the MANO
    pose makes the GT mesh, so every loss term is finite."""
    cfg = Config.fromfile(str(CONFIG_DIR / 'fastmetro_s_r50_synthetic_hand.py'))
    cfg.merge_from_dict({
        'model.head.hierarchy_file': str(synthetic_data_dir / 'synthetic_mano_downsampling.npz'),
        'model.head.body_model.model_path': str(synthetic_data_dir / 'MANO_RIGHT.pkl')})
    loader = Runner.build_dataloader(dict(
        batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(type='MeshTSVDataset', data_root=str(freihand_tsv),
                     yaml_file='freihand/train.yaml', mesh_type='hand',
                     pipeline=cfg.train_dataloader.dataset.pipeline)), seed=0)
    batch = next(iter(loader))
    assert [s.gt_instances.smpl_pose.shape for s in batch['data_samples']] == [(1, 48)] * 2
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert 'loss_vertices' in losses
    for name, value in losses.items():
        assert torch.isfinite(value), name


def test_body_tsv_dataset_refuses_hand_rows_naming_the_fix(freihand_tsv):
    with pytest.raises(ValueError, match=r"48 values make a hand pose.*set mesh_type='hand'"):
        MeshTSVDataset(data_root=str(freihand_tsv), yaml_file='freihand/train.yaml')
    with pytest.raises(ValueError, match="mesh_type must be one of"):
        MeshTSVDataset(data_root=str(freihand_tsv), yaml_file='freihand/train.yaml',
                       mesh_type='foot')
