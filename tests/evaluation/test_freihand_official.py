"""FreiHAND's official evaluation in MeshMetric: alignment, PCK AUC, the submission file.

Known answers: a mirrored, scaled, moved copy aligns back exactly (FreiHAND's alignment may
reflect); the AUC of one distance on the 100 thresholds from 0 to 50 mm follows from the
trapezoid rule; MeshMetric's per-sample AUCs average to the official per-keypoint aggregate;
the prediction file holds [xyz, verts] in sample-id order and never replaces a user's file.
"""
import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

import fastmetro_mm  # noqa: F401  (registers MeshMetric)
from fastmetro_mm.evaluation import (MeshMetric, freihand_align, pck_auc,
                                     write_freihand_submission)
from fastmetro_mm.evaluation.metrics.freihand_protocol import pck_thresholds
from fastmetro_mm.evaluation.metrics.mesh_errors import procrustes_align

ROOT = Path(__file__).resolve().parents[2]


def rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


MIRROR = rotation_z(0.7) @ np.diag([1.0, 1.0, -1.0])  # det -1: a reflection


def hand_sample(pred_joints, pred_vertices, gt_joints, gt_vertices, sample_id):
    """A PoseDataSample as the FreiHAND pipeline and the estimator produce it (21 / 778)."""
    sample = PoseDataSample(metainfo=dict(id=sample_id))
    sample.pred_instances = InstanceData(vertices=pred_vertices[None],
                                         keypoints_3d=pred_joints[None])
    sample.gt_instances = InstanceData(joints_3d=gt_joints[None], vertices=gt_vertices[None],
                                       has_joints_3d=np.ones(1), has_smpl=np.zeros(1))
    return sample


def random_hands(num, seed, noise=0.004):
    """(gt_joints, gt_vertices, pred_joints, pred_vertices) in metres, hand-sized."""
    rng = np.random.default_rng(seed)
    gt_joints = 0.05 * rng.normal(size=(num, 21, 3)) + [0.0, 0.0, 0.6]
    gt_vertices = 0.05 * rng.normal(size=(num, 778, 3)) + [0.0, 0.0, 0.6]
    pred_joints = gt_joints - gt_joints[:, :1] + noise * rng.normal(size=(num, 21, 3))
    pred_vertices = gt_vertices - gt_joints[:, :1] + noise * rng.normal(size=(num, 778, 3))
    return gt_joints, gt_vertices, pred_joints, pred_vertices


def run_metric(metric, samples):
    metric.process(None, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)


# -- the alignment --------------------------------------------------------------------------
def test_freihand_align_undoes_a_reflection_scale_and_shift():
    gt = np.random.default_rng(0).normal(size=(40, 3))
    pred = 0.7 * gt @ MIRROR.T + [0.3, -0.2, 1.0]
    # Exact but for the script's 1e-8 added to each norm: a relative shrink of ~2e-8 / norm.
    np.testing.assert_allclose(freihand_align(pred, gt), gt, rtol=0, atol=1e-8)
    # A proper rotation cannot undo a mirror image: the body protocol's fit leaves an error.
    proper = procrustes_align(pred, gt, None, allow_reflection=False)
    assert np.linalg.norm(proper - gt, axis=-1).mean() > 0.1
    # With a rotation instead of the mirror both agree (up to the 1e-8 norm guard).
    rotated = 1.3 * gt @ rotation_z(-1.1).T + 0.5
    np.testing.assert_allclose(freihand_align(rotated, gt), gt, rtol=0, atol=1e-8)
    noisy = rotated + 0.05 * np.random.default_rng(1).normal(size=gt.shape)
    np.testing.assert_allclose(freihand_align(noisy, gt),
                               procrustes_align(noisy, gt, None, allow_reflection=True),
                               rtol=0, atol=1e-8)


def test_freihand_align_maps_a_collapsed_prediction_to_the_centroid():
    gt = np.random.default_rng(2).normal(size=(21, 3))
    aligned = freihand_align(np.ones((21, 3)), gt)  # the norm guard keeps it finite
    np.testing.assert_allclose(aligned, np.broadcast_to(gt.mean(0), gt.shape), atol=1e-12)
    with pytest.raises(ValueError, match=r'\(21, 3\) and \(20, 3\)'):
        freihand_align(gt, gt[:20])


