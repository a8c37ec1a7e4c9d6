"""EMDBMetric on the synthetic SMPL body: known answers, smoothing, exactness over 2 ranks."""
import csv
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
from mmpose.registry import METRICS
from mmpose.structures import PoseDataSample
from scipy.spatial.transform import Rotation

import fastmetro_mm  # noqa: F401  (registers EMDBMetric)
from fastmetro_mm.evaluation import EMDBMetric
from fastmetro_mm.evaluation.metrics.emdb_protocol import JITTER_IGNORED_JOINTS, sequence_jitter
from fastmetro_mm.mesh import BodyModel
from fastmetro_mm.mesh.one_euro_filter import smooth_sequence
from fastmetro_mm.synthetic import make_synthetic_smpl, smpl_file_name, write_model_file

KEPT = [i for i in range(24) if i not in JITTER_IGNORED_JOINTS]  # the 15 joints jitter sees
BETAS = np.array([0.5, -0.3, 0.2, 0.0, 0.1, 0.0, -0.1, 0.0, 0.0, 0.05])


@pytest.fixture(scope='module')
def smpl_dir(tmp_path_factory):
    """SMPL_{NEUTRAL,MALE,FEMALE}.pkl of the synthetic body (cheaper than the session fixture,
    which also builds mesh hierarchies)."""
    root = tmp_path_factory.mktemp('emdb_smpl')
    for gender in ('neutral', 'male', 'female'):
        write_model_file(make_synthetic_smpl(gender), root / smpl_file_name(gender))
    return root


@pytest.fixture(scope='module')
def smpl(smpl_dir):
    """gender -> float64 BodyModel, to make the GT meshes the tests predict."""
    return {g: BodyModel(smpl_dir, gender=g, dtype=torch.float64) for g in ('neutral', 'female')}


def pose_body(model, poses, betas=BETAS):
    """(T, 72) axis-angle -> (T, 24, 3) joints, (T, 6890, 3) vertices, numpy float64.

    The rotations are made by scipy, as in the metric: smplx's own Rodrigues adds 1e-8 to
    every angle, which would leave differences of ~1e-8 relative."""
    rotations = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(-1, 24, 3, 3)
    with torch.no_grad():
        out = model(torch.from_numpy(rotations),
                    torch.from_numpy(np.tile(betas, (len(poses), 1))))
    return out.joints.numpy(), out.vertices.numpy()


def spinning_poses(num_frames, omega, fps):
    """Rest body pose, turning about the camera's y axis at ``omega`` rad/s."""
    poses = np.zeros((num_frames, 72))
    poses[:, 1] = omega * np.arange(num_frames) / fps
    return poses


def moving_poses(num_frames, seed=0):
    """Smooth articulated poses: a base pose plus slow sinusoids, upright in the camera."""
    rng = np.random.default_rng(seed)
    base, amplitude = 0.3 * rng.normal(size=72), 0.2 * rng.normal(size=72)
    phase, time = rng.uniform(0, 2 * np.pi, size=72), np.arange(num_frames)[:, None] / 30.0
    poses = base + amplitude * np.sin(2.0 * time + phase)
    poses[:, :3] = Rotation.from_euler('x', np.pi + 0.2 * np.sin(time[:, 0])).as_rotvec()
    return poses


def make_sample(seq_name, frame, gt_pose, pred, gender='neutral', fps=None, betas=BETAS):
    """A PoseDataSample as the EMDB dataset and the estimator produce it."""
    meta = dict(seq_name=seq_name, frame_index=frame, gender=gender, id=f'{seq_name}/{frame}')
    if fps is not None:
        meta['fps'] = fps
    sample = PoseDataSample(metainfo=meta)
    sample.gt_instances = InstanceData(smpl_pose=gt_pose[None], smpl_betas=betas[None],
                                       has_smpl=np.ones(1))
    sample.pred_instances = InstanceData(**{k: np.asarray(v)[None] for k, v in pred.items()})
    return sample


def smpl_prediction(pose, betas=BETAS):
    return dict(smpl_pose=Rotation.from_rotvec(pose.reshape(24, 3)).as_matrix(), smpl_betas=betas)


def run_metric(metric, samples, batch_size=3):
    """Feed the samples as the Evaluator does (dicts) and return compute_metrics' dict."""
    for start in range(0, len(samples), batch_size):
        metric.process(None, [s.to_dict() for s in samples[start:start + batch_size]])
    return metric.compute_metrics(metric.results)


