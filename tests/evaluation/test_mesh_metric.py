"""MeshMetric: known answers, agreement with MMPose's keypoint_mpjpe, exactness over 2 ranks."""
import json
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.evaluation.functional import keypoint_mpjpe
from mmpose.registry import METRICS
from mmpose.structures import PoseDataSample

import fastmetro_mm  # noqa: F401  (registers MeshMetric)
from fastmetro_mm.evaluation import MeshMetric, fscore
from fastmetro_mm.mesh import BodyModel
from fastmetro_mm.synthetic import make_synthetic_mano, mano_file_name, write_model_file

NUM_VERTICES = 50  # the metric takes any V when no regressor is configured


def make_sample(pred_vertices, pred_joints, gt_instances, sample_id=None):
    """A PoseDataSample as the estimator and PackMeshInputs produce it."""
    sample = PoseDataSample(metainfo={} if sample_id is None else dict(id=sample_id))
    sample.pred_instances = InstanceData(vertices=pred_vertices[None],
                                         keypoints_3d=pred_joints[None])
    sample.gt_instances = InstanceData(**{k: np.asarray(v)[None] for k, v in gt_instances.items()})
    return sample


def random_body_samples(num, seed=0, visible=None):
    """Random J14 joints and 50-vertex meshes; GT in every field the body protocol reads."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(num):
        gt_joints, gt_vertices = rng.normal(size=(14, 3)), rng.normal(size=(NUM_VERTICES, 3))
        pred_joints = gt_joints + 0.1 * rng.normal(size=(14, 3))
        pred_vertices = gt_vertices + 0.1 * rng.normal(size=(NUM_VERTICES, 3))
        gt = dict(joints_3d=gt_joints, has_joints_3d=1, has_smpl=1, vertices=gt_vertices,
                  joints_3d_visible=np.ones(14) if visible is None else visible[i])
        samples.append(make_sample(pred_vertices, pred_joints, gt, sample_id=i))
    return samples


def run_metric(metric, samples, batch_size=2):
    """Feed samples as the Evaluator does (dicts) and return compute_metrics' dict."""
    for start in range(0, len(samples), batch_size):
        metric.process(None, [s.to_dict() for s in samples[start:start + batch_size]])
    return metric.compute_metrics(metric.results)


def centred(joints):
    return joints - joints[:, [2, 3]].mean(axis=1, keepdims=True)


def test_mpjpe_and_pa_mpjpe_match_mmpose_keypoint_mpjpe():
    samples = random_body_samples(6)
    out = run_metric(MeshMetric(mesh_type='body'), samples)
    pred = np.stack([s.pred_instances.keypoints_3d[0] for s in samples])
    gt = np.stack([s.gt_instances.joints_3d[0] for s in samples])
    mask = np.ones(gt.shape[:2], dtype=bool)
    assert out['MPJPE'] == pytest.approx(
        1000 * keypoint_mpjpe(centred(pred), centred(gt), mask, 'none'), rel=1e-9)
    assert out['PA-MPJPE'] == pytest.approx(
        1000 * keypoint_mpjpe(pred, gt, mask, 'procrustes'), rel=1e-6)
    assert out['PA-MPJPE'] < out['MPJPE']
    assert out['MPJPE_count'] == out['PA-MPJPE_count'] == 6
    # Equal visible counts per sample make the per-sample mean equal MMPose's per-joint mean.
    visible = np.ones((6, 14))
    visible[:, [0, 7]] = 0
    out = run_metric(MeshMetric(mesh_type='body'), random_body_samples(6, visible=visible))
    assert out['MPJPE'] == pytest.approx(
        1000 * keypoint_mpjpe(centred(pred), centred(gt), visible > 0, 'none'), rel=1e-9)


def test_invisible_joints_do_not_count():
    visible = np.ones((3, 14))
    visible[:, 5] = 0
    clean = random_body_samples(3, visible=visible)
    noisy = random_body_samples(3, visible=visible)
    for sample in noisy:
        sample.gt_instances.joints_3d[0, 5] = 1e3  # garbage where the annotation is missing
    expected = run_metric(MeshMetric(mesh_type='body'), clean)
    got = run_metric(MeshMetric(mesh_type='body'), noisy)
    for name in ('MPJPE', 'PA-MPJPE'):
        assert got[name] == pytest.approx(expected[name], rel=1e-9)


