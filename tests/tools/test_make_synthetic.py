"""tools/dataset_converters/make_synthetic.py: rendered body (SPIN npz) and hand (FreiHAND)
datasets whose annotations agree with their images and with the body model."""
import colorsys
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import binary_dilation
from scipy.spatial.transform import Rotation

from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.joint_regressor import JointRegressor
from fastmetro_mm.mesh.joint_sets import J24, MANO_16, SMPL_24
from fastmetro_mm.synthetic import appearance, backgrounds, poses
from fastmetro_mm.synthetic.splits import prototype_rng

TOOL_DIR = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters'
SIZE = (96, 80)
SPIN_KEYS = {'imgname', 'center', 'scale', 'part', 'S', 'pose', 'shape', 'has_smpl', 'gender',
             'cam_K', 'trans', 'bbox_xyxy'}


def _load_tool():
    spec = importlib.util.spec_from_file_location('make_synthetic',
                                                  TOOL_DIR / 'make_synthetic.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory) -> Path:
    """Empty folder: the first run writes the synthetic SMPL_NEUTRAL.pkl / MANO_RIGHT.pkl."""
    return tmp_path_factory.mktemp('models')


def _body_args(model_dir: Path, out: Path, seed: int = 3, *extra: str):
    return ['--model-dir', str(model_dir), '--out-dir', str(out), '--num-train', '3',
            '--num-test', '2', '--seed', str(seed), '--image-size', *map(str, SIZE),
            '--save-masks', *extra]


@pytest.fixture(scope='module')
def body_dir(model_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('body') / 'dataset'
    assert tool.main(_body_args(model_dir, out)) == 0
    return out


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


def test_npz_keys_and_shapes(body_dir):
    for split, n in (('train', 3), ('test', 2)):
        data = np.load(body_dir / f'synthetic_{split}.npz')
        assert set(data.files) == SPIN_KEYS
        shapes = dict(center=(n, 2), scale=(n, ), part=(n, 24, 3), S=(n, 24, 4),
                      pose=(n, 72), shape=(n, 10), has_smpl=(n, ), gender=(n, ),
                      imgname=(n, ), cam_K=(n, 3, 3), trans=(n, 3), bbox_xyxy=(n, 4))
        for key, shape in shapes.items():
            assert data[key].shape == shape, key
        assert list(data['gender']) == ['n'] * n and np.all(data['has_smpl'] == 1)
        for name in data['imgname']:
            assert name.startswith(f'images/{split}/')
            assert Image.open(body_dir / name).size == SIZE
        assert np.all(np.abs(data['shape']) <= 2.0)


def test_joints_project_onto_2d_and_unplaced_joints_are_marked(body_dir):
    data = np.load(body_dir / 'synthetic_train.npz')
    placed = np.array([n in SMPL_24.names for n in J24.names])
    assert placed.sum() == 15 and not placed[J24.index('Top_of_Head')]
    S, part, K = data['S'], data['part'], data['cam_K']
    assert np.all(S[:, placed, 3] == 1) and np.all(S[:, ~placed] == 0)
    assert np.all(part[:, placed, 2] == 1) and np.all(part[:, ~placed] == 0)
    uvw = np.einsum('nij,nkj->nki', K.astype(np.float64), S[:, placed, :3])
    uv = uvw[..., :2] / uvw[..., 2:]
    assert np.abs(uv - part[:, placed, :2]).max() < 1.0
    assert np.all(S[:, placed, 2] > 0)  # in front of the camera
    # Camera frame is y down: the head is above (smaller y than) the pelvis... unless the body
    # is upside down, which the sampled orientations never are.
    assert np.all(S[:, J24.index('Head'), 1] < S[:, J24.index('Pelvis'), 1])


def test_pose_and_3d_joints_agree(body_dir, model_dir):
    data = np.load(body_dir / 'synthetic_test.npz')
    model = BodyModel.smpl(model_dir, dtype=torch.float64)
    out = model(torch.from_numpy(data['pose'].astype(np.float64)),
                torch.from_numpy(data['shape'].astype(np.float64)))
    joints = out.joints.numpy() + data['trans'][:, None].astype(np.float64)
    rows = [i for i, n in enumerate(J24.names) if n in SMPL_24.names]
    smpl_rows = [SMPL_24.index(J24.names[i]) for i in rows]
    assert np.abs(joints[:, smpl_rows] - data['S'][:, rows, :3]).max() < 1e-3
    # The tight box is that of the projected vertices.
    verts = out.vertices.numpy() + data['trans'][:, None]
    uvw = np.einsum('nij,nkj->nki', data['cam_K'].astype(np.float64), verts)
    uv = uvw[..., :2] / uvw[..., 2:]
    box = np.concatenate([uv.min(1), uv.max(1)], axis=1)
    assert np.abs(box - data['bbox_xyxy']).max() < 0.05


def test_bbox_contains_silhouette_and_person_stands_out(body_dir):
    data = np.load(body_dir / 'synthetic_train.npz')
    for i, name in enumerate(data['imgname']):
        mask = np.asarray(Image.open(body_dir / name.replace('images/', 'masks/')
                                     .replace('.jpg', '.png'))) > 127
        assert 0.03 < mask.mean() < 0.9
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = data['bbox_xyxy'][i]
        # Pixel centres (integers in K's convention) covered by the rasterised mesh lie inside
        # the projected box, and reach to within a pixel or two of each side: a half-pixel
        # slip between K and the renderer would break one side or the other.
        assert x0 - 0.01 <= xs.min() <= x0 + 2 and x1 - 2 <= xs.max() <= x1 + 0.01
        assert y0 - 0.01 <= ys.min() <= y0 + 2 and y1 - 2 <= ys.max() <= y1 + 0.01
        half = 100 * data['scale'][i]
        cx, cy = data['center'][i]
        assert cx - half <= xs.min() and xs.max() <= cx + half
        assert cy - half <= ys.min() and ys.max() <= cy + half
        # Tight box within the image: the person is fully in view.
        assert x0 >= 0 and y0 >= 0 and x1 <= SIZE[0] - 1 and y1 <= SIZE[1] - 1
        image = np.asarray(Image.open(body_dir / name)).astype(np.float64)
        person, background = image[mask].mean(0), image[~mask].mean(0)
        assert np.linalg.norm(person - background) > 20


def test_deterministic_under_the_seed_and_refuses_overwrite(body_dir, model_dir, tmp_path):
    again = tmp_path / 'again'
    assert tool.main(_body_args(model_dir, again)) == 0
    first, second = _files(body_dir), _files(again)
    assert first.keys() == second.keys() and len(first) == 2 + 2 * 5
    assert all(first[k] == second[k] for k in first)

    assert tool.main(_body_args(model_dir, again)) == 1  # exists, no --overwrite
    assert tool.main(_body_args(model_dir, again, 4, '--overwrite')) == 0
    other = _files(again)
    assert other['images/train/000000.jpg'] != first['images/train/000000.jpg']


def test_hand_freihand_layout(model_dir, tmp_path):
    out = tmp_path / 'hand'
    args = ['--model-dir', str(model_dir), '--out-dir', str(out), '--num-train', '2',
            '--num-test', '1', '--image-size', '64', '64', '--hand']
    assert tool.main(args) == 0
    model = BodyModel.mano(model_dir, dtype=torch.float64)
    regressor = JointRegressor.mano_21(model.j_regressor)
    for folder, n in (('training', 2), ('evaluation', 1)):
        assert sorted(p.name for p in (out / folder / 'rgb').iterdir()) == [
            f'{i:08d}.jpg' for i in range(n)]
        xyz, K, mano, verts = (np.array(json.load(open(out / f'{folder}_{k}.json')))
                               for k in ('xyz', 'K', 'mano', 'verts'))
        assert xyz.shape == (n, 21, 3) and K.shape == (n, 3, 3)
        assert mano.shape == (n, 1, 61) and verts.shape == (n, 778, 3)
        params = torch.from_numpy(mano[:, 0])
        posed = model(params[:, :48], params[:, 48:58]).vertices + params[:, None, 58:]
        assert np.abs(posed.numpy() - verts).max() < 1e-6
        assert np.abs(regressor(posed).numpy() - xyz).max() < 1e-6
        uvw = np.einsum('nij,nkj->nki', K, verts)
        uv = uvw[..., :2] / uvw[..., 2:]
        assert uv.min() >= 0 and uv.max() <= 63  # the whole hand is in view


def test_missing_offscreen_gl_names_the_fix(model_dir, tmp_path):
    """Without offscreen OpenGL the tool fails and says what to install."""
    command = [sys.executable, str(TOOL_DIR / 'make_synthetic.py'), '--model-dir',
               str(model_dir), '--out-dir', str(tmp_path / 'no_gl'), '--num-train', '1',
               '--num-test', '0']
    env = dict(os.environ, PYOPENGL_PLATFORM='no_such_platform')
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert 'libosmesa6' in result.stderr and 'PYOPENGL_PLATFORM' in result.stderr


def test_max_yaw_bounds_the_turn_away_from_the_camera():
    from scipy.spatial.transform import Rotation
    half_turn = Rotation.from_euler('x', np.pi)

    def yaws(max_yaw: float) -> np.ndarray:
        rng = np.random.default_rng(0)
        rotvecs = [poses.sample_body_orientation(rng, max_yaw) for _ in range(300)]
        body = half_turn.inv() * Rotation.from_rotvec(np.array(rotvecs))
        return body.as_euler('yzx')[:, 0]

    limited = yaws(np.deg2rad(45))
    assert np.abs(limited).max() <= np.deg2rad(45) + 1e-9
    assert np.abs(limited).max() > np.deg2rad(40)
    assert np.abs(yaws(np.pi)).max() > np.deg2rad(170)  # the default: any direction


def test_max_yaw_out_of_range_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        tool.main(['--model-dir', str(tmp_path), '--max-yaw', '200'])
    assert '--max-yaw must be within [0, 180] degrees, got 200' in capsys.readouterr().err


def test_pose_prototypes_are_shared_by_both_splits_and_jittered_within_limits(model_dir,
                                                                              tmp_path):
    out = tmp_path / 'prototypes'
    extra = ('--pose-prototypes', '2', '--prototype-jitter', '0.05')
    assert tool.main(_body_args(model_dir, out, 3, *extra)) == 0
    limits = poses.body_pose_limits(SMPL_24.names)
    low, high = limits[..., 0].reshape(-1), limits[..., 1].reshape(-1)
    prototypes = poses.sample_pose_prototypes(prototype_rng(3), limits, 2)
    for split in ('train', 'test'):
        pose = np.load(out / f'synthetic_{split}.npz')['pose'][:, 3:].astype(np.float64)
        assert np.all(pose >= low - 1e-6) and np.all(pose <= high + 1e-6)
        # Every person is within the jitter of one of the two prototypes, and farther from
        # the other one (they are far apart).
        steps = np.abs(pose[:, None] - prototypes[None]) / (high - low)  # (N, 2, 69)
        nearest = steps.max(-1).min(-1)
        assert np.all(nearest <= 0.05 + 1e-5)
        assert np.all(steps.max(-1).max(-1) > 0.2)


def test_part_colours_tell_limbs_apart_and_match_left_and_right():
    weights = np.zeros((6, 24))
    joints = ['L_Shoulder', 'R_Shoulder', 'L_Knee', 'Head', 'Pelvis', 'R_Elbow']
    for row, name in enumerate(joints):
        weights[row, SMPL_24.names.index(name)] = 1.0
    colours = appearance.body_part_colours(weights, SMPL_24.names)
    assert colours.shape == (6, 3) and colours.min() >= 0 and colours.max() <= 1
    assert np.array_equal(colours[0], colours[1])  # left and right upper arm alike
    assert len({tuple(c) for c in colours[[0, 2, 3, 4, 5]]}) == 5  # other parts differ
    with pytest.raises(ValueError, match='no part for'):
        appearance.body_part_colours(np.ones((2, 3)), ('Pelvis', 'Tail', 'Head'))


def test_part_colours_and_plain_backgrounds_render(model_dir, tmp_path):
    out = tmp_path / 'parts'
    extra = ('--part-colours', '--backgrounds', 'solid')
    assert tool.main(_body_args(model_dir, out, 3, *extra)) == 0
    name = np.load(out / 'synthetic_train.npz')['imgname'][0]
    image = np.asarray(Image.open(out / name)).astype(np.float64)
    mask = np.asarray(Image.open(out / name.replace('images/', 'masks/')
                                 .replace('.jpg', '.png'))) > 127
    # One solid colour away from the person's outline (where JPEG rings).
    background = image[~binary_dilation(mask, iterations=3)]
    assert np.abs(background - np.median(background, axis=0)).max() <= 16
    # Shading changes brightness, not hue: a one-colour person has one hue, this one several.
    person = image[mask] / 255.0
    hsv = np.array([colorsys.rgb_to_hsv(*rgb) for rgb in person])
    hues = hsv[hsv[:, 1] > 0.3, 0]
    shares = np.histogram(hues, bins=12, range=(0, 1))[0] / len(hues)
    assert (shares > 0.03).sum() >= 3


def test_body_only_options_and_bad_backgrounds_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        tool.main(['--model-dir', str(tmp_path), '--hand', '--part-colours'])
    assert 'applies to the body, not to --hand' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(['--model-dir', str(tmp_path), '--backgrounds', 'stripes'])
    assert "invalid choice: 'stripes'" in capsys.readouterr().err
    with pytest.raises(ValueError, match='non-empty subset'):
        backgrounds.sample_background(np.random.default_rng(0), 8, 8, ('plaid',))


def test_hand_pose_is_the_same_draws_as_before_articulations_existed():
    """sample_hand_pose through articulations: the draws and poses of the original code."""
    def original(rng, axes, palm):
        pose = np.zeros((15, 3))
        for first in range(0, 15, 3):
            is_thumb = MANO_16.names[first + 1].startswith('Thumb')
            curl = rng.uniform(-0.15, 0.8) if is_thumb else rng.uniform(-0.15, 1.3)
            angles = curl * np.array([0.8, 1.1, 0.9]) + rng.uniform(-0.1, 0.1, size=3)
            pose[first:first + 3] = angles[:, None] * axes[first:first + 3]
            pose[first] += rng.uniform(-0.2, 0.2) * palm
        return pose.reshape(45)

    axes, palm = np.random.default_rng(1).normal(size=(15, 3)), np.array([0.0, 0.0, 1.0])
    expected = original(np.random.default_rng(5), axes, palm)
    np.testing.assert_array_equal(
        poses.sample_hand_pose(np.random.default_rng(5), axes, palm), expected)


def test_hand_prototypes_and_rotation_limit(model_dir, tmp_path):
    out = tmp_path / 'hand_prototypes'
    assert tool.main(['--model-dir', str(model_dir), '--out-dir', str(out), '--num-train', '4',
                      '--num-test', '2', '--image-size', '64', '64', '--hand', '--seed', '2',
                      '--pose-prototypes', '2', '--prototype-jitter', '0.0',
                      '--max-hand-rotation', '20']) == 0
    hand = BodyModel.mano(model_dir, is_rhand=True, dtype=torch.float64)
    axes, palm = poses.finger_axes(hand)
    mean = hand.layer.pose_mean[3:].double().numpy()
    stream = prototype_rng(2)
    prototypes = [poses.hand_pose_from_articulation(poses.sample_hand_articulation(stream),
                                                    axes, palm) - mean for _ in range(2)]
    reference = poses.palm_to_camera(hand)
    for folder in ('training', 'evaluation'):
        mano = np.array(json.loads((out / f'{folder}_mano.json').read_text()))[:, 0]
        for row in mano:  # without jitter every hand is one of the two prototypes
            assert min(np.abs(row[3:48] - p).max() for p in prototypes) < 1e-6
            turn = Rotation.from_rotvec(row[:3]) * reference.inv()
            assert turn.magnitude() <= np.deg2rad(20) + 1e-6