def table(path):
    return {row['seq_name']: row for row in json.loads(path.read_text())['sequences']}


@pytest.mark.parametrize('source', ['smpl', 'vertices'])
def test_ground_truth_as_prediction_gives_zero_errors_and_analytic_jitter(
        smpl_dir, smpl, tmp_path, source):
    omega, fps, frames = 2.0, 30.0, 12
    # SMPL parameters go through the model of the configured gender (here the GT's); the
    # vertex-only path regresses with the neutral model's J_regressor, so its GT is neutral.
    gender = 'female' if source == 'smpl' else 'neutral'
    poses = spinning_poses(frames, omega, fps)
    _, vertices = pose_body(smpl[gender], poses)
    preds = ([smpl_prediction(p) for p in poses] if source == 'smpl'
             else [dict(vertices=v) for v in vertices])
    samples = [make_sample('spin', k, poses[k], preds[k], gender=gender) for k in range(frames)]
    metric = EMDBMetric(body_model=dict(model_path=smpl_dir, gender=gender),
                        dump_file=str(tmp_path / 't.json'))
    result = run_metric(metric, samples)

    names = ['MPJPE', 'PA-MPJPE', 'MVE', 'PA-MVE'] + (['MPJAE', 'MPJAE-PA']
                                                      if source == 'smpl' else [])
    assert sorted(k for k in result if not k.endswith('-std') and not k.startswith(
        ('num_', 'Jitter'))) == sorted(names)
    for name in names:  # the model file's float32 skinning weights leave nanometres
        assert abs(result[name]) < 1e-5, name
    # A rest body turning at omega: joint j runs on a circle of radius r_j about the y axis
    # through the pelvis; the third difference of r e^{i omega k / fps} has length
    # r (2 sin(omega / (2 fps)))^3.
    joints, _ = pose_body(smpl[gender], poses[:1])
    radius = np.linalg.norm((joints[0] - joints[0, 0])[:, [0, 2]], axis=-1)
    expected = radius[KEPT].sum() * (2 * np.sin(omega / (2 * fps)))**3 * fps**3 / 24 / 10
    assert result['Jitter'] == pytest.approx(expected, rel=1e-7)
    assert result['Jitter-std'] == 0.0  # one sequence
    row = table(tmp_path / 't.json')['spin']
    assert row['Jitter-GT'] == pytest.approx(expected, rel=1e-7)
    assert (result['num_frames'], result['num_sequences']) == (frames, 1)


def test_offset_and_scale_seen_only_by_the_unaligned_errors(smpl_dir, smpl):
    poses = moving_poses(6)
    gt_joints, gt_vertices = pose_body(smpl['neutral'], poses)
    offset, scale = np.array([0.3, -0.2, 2.5]), 1.1

    def evaluate(scale, offset):
        samples = [make_sample('s', k, poses[k], dict(vertices=scale * v + offset))
                   for k, v in enumerate(gt_vertices)]
        return run_metric(EMDBMetric(body_model=dict(model_path=smpl_dir),
                                     prediction_source='vertices'), samples)

    plain, moved = evaluate(1.0, 0.0), evaluate(scale, offset)
    # Vertex-only: the joints regressed from the mesh, not the skeleton's forward kinematics.
    ref = smpl['neutral'].j_regressor.numpy() @ gt_vertices  # (T, 24, 3)
    hip = ref[:, 1:3].mean(axis=1, keepdims=True)
    gt_hip = gt_joints[:, 1:3].mean(axis=1, keepdims=True)
    for result, s in ((plain, 1.0), (moved, scale)):
        # Each skeleton and mesh is centred on its own hip midpoint: the offset cancels.
        mpjpe = 1000 * np.linalg.norm(s * (ref - hip) - (gt_joints - gt_hip), axis=-1).mean(-1)
        mve = 1000 * np.linalg.norm(s * (gt_vertices - hip) - (gt_vertices - gt_hip),
                                    axis=-1).mean(-1)
        assert result['MPJPE'] == pytest.approx(mpjpe.mean(), rel=1e-7)
        assert result['MPJPE-std'] == pytest.approx(mpjpe.std(), rel=1e-6, abs=1e-6)
        assert result['MVE'] == pytest.approx(mve.mean(), rel=1e-7)
        assert result['MVE-std'] == pytest.approx(mve.std(), rel=1e-6, abs=1e-6)
    assert moved['MPJPE'] > plain['MPJPE'] + 5
    # The similarity fitted on the joints undoes scale and offset, for the vertices too (to
    # nanometres: the file's float32 regressor rows sum to 1 within 1.4e-8).
    for name in ('PA-MPJPE', 'PA-MVE'):
        assert moved[name] == pytest.approx(plain[name], abs=1e-5), name
    # Jerk is linear in the joints: a scale scales it, an offset vanishes.
    assert moved['Jitter'] == pytest.approx(scale * plain['Jitter'], rel=1e-7)
    assert 'MPJAE' not in moved  # no SMPL rotations predicted


