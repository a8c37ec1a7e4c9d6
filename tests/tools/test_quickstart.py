"""tools/quickstart.py (`make quickstart`) at toy size, and the mean-pose baseline it reports.

The end-to-end test runs every step of the quickstart (render, backbone warm-up, train, test
with rendered predictions, baseline, pictures) on 8 training and 4 test images for one
iteration: it checks the plumbing, not the accuracy, which only the full run (README) can show.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from scipy.spatial.transform import Rotation

from fastmetro_mm.mesh import BodyModel, JointRegressor

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'quickstart' / 'fastmetro_s_r18_synthetic_quickstart.py'


def _load_baseline_tool():
    path = ROOT / 'tools' / 'analysis' / 'mean_pose_baseline.py'
    spec = importlib.util.spec_from_file_location('tools_mean_pose_baseline', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def quickstart_run(synthetic_data_dir, tmp_path_factory):
    """Output folder and console text of a toy quickstart."""
    root = tmp_path_factory.mktemp('quickstart')
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    cmd = [sys.executable, str(ROOT / 'tools' / 'quickstart.py'), '--work-dir',
           str(root / 'work'), '--model-dir', str(synthetic_data_dir), '--data-dir',
           str(root / 'data'), '--num-train', '8', '--num-test', '4', '--max-epochs', '1',
           '--warmup-epochs', '1', '--num-pictures', '4']
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    # Exit status 1 means "did not clearly beat the baseline", expected after one iteration.
    assert proc.returncode in (0, 1), f'{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}'
    return root, proc.stdout


def test_quickstart_runs_every_step_and_writes_its_pictures(quickstart_run):
    root, console = quickstart_run
    work = root / 'work'
    for name in ('warmup/epoch_1.pth', 'epoch_1.pth', 'test_metrics.json',
                 'baseline_metrics.json', 'training_curves.png', 'predictions.png'):
        assert (work / name).is_file(), f'{name} missing; console:\n{console[-3000:]}'
    # FastMETRO-S started from the warmed-up backbone.
    assert f'load backbone. in model from: {work}/warmup/epoch_1.pth' in console
    model = json.loads((work / 'test_metrics.json').read_text())
    baseline = json.loads((work / 'baseline_metrics.json').read_text())
    for metrics in (model, baseline):
        assert metrics['mesh/PA-MPJPE_count'] == 4
        assert 0 < metrics['mesh/PA-MPJPE'] < 1e4
    assert 'FastMETRO-S (trained)' in console and 'mean-pose baseline' in console
    assert len(list((work / 'test').glob('*/predictions/*'))) == 4


def test_quickstart_reuses_what_exists(quickstart_run, synthetic_data_dir):
    root, _ = quickstart_run
    before = (root / 'work' / 'epoch_1.pth').stat().st_mtime_ns
    tool = ROOT / 'tools' / 'quickstart.py'
    proc = subprocess.run(
        [sys.executable, str(tool), '--work-dir', str(root / 'work'), '--model-dir',
         str(synthetic_data_dir), '--data-dir', str(root / 'data'), '--max-epochs', '1',
         '--warmup-epochs', '1'],
        cwd=root, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES=''))
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    assert 'exists, reused' in proc.stdout and 'training skipped' in proc.stdout
    assert 'warmup/epoch_1.pth exists, training skipped' in proc.stdout
    assert (root / 'work' / 'epoch_1.pth').stat().st_mtime_ns == before


def test_mean_pose_mesh_matches_an_independent_computation(quickstart_run, synthetic_data_dir):
    """Canonical meshes averaged, turned by the chordal mean rotation (scipy's)."""
    root, _ = quickstart_run
    tool = _load_baseline_tool()
    init_default_scope('mmpose')
    from mmpose.registry import DATASETS
    cfg = Config.fromfile(str(CONFIG))
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg.update(data_root=str(root / 'data'), pipeline=[])
    dataset = DATASETS.build(dataset_cfg)
    body = BodyModel(model_path=str(synthetic_data_dir / 'SMPL_NEUTRAL.pkl'))
    pelvis = JointRegressor.from_file(synthetic_data_dir / 'J_regressor_h36m_synthetic.npy',
                                      select=[0])
    mesh = tool.mean_training_mesh(dataset, body, pelvis)

    with np.load(root / 'data' / 'synthetic_train.npz') as npz:
        pose, betas = npz['pose'].astype(np.float32), npz['shape'].astype(np.float32)
    canonical = pose.copy()
    canonical[:, :3] = 0
    with torch.no_grad():
        vertices = body(torch.from_numpy(canonical), torch.from_numpy(betas)).vertices
        vertices = vertices - pelvis(vertices)
    rotation = Rotation.from_rotvec(pose[:, :3].astype(np.float64)).mean().as_matrix()
    expected = vertices.double().mean(0).numpy() @ rotation.T
    assert mesh.shape == (6890, 3)
    np.testing.assert_allclose(mesh.numpy(), expected, atol=1e-5)


def test_mean_pose_mesh_needs_smpl_parameters(quickstart_run, synthetic_data_dir):
    root, _ = quickstart_run
    tool = _load_baseline_tool()
    init_default_scope('mmpose')
    from mmpose.registry import DATASETS
    cfg = Config.fromfile(str(CONFIG))
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    npz = dict(np.load(root / 'data' / 'synthetic_train.npz'))
    npz['has_smpl'] = np.zeros_like(npz['has_smpl'])
    np.savez(root / 'data' / 'no_smpl.npz', **npz)
    dataset_cfg.update(data_root=str(root / 'data'), ann_file='no_smpl.npz', pipeline=[])
    dataset = DATASETS.build(dataset_cfg)
    body = BodyModel(model_path=str(synthetic_data_dir / 'SMPL_NEUTRAL.pkl'))
    with pytest.raises(ValueError, match='has_smpl=1'):
        tool.mean_training_mesh(dataset, body)