def test_mpvpe_of_a_known_offset_is_the_offset():
    rng = np.random.default_rng(1)
    offset = np.array([0.003, -0.004, 0.012])  # 13 mm
    samples = []
    for i in range(4):
        joints, vertices = rng.normal(size=(14, 3)), rng.normal(size=(NUM_VERTICES, 3))
        # The pred root (from its joints) equals the GT root, so centring keeps the offset.
        samples.append(make_sample(vertices + offset, joints,
                                   dict(joints_3d=joints, vertices=vertices, has_smpl=1,
                                        has_joints_3d=1, joints_3d_visible=np.ones(14))))
    out = run_metric(MeshMetric(mesh_type='body'), samples)
    assert out['MPVPE'] == pytest.approx(13.0, rel=1e-9)
    assert out['PA-MPVPE'] == pytest.approx(0.0, abs=1e-9)
    assert out['MPJPE'] == pytest.approx(0.0, abs=1e-9)


def test_samples_without_ground_truth_are_excluded_and_counted():
    samples = random_body_samples(5)
    samples[2].gt_instances.has_joints_3d[:] = 0
    samples[3].gt_instances.joints_3d_visible[0, 2] = 0  # a hip unseen: no root, no MPJPE
    full = MeshMetric(mesh_type='body')
    per_sample = [full._sample_errors(s.pred_instances, s.gt_instances,
                                      s.gt_instances.vertices[0]) for s in samples]
    # Sample 1 has no GT mesh: neither SMPL parameters nor vertices.
    samples[1].gt_instances.has_smpl[:] = 0
    del samples[1].gt_instances.vertices
    bare = PoseDataSample()  # inference on a bare image: no gt_instances at all
    bare.pred_instances = samples[0].pred_instances.clone()
    out = run_metric(MeshMetric(mesh_type='body'), samples + [bare])
    # Without a regressor the GT mesh is centred on the GT joints' root, so MPVPE also needs
    # the annotation's hips (samples 2 and 3 lack them); PA-MPVPE needs the mesh only.
    assert (out['MPJPE_count'], out['PA-MPJPE_count'], out['MPVPE_count'],
            out['PA-MPVPE_count']) == (3, 4, 2, 4)
    assert out['MPVPE'] == pytest.approx(np.mean([per_sample[i]['MPVPE'] for i in (0, 4)]))
    assert out['MPJPE'] == pytest.approx(np.mean([per_sample[i]['MPJPE'] for i in (0, 1, 4)]))
    assert out['PA-MPJPE'] == pytest.approx(
        np.mean([per_sample[i]['PA-MPJPE'] for i in (0, 1, 3, 4)]))
    # Given vertices are the GT mesh even where has_smpl (the body-model parameters) is 0,
    # as FreiHAND's vertices without its MANO file.
    samples[1].gt_instances.vertices = samples[0].gt_instances.vertices.copy()
    out = run_metric(MeshMetric(mesh_type='body'), samples)
    assert out['PA-MPVPE_count'] == 5
    # No sample has the GT: the metric is absent, its count is 0.
    for sample in samples:
        sample.gt_instances.has_smpl[:] = 0
        del sample.gt_instances.vertices
    out = run_metric(MeshMetric(mesh_type='body'), samples)
    assert 'MPVPE' not in out and out['MPVPE_count'] == 0