def test_known_rotation_of_the_whole_body(smpl_dir, smpl):
    angle, axis = np.radians(30.0), np.array([1.0, 2.0, 2.0]) / 3.0
    turn = Rotation.from_rotvec(angle * axis)
    poses = moving_poses(8, seed=3)
    turned = poses.copy()
    turned[:, :3] = (turn * Rotation.from_rotvec(poses[:, :3])).as_rotvec()
    samples = [make_sample('turn', k, poses[k], smpl_prediction(turned[k])) for k in range(8)]
    result = run_metric(EMDBMetric(body_model=dict(model_path=smpl_dir)), samples)

    joints, vertices = pose_body(smpl['neutral'], poses)
    hip = joints[:, 1:3].mean(axis=1, keepdims=True)

    def turned_distance(points):  # |R x - x| = 2 sin(angle / 2) |x - (x . n) n| in mm
        centred = points - hip
        across = centred - (centred @ axis)[..., None] * axis
        return 1000 * 2 * np.sin(angle / 2) * np.linalg.norm(across, axis=-1).mean(-1)

    assert result['MPJPE'] == pytest.approx(turned_distance(joints).mean(), rel=1e-7)
    assert result['MVE'] == pytest.approx(turned_distance(vertices).mean(), rel=1e-7)
    assert result['MPJAE'] == pytest.approx(30.0, rel=1e-7)
    assert result['MPJAE-std'] == pytest.approx(0.0, abs=1e-6)
    for name in ('PA-MPJPE', 'PA-MVE', 'MPJAE-PA'):
        assert result[name] == pytest.approx(0.0, abs=1e-5), name


def test_mpjae_takes_the_global_rotations_of_the_nine_joints(smpl_dir):
    # Turning the spine (joint 3, not one of the 9) turns the global rotations of its
    # descendants: of the 9, the shoulders and elbows (16-19), each by the angle.
    angle = 24.0
    poses = moving_poses(5, seed=4)
    bent = poses.copy()
    bend = Rotation.from_rotvec(np.radians(angle) * np.array([0.0, 0.6, 0.8]))
    bent[:, 9:12] = (bend * Rotation.from_rotvec(poses[:, 9:12])).as_rotvec()
    samples = [make_sample('bend', k, poses[k], smpl_prediction(bent[k])) for k in range(5)]
    result = run_metric(EMDBMetric(body_model=dict(model_path=smpl_dir)), samples)
    assert result['MPJAE'] == pytest.approx(angle * 4 / 9, rel=1e-7)
    assert result['MPJPE'] > 1


def test_pa_mve_uses_the_transform_fitted_on_the_joints(smpl_dir, smpl):
    # Moving only vertices that no joint is regressed from leaves the joints, hence the
    # fitted transform (identity), unchanged: PA-MVE = MVE = the moved share x the shift.
    pose = np.zeros(72)
    pose[0] = np.pi  # rigid: the neutral regressor gives the skeleton's joints
    _, vertices = pose_body(smpl['neutral'], pose[None])
    free = (smpl['neutral'].j_regressor.numpy() == 0).all(axis=0)  # (6890,)
    shift = np.array([0.012, 0.0, -0.016])  # 20 mm
    moved = vertices[0] + free[:, None] * shift
    result = run_metric(EMDBMetric(body_model=dict(model_path=smpl_dir)),
                        [make_sample('s', 0, pose, dict(vertices=moved))])
    expected = 20.0 * free.mean()
    assert 0.5 < free.mean() < 1
    assert result['MVE'] == pytest.approx(expected, rel=1e-6)
    assert result['PA-MVE'] == pytest.approx(expected, rel=1e-6)
    assert result['PA-MPJPE'] < 1e-5