# -- the AUC ---------------------------------------------------------------------------------
def test_pck_auc_known_answers():
    t = pck_thresholds()
    assert len(t) == 100 and t[0] == 0.0 and t[-1] == 0.05
    assert pck_auc(np.zeros(21)) == pytest.approx(1.0, abs=1e-12)
    assert pck_auc(np.full(21, 0.051)) == 0.0
    # Between thresholds 49 and 50 the curve steps from 0 to 1: half of the 99 intervals.
    assert pck_auc(np.full(5, (t[49] + t[50]) / 2)) == pytest.approx(0.5, abs=1e-12)
    # A distance equal to the last threshold counts (<=): half of the last interval.
    assert pck_auc(np.array([t[-1]])) == pytest.approx(0.5 / 99, abs=1e-12)
    assert pck_auc(np.array([0.0, 1.0])) == pytest.approx(0.5, abs=1e-12)  # a mean over points


def official_style_auc(distances):
    """FreiHAND's aggregate: per keypoint the AUC over all samples, then the keypoint mean."""
    t = pck_thresholds()
    aucs = []
    for per_keypoint in distances.T:  # (N,) errors of one keypoint
        pck = np.array([(per_keypoint <= x).mean() for x in t])
        aucs.append(np.sum(np.diff(t) * (pck[1:] + pck[:-1]) / 2) / (t[-1] - t[0]))
    return np.mean(aucs)


def test_metric_reports_freihand_numbers():
    gt_j, gt_v, pred_j, pred_v = random_hands(5, seed=3)
    samples = [hand_sample(pred_j[i], pred_v[i], gt_j[i], gt_v[i], i) for i in range(5)]
    out = run_metric(MeshMetric(mesh_type='hand', gt_joints_source='annotation'), samples)
    aligned_j = np.stack([freihand_align(p, g) for p, g in zip(pred_j, gt_j)])
    aligned_v = np.stack([freihand_align(p, g) for p, g in zip(pred_v, gt_v)])
    dist_j = np.linalg.norm(aligned_j - gt_j, axis=-1)  # (N, 21)
    dist_v = np.linalg.norm(aligned_v - gt_v, axis=-1)  # (N, 778)
    assert out['PA-MPJPE'] == pytest.approx(1000 * dist_j.mean(0).mean(), rel=1e-12)
    assert out['PA-MPVPE'] == pytest.approx(1000 * dist_v.mean(0).mean(), rel=1e-12)
    assert out['PA-MPJPE-AUC'] == pytest.approx(official_style_auc(dist_j), rel=1e-12)
    assert out['PA-MPVPE-AUC'] == pytest.approx(official_style_auc(dist_v), rel=1e-12)
    assert 0.05 < out['PA-MPVPE-AUC'] < 0.95  # the noise puts the curve inside the range
    assert out['PA-MPJPE-AUC_count'] == out['PA-MPVPE-AUC_count'] == 5


def test_mirrored_hand_is_exact_under_freihand_alignment_only():
    gt_j, gt_v, _, _ = random_hands(1, seed=4)
    pred_j, pred_v = gt_j[0] @ MIRROR.T, gt_v[0] @ MIRROR.T
    sample = hand_sample(pred_j, pred_v, gt_j[0], gt_v[0], 0)
    out = run_metric(MeshMetric(mesh_type='hand'), [sample])
    # 0 but for the norm guard's ~1e-8 relative shrink: nanometres, i.e. ~1e-6 mm.
    assert out['PA-MPJPE'] == pytest.approx(0, abs=1e-5)
    assert out['PA-MPVPE'] == pytest.approx(0, abs=1e-5)
    # Errors of 1e-9 m miss only the first threshold, 0: half of the first of 99 intervals.
    assert out['PA-MPJPE-AUC'] == out['PA-MPVPE-AUC'] == pytest.approx(98.5 / 99, abs=1e-12)
    assert out['F@5mm'] == 1.0
    # A joint without annotation leaves the fit (weighted, still reflecting) and the errors.
    far = pred_j.copy()
    far[5] += 0.5
    partial = hand_sample(far, pred_v, gt_j[0], gt_v[0], 1)
    partial.gt_instances.joints_3d_visible = (np.arange(21) != 5).astype(np.float32)[None]
    out = run_metric(MeshMetric(mesh_type='hand'), [partial])
    assert out['PA-MPJPE'] == pytest.approx(0, abs=1e-9)
    proper = run_metric(MeshMetric(mesh_type='hand', allow_reflection=False), [sample])
    assert proper['PA-MPVPE'] > 10 and 'PA-MPVPE-AUC' not in proper
    body = MeshMetric(mesh_type='body')
    assert not body.allow_reflection and 'PA-MPJPE-AUC' not in body.metric_names


