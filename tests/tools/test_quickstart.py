"""tools/quickstart.py (`make quickstart`) at toy size, and the mean-pose baseline it reports.

The end-to-end test runs every step of the quickstart (render, backbone warm-up, train, test
with rendered predictions, baseline, pictures) on 8 training and 4 test images for two
one-iteration epochs: it checks the plumbing (every printed number, the verdict, both pictures,
a validation point per epoch), not the accuracy, which only the full run (README) can show.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from scipy.spatial.transform import Rotation

from fastmetro_mm.mesh import BodyModel, JointRegressor

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'quickstart' / 'fastmetro_s_r18_synthetic_quickstart.py'


METRICS = ('mesh/MPJPE', 'mesh/PA-MPJPE', 'mesh/MPVPE', 'mesh/PA-MPVPE')
EPOCHS = 2
TEST_IMAGES = 4


def _load_tool(relative_path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_baseline_tool():
    return _load_tool('tools/analysis/mean_pose_baseline.py', 'tools_mean_pose_baseline')


def _table_row(console: str, label: str) -> list:
    """The numbers of the printed table's row that starts with ``label``."""
    rows = [line for line in console.splitlines() if line.startswith(label + '  ')]
    assert len(rows) == 1, f'{label!r}: {rows}\n{console[-3000:]}'
    return [float(cell.rstrip('%')) for cell in rows[0][len(label):].split('(')[0].split()]


@pytest.fixture(scope='module')
def quickstart_run(synthetic_data_dir, tmp_path_factory):
    """Output folder and console text of a toy quickstart."""
    root = tmp_path_factory.mktemp('quickstart')
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    cmd = [sys.executable, str(ROOT / 'tools' / 'quickstart.py'), '--work-dir',
           str(root / 'work'), '--model-dir', str(synthetic_data_dir), '--data-dir',
           str(root / 'data'), '--num-train', '8', '--num-test', str(TEST_IMAGES),
           '--max-epochs', str(EPOCHS), '--warmup-epochs', '1', '--num-pictures',
           str(TEST_IMAGES)]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    # Exit status 1 means "did not clearly beat the baseline", expected after two iterations.
    assert proc.returncode in (0, 1), f'{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}'
    return root, proc.stdout, proc.returncode


def test_quickstart_runs_every_step_and_writes_its_pictures(quickstart_run):
    root, console, _ = quickstart_run
    work = root / 'work'
    for name in ('warmup/epoch_1.pth', f'epoch_{EPOCHS}.pth', 'test_metrics.json',
                 'baseline_metrics.json', 'training_curves.png', 'predictions.png'):
        assert (work / name).is_file(), f'{name} missing; console:\n{console[-3000:]}'
    # FastMETRO-S started from the warmed-up backbone.
    assert f'load backbone. in model from: {work}/warmup/epoch_1.pth' in console
    assert len(list((work / 'test').glob('*/predictions/*'))) == TEST_IMAGES

    # The figure: a header, then one captioned row of at least 256 px per test image.
    figure = cv2.imread(str(work / 'predictions.png'))
    assert figure.shape[0] >= TEST_IMAGES * 256 and figure.shape[1] >= 3 * 256, figure.shape
    assert f'predictions.png ({figure.shape[1]} x {figure.shape[0]} px, {TEST_IMAGES} test ' \
        'images)' in console

    # The curves: the four metrics after each epoch, one point per epoch.
    scalars = sorted(work.glob('*/vis_data/scalars.json'))[-1]
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    validations = [r for r in records if 'mesh/MPJPE' in r]
    assert [r['step'] for r in validations] == list(range(1, EPOCHS + 1))
    assert all(key in r for r in validations for key in METRICS)
    epochs = ', '.join(str(e) for e in range(1, EPOCHS + 1))
    assert f'training_curves.png: the 4 metrics after epochs {epochs}' in console