def test_cubic_trajectory_jitter_with_removed_frames_and_shuffled_order(smpl_dir, smpl,
                                                                         tmp_path):
    a, direction = 1e-4, np.array([0.0, 0.6, 0.8])
    pose = np.zeros(72)
    pose[0] = np.pi  # a rigid body, so the joints regressed from the mesh are its skeleton's
    _, vertices = pose_body(smpl['neutral'], pose[None])
    kept = {'full': list(range(10)), 'gappy': [0, 1, 2, 3, 5, 6, 8, 9, 10, 13]}
    fps = {'full': 25.0, 'gappy': None}  # 'gappy' carries no fps: the default 30
    samples = [make_sample(seq, k, pose, dict(vertices=vertices[0] + a * k**3 * direction),
                           fps=fps[seq]) for seq, frames in kept.items() for k in frames]
    order = np.random.default_rng(0).permutation(len(samples))
    metric = EMDBMetric(body_model=dict(model_path=smpl_dir), dump_file=str(tmp_path / 't.json'))
    result = run_metric(metric, [samples[i] for i in order])

    # Every seen joint moves by a k^3 along a unit direction; 15 of the 24 are seen.
    full = 6 * a * 25.0**3 * 15 / 24 / 10
    k = np.array(kept['gappy'], dtype=np.float64)
    third = a * (k[3:]**3 - 3 * k[2:-1]**3 + 3 * k[1:-2]**3 - k[:-3]**3)
    gappy = np.abs(third).mean() * 30.0**3 * 15 / 24 / 10
    rows = table(tmp_path / 't.json')
    assert rows['full']['Jitter'] == pytest.approx(full, rel=1e-7)
    assert rows['gappy']['Jitter'] == pytest.approx(gappy, rel=1e-7)
    assert rows['gappy']['frames'] == 10
    assert result['Jitter'] == pytest.approx((full + gappy) / 2, rel=1e-7)
    assert result['Jitter-std'] == pytest.approx(abs(full - gappy) / 2, rel=1e-7)
    assert result['num_jitter_sequences'] == 2
    assert result['MPJPE'] < 1e-5  # a translation only