# -- the submission file ---------------------------------------------------------------------
@pytest.mark.parametrize('name', ['pred.json', 'sub/pred.zip'])
def test_submission_file_layout_and_values(tmp_path, name):
    gt_j, gt_v, pred_j, pred_v = random_hands(3, seed=5)
    pred_j, pred_v = pred_j + 0.2, pred_v + 0.2  # not wrist-relative: the file must be
    order = [2, 0, 1]  # samples reach the metric out of order; the file is in id order
    samples = [hand_sample(pred_j[i], pred_v[i], gt_j[i], gt_v[i], i) for i in order]
    path = tmp_path / name
    run_metric(MeshMetric(mesh_type='hand', submission_file=str(path)), samples)
    if path.suffix == '.zip':
        with zipfile.ZipFile(path) as archive:
            assert archive.namelist() == ['pred.json']
            content = json.loads(archive.read('pred.json'))
    else:
        content = json.loads(path.read_text())
    assert len(content) == 2 and len(content[0]) == len(content[1]) == 3
    wrist = pred_j[:, :1]
    np.testing.assert_array_equal(np.array(content[0]), pred_j - wrist)  # (3, 21, 3)
    np.testing.assert_array_equal(np.array(content[1]), pred_v - wrist)  # (3, 778, 3)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_submission_never_replaces_a_file(tmp_path):
    existing = tmp_path / 'pred.json'
    existing.write_text('mine')
    with pytest.raises(FileExistsError, match='pred.json exists'):
        MeshMetric(mesh_type='hand', submission_file=str(existing))
    with pytest.raises(FileExistsError, match='pred.json exists'):
        write_freihand_submission(existing, [np.zeros((21, 3))], [np.zeros((778, 3))])
    assert existing.read_text() == 'mine'
    with pytest.raises(ValueError, match="mesh_type='hand'"):
        MeshMetric(mesh_type='body', submission_file=str(tmp_path / 'new.json'))
    with pytest.raises(ValueError, match=r"'\.json' or '\.zip'.*pred\.txt"):
        MeshMetric(mesh_type='hand', submission_file=str(tmp_path / 'pred.txt'))
    with pytest.raises(ValueError, match=r'verts\[0\] has shape \(777, 3\)'):
        write_freihand_submission(tmp_path / 'x.json', [np.zeros((21, 3))],
                                  [np.zeros((777, 3))])
    assert not (tmp_path / 'x.json').exists()


def load_test_tool():
    spec = importlib.util.spec_from_file_location('tools_test', ROOT / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_test_tool_flag_sets_the_submission_file(tmp_path):
    tool = load_test_tool()
    config = str(ROOT / 'configs' / 'fastmetro_s_r50_synthetic_hand.py')
    target = str(tmp_path / 'pred.zip')
    cfg = tool.merge_args(Config.fromfile(config), tool.parse_args(
        [config, 'c.pth', '--freihand-submission', target, '--dump', 'p.pkl']))
    metrics = [m for m in cfg.test_evaluator if m['type'] == 'MeshMetric']
    assert [m['submission_file'] for m in metrics] == [target]
    body = str(ROOT / 'configs' / 'fastmetro_s_r50_synthetic.py')
    with pytest.raises(ValueError, match="mesh_type='hand'"):
        tool.merge_args(Config.fromfile(body),
                        tool.parse_args([body, 'c.pth', '--freihand-submission', target]))
