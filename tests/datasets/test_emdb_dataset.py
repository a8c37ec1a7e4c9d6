"""EMDBDataset on synthetic sequences written in EMDB's release layout.

Two short sequences (a male one flagged emdb1, a female one flagged emdb2) are rendered once
from the session's synthetic bodies with ``make_synthetic_emdb_sequences``, then read through
MMPose's registry and the configs' real test pipeline. Known answers: the sample counts are
the good frames; the camera-frame GT pose, posed by the body model, is the world-frame body
moved by the extrinsic and reprojects onto ``kp2d`` with the intrinsics; EMDBMetric gives 0
for the GT as the prediction; ``tools/test.py`` runs the synthetic EMDB config end to end.
Bad releases (missing key, wrong shape, a good frame with an invalid box, an unknown
sequence) fail with errors naming the file, key, sequence and frame.
"""
import importlib.util
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, METRICS, MODELS
from scipy.spatial.transform import Rotation

import fastmetro_mm  # noqa: F401  (registers the dataset, transforms and metric)
from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.joint_sets import J24, SMPL_24
from fastmetro_mm.synthetic import EMDBSequenceOptions, make_synthetic_emdb_sequences
from fastmetro_mm.synthetic.poses import body_pose_limits, sample_pose_prototypes
from fastmetro_mm.synthetic.splits import prototype_rng

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = Config.fromfile(str(ROOT / 'configs/_base_/datasets/body_pipelines.py'))
NAMES = ('P0_00_synthetic', 'P1_01_synthetic')
NUM_FRAMES = 12


@pytest.fixture(autouse=True)
def mmpose_scope():
    init_default_scope('mmpose')