def test_fscore_known_answers():
    points = np.random.default_rng(2).normal(size=(30, 3))
    assert fscore(points, points, 0.005) == (1.0, 1.0, 1.0)
    # GT at x = 0, 10, 20, 30 mm; pred shifted by 6 mm plus an outlier at 100 mm.
    gt = np.array([[x, 0.0, 0.0] for x in (0.0, 0.010, 0.020, 0.030)])
    pred = np.array([[x, 0.0, 0.0] for x in (0.006, 0.016, 0.026, 0.036, 0.100)])
    # 5 mm: pred 6, 16, 26 are 4 mm from GT (36 and 100 are not); GT 10, 20, 30 are 4 mm
    # from pred (0 is 6 mm away): P = 3/5, R = 3/4.
    f, precision, recall = fscore(pred, gt, 0.005)
    assert (precision, recall) == (pytest.approx(0.6), pytest.approx(0.75))
    assert f == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    # 15 mm: only the outlier (70 mm away) misses: P = 4/5, R = 1.
    assert fscore(pred, gt, 0.015)[0] == pytest.approx(2 * 0.8 / 1.8)


@pytest.fixture(scope='module')
def mano_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('mano') / mano_file_name(True)
    write_model_file(make_synthetic_mano(True), path)
    return path


def test_hand_protocol_with_body_model(mano_file, tmp_path):
    body_model = dict(model_path=str(mano_file), model_type='mano')
    mano = BodyModel(**body_model)
    rng = np.random.default_rng(3)
    pose, betas = 0.3 * rng.normal(size=(3, 48)), rng.normal(size=(3, 10))
    with torch.no_grad():
        gt_vertices = mano(torch.from_numpy(pose), torch.from_numpy(betas)).vertices.double()
    regressor = MeshMetric(mesh_type='hand', body_model=body_model).regressor
    gt_joints = regressor(gt_vertices).numpy()
    gt_vertices = gt_vertices.numpy()
    wrist = gt_joints[:, :1]
    pred_vertices = 1.1 * (gt_vertices - wrist) + 0.05  # scaled about the wrist, moved
    samples_params, samples_mesh = [], []
    for i in range(3):
        common = dict(joints_3d=gt_joints[i], has_joints_3d=1, has_smpl=1,
                      joints_3d_visible=np.ones(21))
        samples_params.append(make_sample(pred_vertices[i], np.zeros((21, 3)),
                                          dict(common, smpl_pose=pose[i], smpl_betas=betas[i]),
                                          sample_id=i))
        samples_mesh.append(make_sample(pred_vertices[i], np.zeros((21, 3)),
                                        dict(common, vertices=gt_vertices[i])))
    dump = tmp_path / 'errors.json'
    out = run_metric(MeshMetric(mesh_type='hand', body_model=body_model, dump_file=str(dump)),
                     samples_params)
    same = run_metric(MeshMetric(mesh_type='hand', body_model=body_model), samples_mesh)
    # The body model computes in float32, and its rounding depends on the batch it poses.
    for name in ('MPJPE', 'PA-MPJPE', 'MPVPE', 'PA-MPVPE', 'F@5mm', 'F@15mm'):
        assert out[name] == pytest.approx(same[name], rel=1e-5, abs=1e-4), name
    # Joints are regressed linearly from the mesh, so a 10 % scale about the wrist moves each
    # wrist-relative joint (and vertex) by 10 % of its distance to the wrist.
    expected_mpjpe = 100 * np.linalg.norm(gt_joints - wrist, axis=-1).mean()
    expected_mpvpe = 100 * np.linalg.norm(gt_vertices - wrist, axis=-1).mean()
    assert out['MPJPE'] == pytest.approx(expected_mpjpe, rel=1e-5)
    assert out['MPVPE'] == pytest.approx(expected_mpvpe, rel=1e-5)
    assert out['PA-MPJPE'] == pytest.approx(0, abs=1e-4)
    assert out['PA-MPVPE'] == pytest.approx(0, abs=1e-4)
    assert out['F@5mm'] == out['F@15mm'] == 1.0
    rows = json.loads(dump.read_text())
    assert os.listdir(tmp_path) == ['errors.json']  # written atomically, no temporary left
    assert [r['id'] for r in rows] == [0, 1, 2]
    assert rows[0]['MPJPE'] == pytest.approx(100 * np.linalg.norm(
        gt_joints[0] - wrist[0], axis=-1).mean(), rel=1e-5)