def test_temporal_smoothing_filters_each_sequence_in_frame_order(smpl_dir, smpl, tmp_path):
    poses = moving_poses(14, seed=5)
    gt_joints, gt_vertices = pose_body(smpl['neutral'], poses)
    rng = np.random.default_rng(1)
    noisy = gt_vertices + 0.01 * rng.normal(size=(len(poses), 1, 3))  # per-frame shake
    frames = [k for k in range(len(poses)) if k not in (4, 9)]
    samples = [make_sample('s', k, poses[k], dict(vertices=noisy[k])) for k in frames][::-1]
    settings = dict(min_cutoff=1.0, beta=0.0, d_cutoff=1.0)
    raw = run_metric(EMDBMetric(body_model=dict(model_path=smpl_dir)), samples)
    smoothed = run_metric(EMDBMetric(body_model=dict(model_path=smpl_dir),
                                     temporal_smoothing=settings,
                                     dump_file=str(tmp_path / 'table.csv')), samples)

    regressor = smpl['neutral'].j_regressor.numpy()
    joints = np.stack([regressor @ noisy[k] for k in frames])
    filtered = smooth_sequence(joints, 30.0, timestamps=np.array(frames) / 30.0, **settings)
    assert smoothed['Jitter'] == pytest.approx(sequence_jitter(filtered, 30.0)[0], rel=1e-7)
    assert smoothed['Jitter'] < raw['Jitter'] / 3
    hip = filtered[:, 1:3].mean(axis=1, keepdims=True)
    gt_hip = gt_joints[frames][:, 1:3].mean(axis=1, keepdims=True)
    mpjpe = 1000 * np.linalg.norm((filtered - hip) - (gt_joints[frames] - gt_hip), axis=-1)
    assert smoothed['MPJPE'] == pytest.approx(mpjpe.mean(), rel=1e-7)
    with open(tmp_path / 'table.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]['seq_name'] == 's' and rows[0]['frames'] == '12'
    assert float(rows[0]['Jitter']) == pytest.approx(smoothed['Jitter'], rel=1e-12)


def test_bad_inputs_are_named(smpl_dir):
    pose = np.zeros(72)
    good = make_sample('s', 0, pose, smpl_prediction(pose)).to_dict()
    with pytest.raises(ValueError, match='temporal_smoothing'):
        EMDBMetric(body_model=dict(model_path=smpl_dir), temporal_smoothing=dict(cutoff=1))
    with pytest.raises(ValueError, match='min_cutoff'):
        EMDBMetric(body_model=dict(model_path=smpl_dir),
                   temporal_smoothing=dict(min_cutoff=0.0, beta=0.1))
    with pytest.raises(ValueError, match='dump_file'):
        EMDBMetric(body_model=dict(model_path=smpl_dir), dump_file='table.txt')
    metric = EMDBMetric(body_model=dict(model_path=smpl_dir))
    with pytest.raises(KeyError, match="'seq_name'"):
        metric.process(None, [{k: v for k, v in good.items() if k != 'seq_name'}])
    no_smpl = make_sample('s', 0, pose, smpl_prediction(pose)).to_dict()
    no_smpl['gt_instances']['has_smpl'] = np.zeros(1)
    with pytest.raises(ValueError, match='has_smpl'):
        metric.process(None, [no_smpl])
    metric.process(None, [good, good])
    with pytest.raises(ValueError, match=r'frames \[0\] more than once'):
        metric.compute_metrics(metric.results)
    mixed = make_sample('s', 1, pose, dict(vertices=np.zeros((6890, 3)))).to_dict()
    metric.results = []
    metric.process(None, [good, mixed])
    with pytest.raises(ValueError, match="prediction_source to 'smpl' or 'vertices'"):
        metric.compute_metrics(metric.results)


# Two ranks, each holding frames of both sequences, give the one-rank numbers exactly.
WORLD_SIZE = 2


def ddp_samples(smpl_dir):
    samples = []
    for seq, seed in (('a', 0), ('b', 1)):
        poses = moving_poses(7, seed=seed)
        rng = np.random.default_rng(seed)
        noisy = poses + 0.05 * rng.normal(size=poses.shape)
        for k in range(7):
            samples.append(make_sample(seq, k, poses[k], smpl_prediction(noisy[k]),
                                       gender='female'))
    return samples


def _evaluate(samples, tmp_dir, smpl_dir, tag):
    init_default_scope('mmpose')
    metrics = [METRICS.build(dict(type='EMDBMetric', body_model=dict(model_path=str(smpl_dir)),
                                  collect_dir=os.path.join(tmp_dir, f'collect_{tag}'),
                                  dump_file=os.path.join(tmp_dir, f'{tag}.json'))),
               METRICS.build(dict(type='EMDBMetric', body_model=dict(model_path=str(smpl_dir)),
                                  prefix='smoothed',
                                  temporal_smoothing=dict(min_cutoff=1.0, beta=0.5),
                                  collect_dir=os.path.join(tmp_dir, f'collect_s{tag}')))]
    evaluator = Evaluator(metrics)
    for start in range(0, len(samples), 2):
        evaluator.process(samples[start:start + 2])
    return evaluator.evaluate(14)


def _rank_worker(rank, tmp_dir, smpl_dir):
    dist.init_process_group('gloo', init_method=f'file://{tmp_dir}/rendezvous',
                            rank=rank, world_size=WORLD_SIZE)
    samples = ddp_samples(smpl_dir)[rank::WORLD_SIZE]  # both sequences split over the ranks
    result = _evaluate(samples, tmp_dir, smpl_dir, 'two_ranks')
    with open(os.path.join(tmp_dir, f'result_{rank}.json'), 'w') as f:
        json.dump(result, f)
    dist.destroy_process_group()


def test_two_ranks_equal_one_rank_through_the_evaluator(smpl_dir, tmp_path):
    mp.spawn(_rank_worker, args=(str(tmp_path), str(smpl_dir)), nprocs=WORLD_SIZE, join=True)
    single = _evaluate(ddp_samples(smpl_dir), str(tmp_path), smpl_dir, 'one_rank')
    assert single['emdb/num_frames'] == 14 and single['smoothed/num_sequences'] == 2
    assert single['smoothed/Jitter'] < single['emdb/Jitter']
    assert single['emdb/MPJAE'] > 1  # the noise turns the joints
    for rank in range(WORLD_SIZE):
        result = json.loads((tmp_path / f'result_{rank}.json').read_text())
        assert result.keys() == single.keys()
        for key, value in single.items():
            assert result[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    _assert_tables_close(json.loads((tmp_path / 'two_ranks.json').read_text()),
                         json.loads((tmp_path / 'one_rank.json').read_text()))


def _assert_tables_close(a, b, where='table'):
    """Equal structure and text; numbers equal up to summation order (1e-12)."""
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_tables_close(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b)):
            _assert_tables_close(x, y, f'{where}[{index}]')
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12), where
    else:
        assert a == b, where