@pytest.fixture(scope='module')
def emdb_root(synthetic_data_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('emdb')
    make_synthetic_emdb_sequences(
        EMDBSequenceOptions(model_dir=synthetic_data_dir, out_dir=root, num_sequences=2,
                            num_frames=NUM_FRAMES, image_size=(96, 128)), log=None)
    return root


def _pickle(root: Path, name: str) -> dict:
    subject, sequence = name.split('_', 1)
    with open(root / subject / sequence / f'{name}_data.pkl', 'rb') as f:
        return pickle.load(f)


def _dataset(root: Path, **kwargs):
    return DATASETS.build(dict(type='EMDBDataset', data_root=str(root), test_mode=True,
                               pipeline=PIPELINES.body_test_pipeline_128, **kwargs))


def test_synthetic_sequences_have_emdb_layout_and_masked_frames(emdb_root):
    for index, name in enumerate(NAMES):
        data = _pickle(emdb_root, name)
        assert (data['name'], data['gender'], data['emdb1'], data['emdb2']) == \
            (name, ('male', 'female')[index], index == 0, index == 1)
        good = data['good_frames_mask']
        assert data['n_frames'] == NUM_FRAMES and good.dtype == bool and good[0]
        assert 0 < np.count_nonzero(~good) < NUM_FRAMES
        np.testing.assert_array_equal(data['bboxes']['invalid_idxs'], np.flatnonzero(~good))
        assert data['kp2d'].shape == (NUM_FRAMES, 24, 2)
        assert data['camera']['extrinsics'].shape == (NUM_FRAMES, 4, 4)
        assert (data['camera']['width'], data['camera']['height']) == (96, 128)
        assert {k: v.shape for k, v in data['smpl'].items()} == dict(
            poses_root=(NUM_FRAMES, 3), poses_body=(NUM_FRAMES, 69), trans=(NUM_FRAMES, 3),
            betas=(10, ))
        images = sorted(p.name for p in (emdb_root / name[:2] / name[3:] / 'images').iterdir())
        assert images == [f'{f:05d}.jpg' for f in range(NUM_FRAMES)]
        # Smooth at 30 fps: consecutive poses and camera rotations change little.
        assert np.abs(np.diff(data['smpl']['poses_body'], axis=0)).max() < 0.15
        rotations = Rotation.from_matrix(data['camera']['extrinsics'][:, :3, :3])
        assert (rotations[1:] * rotations[:-1].inv()).magnitude().max() < np.deg2rad(5)


def test_subsets_and_sequences_select_good_frames_only(emdb_root):
    good = {name: np.flatnonzero(_pickle(emdb_root, name)['good_frames_mask'])
            for name in NAMES}
    emdb1, every, second = (_dataset(emdb_root), _dataset(emdb_root, subset='all'),
                            _dataset(emdb_root, sequences=[NAMES[1]]))
    assert len(emdb1) == len(good[NAMES[0]])
    assert len(every) == len(good[NAMES[0]]) + len(good[NAMES[1]])
    assert len(second) == len(good[NAMES[1]])
    expected = [(name, int(f)) for name in NAMES for f in good[name]]
    infos = [every.get_data_info(i) for i in range(len(every))]
    assert [(info['seq_name'], info['frame_index']) for info in infos] == expected
    assert [info['id'] for info in infos] == list(range(len(every)))
    assert [info['img_id'] for info in infos] == [f'{n}/{f:05d}' for n, f in expected]
    assert all(info['img_path'].endswith(f'{f:05d}.jpg') for info, (_, f) in
               zip(infos, expected))

    packed = second[0]
    sample = packed['data_samples']
    assert packed['inputs'].shape == (3, 128, 128)
    assert (sample.seq_name, sample.frame_index, sample.gender, sample.fps) == \
        (NAMES[1], int(good[NAMES[1]][0]), 'female', 30.0)
    assert sample.cam_intrinsics.shape == (3, 3)
    gt = sample.gt_instances
    assert gt.smpl_pose.shape == (1, 72) and gt.smpl_betas.shape == (1, 10)
    assert gt.has_smpl.tolist() == [1] and gt.gender.tolist() == [2]
    assert gt.keypoints.shape == (1, 14, 2) and gt.keypoints_visible.min() == 1.0


def test_camera_frame_gt_reprojects_onto_kp2d(emdb_root, synthetic_data_dir):
    dataset = _dataset(emdb_root, sequences=[NAMES[0]], bbox_padding=1.5)
    data = _pickle(emdb_root, NAMES[0])
    model = BodyModel.smpl(synthetic_data_dir, gender='male', dtype=torch.float64)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    frames = [info['frame_index'] for info in infos]
    smpl = data['smpl']
    betas = torch.from_numpy(np.tile(smpl['betas'], (len(frames), 1)))
    world_pose = np.concatenate([smpl['poses_root'], smpl['poses_body']], 1)[frames]
    world = model(torch.from_numpy(world_pose), betas).joints.numpy() + \
        smpl['trans'][frames, None]
    extrinsics = data['camera']['extrinsics'][frames]
    camera = np.einsum('fij,fkj->fki', extrinsics[:, :3, :3], world) + \
        extrinsics[:, None, :3, 3]
    pose = np.concatenate([info['smpl_pose'] for info in infos]).astype(np.float64)
    posed = model(torch.from_numpy(pose), betas).joints.numpy()
    # The camera-frame pose gives the camera-frame body up to a translation.
    np.testing.assert_allclose(posed - posed[:, :1], camera - camera[:, :1], atol=1e-4)
    intrinsics = infos[0]['cam_intrinsics'].astype(np.float64)
    uvw = camera @ intrinsics.T
    np.testing.assert_allclose(uvw[..., :2] / uvw[..., 2:], data['kp2d'][frames], atol=1e-3)

    rows = [i for i, n in enumerate(J24.names) if n in SMPL_24.names]
    for info, frame in zip(infos, frames):
        keypoints = info['keypoints'][0]
        np.testing.assert_allclose(
            keypoints[rows], data['kp2d'][frame, [SMPL_24.index(J24.names[i]) for i in rows]],
            atol=1e-3)
        assert info['keypoints_visible'][0].sum() == len(rows) == 15
        box = data['bboxes']['bboxes'][frame]
        np.testing.assert_allclose(info['bbox'][0], box, rtol=1e-6)
        np.testing.assert_allclose(info['bbox_scale'][0], [1.5 * (box[2:] - box[:2]).max()] * 2,
                                   rtol=1e-5)


def test_metric_gives_zero_for_the_ground_truth(emdb_root, synthetic_data_dir):
    """The packed samples carry everything EMDBMetric reads: GT as the prediction is 0."""
    dataset = _dataset(emdb_root, sequences=[NAMES[0]])
    metric = METRICS.build(dict(type='EMDBMetric', prediction_source='smpl', body_model=dict(
        model_path=str(synthetic_data_dir), gender='male')))
    samples = []
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        gt = sample.gt_instances
        rotations = Rotation.from_rotvec(gt.smpl_pose.reshape(24, 3)).as_matrix()
        sample.pred_instances = sample.gt_instances.new(
            smpl_pose=rotations[None].astype(np.float32), smpl_betas=gt.smpl_betas)
        samples.append(sample.to_dict())
    metric.process({}, samples[::-1])  # frame order comes from frame_index
    results = metric.compute_metrics(metric.results)
    assert results['num_frames'] == len(dataset) and results['num_sequences'] == 1
    for name in ('MPJPE', 'PA-MPJPE', 'MVE', 'PA-MVE', 'MPJAE', 'MPJAE-PA'):
        assert results[name] == pytest.approx(0.0, abs=1e-2), name


def _bad_root(emdb_root: Path, tmp_path: Path, edit) -> Path:
    """A copy of sequence P0_00_synthetic whose pickle ``edit`` changed."""
    root = tmp_path / 'bad'
    folder = root / 'P0' / '00_synthetic'
    shutil.copytree(emdb_root / 'P0' / '00_synthetic', folder)
    data = _pickle(emdb_root, NAMES[0])
    edit(data)
    with open(folder / f'{NAMES[0]}_data.pkl', 'wb') as f:
        pickle.dump(data, f)
    return root


# Frame 0 of a synthetic sequence is always good.
def _good_frame_listed_invalid(data: dict) -> None:
    data['bboxes']['invalid_idxs'] = np.append(data['bboxes']['invalid_idxs'], 0)


def _good_frame_with_empty_box(data: dict) -> None:
    data['bboxes']['bboxes'][0, 2] = data['bboxes']['bboxes'][0, 0]


@pytest.mark.parametrize('edit, error, words', [
    (lambda d: d['smpl'].pop('poses_body'), KeyError, ['P0_00_synthetic_data.pkl',
                                                       'poses_body']),
    (lambda d: d.update(kp2d=d['kp2d'][:, :17]), ValueError, ['kp2d', '(12, 17, 2)',
                                                              '(12, 24, 2)']),
    (_good_frame_listed_invalid, ValueError, ['P0_00_synthetic, frame 0', 'invalid']),
    (_good_frame_with_empty_box, ValueError, ['P0_00_synthetic, frame 0', 'invalid']),
    (lambda d: d.update(name='P0_07_other'), ValueError, ['"name"', 'P0_07_other']),
])
def test_bad_releases_are_named(emdb_root, tmp_path, edit, error, words):
    root = _bad_root(emdb_root, tmp_path, edit)
    with pytest.raises(error) as info:
        _dataset(root, subset='all')
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_bad_selections_are_named(emdb_root):
    with pytest.raises(FileNotFoundError, match='P4_99_missing.*P0_00_synthetic'):
        _dataset(emdb_root, sequences=['P4_99_missing'])
    with pytest.raises(ValueError, match='not "P<subject>_<sequence>"'):
        _dataset(emdb_root, sequences=['outdoor_climb'])
    with pytest.raises(ValueError, match='either subset'):
        _dataset(emdb_root, subset='emdb1', sequences=[NAMES[0]])
    with pytest.raises(ValueError, match="subset must be one of"):
        _dataset(emdb_root, subset='emdb3')


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'tools_{name}', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tools_test_runs_the_synthetic_emdb_config(emdb_root, synthetic_data_dir, tmp_path,
                                                   monkeypatch):
    """tools/test.py CONFIG CKPT on the synthetic EMDB config prints EMDB's columns."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'data').mkdir()
    os.symlink(synthetic_data_dir, tmp_path / 'data' / 'synthetic')
    os.symlink(emdb_root, tmp_path / 'data' / 'synthetic_emdb')
    config = ROOT / 'configs' / 'fastmetro_s_r50_synthetic_emdb.py'
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'random.pth')
    printed = _load_tool('test').main([
        str(config), 'random.pth', '--work-dir', 'work', '--out', 'metrics.json',
        '--cfg-options', 'test_dataloader.dataset.subset=all', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False', 'test_dataloader.batch_size=8'])
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics == pytest.approx(printed)
    good = sum(int(_pickle(emdb_root, n)['good_frames_mask'].sum()) for n in NAMES)
    assert (metrics['emdb/num_frames'], metrics['emdb/num_sequences']) == (good, 2)
    for name in ('MPJPE', 'PA-MPJPE', 'MVE', 'PA-MVE', 'Jitter'):
        assert np.isfinite(metrics[f'emdb/{name}']) and metrics[f'emdb/{name}'] > 0, name
    assert 'emdb/MPJAE' not in metrics  # a vertex-only model


def test_make_synthetic_tool_writes_emdb_sequences(synthetic_data_dir, tmp_path, capsys):
    """With prototypes, the joints move within the jitter box around one of the prototypes
    the image dataset of the same seed uses."""
    tool = _load_tool('dataset_converters/make_synthetic')
    args = ['--model-dir', str(synthetic_data_dir), '--out-dir', str(tmp_path / 'emdb'),
            '--emdb-sequences', '1', '--frames', '8', '--image-size', '64', '80', '--seed', '3',
            '--pose-prototypes', '4', '--prototype-jitter', '0.05']
    assert tool.main(args) == 0
    data = _pickle(tmp_path / 'emdb', NAMES[0])
    assert data['n_frames'] == 8 and data['camera']['width'] == 64
    limits = body_pose_limits(SMPL_24.names)
    prototypes = sample_pose_prototypes(prototype_rng(3), limits, 4)
    span = (limits[..., 1] - limits[..., 0]).reshape(-1)
    offsets = np.abs(data['smpl']['poses_body'][:, None] - prototypes[None]) / span
    assert offsets.max(axis=2).min(axis=1).max() <= 0.05 + 1e-9
    assert tool.main(args) == 1  # refuses to overwrite
    assert 'pass --overwrite' in capsys.readouterr().err
    for bad in (['--frames', '8'], ['--emdb-sequences', '1', '--hand'],
                ['--emdb-sequences', '1', '--frames', '5'],
                ['--emdb-sequences', '1', '--save-masks']):
        with pytest.raises(SystemExit):
            tool.parse_args(['--model-dir', str(synthetic_data_dir), *bad])