def test_configuration_errors_name_the_problem(mano_file):
    with pytest.raises(ValueError, match="mesh_type must be one of \\['body', 'hand'\\]"):
        MeshMetric(mesh_type='face')
    with pytest.raises(ValueError, match="gt_joints_source='mesh' needs a joint regressor"):
        MeshMetric(gt_joints_source='mesh')
    with pytest.raises(ValueError, match="model_type='smpl'"):
        MeshMetric(mesh_type='body',
                   body_model=dict(model_path=str(mano_file), model_type='mano'))
    sample = random_body_samples(1)[0]
    del sample.gt_instances.vertices
    with pytest.raises(ValueError, match='body_model'):
        MeshMetric().process(None, [sample.to_dict()])


def test_deprecated_mode_is_mesh_type_with_a_warning():
    samples = random_body_samples(4)
    expected = run_metric(MeshMetric(mesh_type='body'), samples)
    with pytest.warns(DeprecationWarning, match="'mode' is deprecated, use mesh_type='body'"):
        old = MeshMetric(mode='body')
    assert old.mesh_type == 'body'
    assert run_metric(old, samples) == expected
    init_default_scope('mmpose')
    with pytest.warns(DeprecationWarning):
        hand = METRICS.build(dict(type='MeshMetric', mode='hand'))  # a config written for mode=
    assert hand.mesh_type == 'hand' and hand.fscore_names == ('F@5mm', 'F@15mm')
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match='mode'):
        MeshMetric(mode='face')
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match='disagree'):
        MeshMetric(mesh_type='body', mode='hand')


# --------------------------------------------------------------------------------------------
# Two ranks holding unequal counts (3 and 2 samples) give the one-rank result exactly.
NUM_SAMPLES, WORLD_SIZE = 5, 2


def metric_cfg(tmp_dir, dump_name):
    return dict(type='MeshMetric', mesh_type='body', collect_dir=os.path.join(tmp_dir, 'collect'),
                dump_file=os.path.join(tmp_dir, dump_name))


def _evaluate(samples, cfg):
    init_default_scope('mmpose')
    evaluator = Evaluator(METRICS.build(cfg))
    evaluator.process(samples)
    return evaluator.evaluate(NUM_SAMPLES)


def _rank_worker(rank, tmp_dir):
    dist.init_process_group('gloo', init_method=f'file://{tmp_dir}/rendezvous',
                            rank=rank, world_size=WORLD_SIZE)
    # DefaultSampler's split of an odd-sized set without padding: rank 0 gets 3, rank 1 gets 2.
    samples = random_body_samples(NUM_SAMPLES, seed=7)[rank::WORLD_SIZE]
    result = _evaluate(samples, metric_cfg(tmp_dir, 'two_ranks.npz'))
    with open(os.path.join(tmp_dir, f'result_{rank}.json'), 'w') as f:
        json.dump(result, f)
    dist.destroy_process_group()


def test_two_ranks_with_unequal_counts_equal_one_rank(tmp_path):
    mp.spawn(_rank_worker, args=(str(tmp_path), ), nprocs=WORLD_SIZE, join=True)
    single = _evaluate(random_body_samples(NUM_SAMPLES, seed=7),
                       metric_cfg(str(tmp_path), 'one_rank.npz'))
    assert single['mesh/MPJPE_count'] == NUM_SAMPLES
    for rank in range(WORLD_SIZE):  # every rank receives rank 0's broadcast result
        result = json.loads((tmp_path / f'result_{rank}.json').read_text())
        assert result.keys() == single.keys()
        for key, value in single.items():
            assert result[key] == pytest.approx(value, rel=1e-12), key
    one, two = np.load(tmp_path / 'one_rank.npz'), np.load(tmp_path / 'two_ranks.npz')
    np.testing.assert_array_equal(two['id'], np.arange(NUM_SAMPLES))  # dataset order
    for name in ('MPJPE', 'PA-MPJPE', 'MPVPE', 'PA-MPVPE'):
        np.testing.assert_allclose(two[name], one[name], rtol=1e-12)