def test_quickstart_prints_every_metric_and_its_verdict(quickstart_run):
    root, console, returncode = quickstart_run
    work = root / 'work'
    model = json.loads((work / 'test_metrics.json').read_text())
    baseline = json.loads((work / 'baseline_metrics.json').read_text())
    for metrics in (model, baseline):
        for key in METRICS:
            assert metrics[f'{key}_count'] == TEST_IMAGES
            assert 0 < metrics[key] < 1e4
    header = [line for line in console.splitlines() if '(mm, lower is better)' in line]
    assert header and header[0].split()[:4] == ['MPJPE', 'PA-MPJPE', 'MPVPE', 'PA-MPVPE']
    assert _table_row(console, 'FastMETRO-S (trained)') == \
        pytest.approx([model[key] for key in METRICS], abs=0.051)
    assert _table_row(console, 'mean-pose baseline') == \
        pytest.approx([baseline[key] for key in METRICS], abs=0.051)
    gains = [100 * (1 - model[key] / baseline[key]) for key in METRICS]
    assert _table_row(console, 'gain over the baseline') == pytest.approx(gains, abs=0.51)
    # The verdict agrees with the exit status and names each metric as passing or failing.
    passed = all(gain >= 20 for gain in gains)
    assert returncode == (0 if passed else 1)
    verdict = [line for line in console.splitlines() if line.startswith(('PASS:', 'FAIL:'))]
    assert len(verdict) == 1 and verdict[0].startswith('PASS:' if passed else 'FAIL:')
    for key in METRICS:
        name = key.split('/')[1]
        assert len(re.findall(rf'(?<![\w-]){name}(?![\w-])', verdict[0])) == 1, verdict[0]


def test_quickstart_gate_needs_every_metric():
    """20% below the baseline on each of the four metrics, not on PA-MPJPE alone."""
    tool = _load_tool('tools/quickstart.py', 'tools_quickstart')
    baseline = dict.fromkeys(METRICS, 100.0)
    passed, text = tool.verdict(dict.fromkeys(METRICS, 80.0), baseline)
    assert passed and text.startswith('PASS:')
    model = dict(baseline, **{'mesh/MPJPE': 50.0, 'mesh/PA-MPJPE': 50.0, 'mesh/MPVPE': 70.0,
                              'mesh/PA-MPVPE': 85.0})
    passed, text = tool.verdict(model, baseline)
    assert not passed
    assert text == ('FAIL: less than 20% below the mean-pose baseline on PA-MPVPE (15%); at '
                    'least 20% below it on MPJPE, PA-MPJPE, MPVPE.')


def test_quickstart_reuses_what_exists(quickstart_run, synthetic_data_dir):
    root, _, _ = quickstart_run
    before = (root / 'work' / f'epoch_{EPOCHS}.pth').stat().st_mtime_ns
    tool = ROOT / 'tools' / 'quickstart.py'
    proc = subprocess.run(
        [sys.executable, str(tool), '--work-dir', str(root / 'work'), '--model-dir',
         str(synthetic_data_dir), '--data-dir', str(root / 'data'), '--max-epochs',
         str(EPOCHS), '--warmup-epochs', '1'],
        cwd=root, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES=''))
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    assert 'exists, reused' in proc.stdout and 'training skipped' in proc.stdout
    assert 'warmup/epoch_1.pth exists, training skipped' in proc.stdout
    assert (root / 'work' / f'epoch_{EPOCHS}.pth').stat().st_mtime_ns == before


def test_mean_pose_mesh_matches_an_independent_computation(quickstart_run, synthetic_data_dir):
    """Canonical meshes averaged, turned by the chordal mean rotation (scipy's)."""
    root, _, _ = quickstart_run
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
    root, _, _ = quickstart_run
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


def test_prediction_figure_keeps_an_existing_picture(tmp_path):
    """The figure tool refuses to replace a file without --overwrite, before any work."""
    tool = _load_tool('tools/analysis/prediction_figure.py', 'tools_prediction_figure')
    out = tmp_path / 'mine.png'
    out.write_bytes(b'a picture someone made')
    with pytest.raises(SystemExit, match='exists; pass --overwrite'):
        tool.main([str(CONFIG), str(tmp_path / 'no.pth'), '--out', str(out)])
    assert out.read_bytes() == b'a picture someone made'
    assert tool.pick_indices(200, 6) == [0, 40, 80, 119, 159, 199]
    assert tool.pick_indices(4, 6) == [0, 1, 2, 3]
