"""Render a licence-free mesh dataset from the synthetic body (or hand) with pyrender.

Examples:
    python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \\
        --out-dir data/synthetic_dataset --num-train 2000 --num-test 200 --seed 0
    python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \\
        --out-dir data/synthetic_hand --num-train 2000 --num-test 200 --hand

Body output (the SPIN / MMPose 0.x npz format, one person per full image):

- ``images/{train,test}/NNNNNN.jpg``; with ``--save-masks`` also ``masks/{split}/NNNNNN.png``;
- ``synthetic_{train,test}.npz`` with ``imgname`` (N,) paths relative to ``--out-dir``,
  ``center`` (N, 2) and ``scale`` (N,) (= 1.2 x the larger side of the tight box around the
  projected vertices / 200, as SPIN pads its boxes), ``part`` (N, 24, 3) J24 pixels +
  visibility, ``S`` (N, 24, 4) J24 in metres in the camera frame (x right, y down, z forward)
  + confidence, ``pose`` (N, 72) with the global orientation in that camera frame, ``shape``
  (N, 10), ``has_smpl`` (N,), ``gender`` (N,) ``'n'``; extra keys ``cam_K`` (N, 3, 3),
  ``trans`` (N, 3) (camera-frame mesh = body model(pose, shape) + trans) and ``bbox_xyxy``
  (N, 4) the tight box.

J24 entries that are SMPL skeleton joints (ankles, knees, hips, wrists, elbows, shoulders,
neck, pelvis, head) come from the body model's joints; the others (top of head, thorax, spine,
jaw, nose, eyes, ears) have no SMPL joint and are stored as zeros with confidence 0.

Hand output (``--hand``, FreiHAND's release layout): ``training/rgb/NNNNNNNN.jpg`` and
``training_{xyz,K,mano,verts}.json`` (test split: ``evaluation/...``). ``xyz`` are the 21
joints in FreiHAND / METRO order, metres, camera frame; ``mano`` is ``[[48 pose, 10 shape,
3 trans]]`` per image, the pose in ``BodyModel.mano(flat_hand_mean=False)``'s convention
(offsets from the mean hand) with the global orientation in the camera frame, so that
verts = MANO(pose, shape) + trans.

The pixel convention: ``K @ X / Z`` lands on pixel centres at integer coordinates.
Missing model files in ``--model-dir`` are generated there (synthetic SMPL_NEUTRAL.pkl /
MANO_RIGHT.pkl). Output is identical bit for bit for the same seed and arguments.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_scene as scene  # noqa: E402

from fastmetro_mm.mesh.body_model import BodyModel  # noqa: E402
from fastmetro_mm.mesh.joint_regressor import JointRegressor  # noqa: E402
from fastmetro_mm.mesh.joint_sets import (J24, MANO_16, MANO_FINGERTIP_VERTEX_IDS,  # noqa: E402
                                          SMPL_24)
from fastmetro_mm.mesh.synthetic import (make_synthetic_mano, make_synthetic_smpl,  # noqa: E402
                                         mano_file_name, smpl_file_name, write_model_file)

SPLITS = ('train', 'test')
HAND_SPLIT_DIRS = {'train': 'training', 'test': 'evaluation'}
#: SPIN's padding of the tight person box.
BOX_PADDING = 1.2
#: Body model forward passes per batch.
CHUNK = 64


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model-dir', required=True, type=Path,
                        help='folder with SMPL_NEUTRAL.pkl / MANO_RIGHT.pkl (synthetic ones '
                        'are generated there when missing)')
    parser.add_argument('--out-dir', type=Path, default=Path('data/synthetic_dataset'))
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-yaw', type=float, default=180.0,
                        help='body: largest turn away from facing the camera, degrees (180: '
                        'any direction; the uniform synthetic figure has no face, so front '
                        'and back views are told apart only by the pose)')
    parser.add_argument('--pose-prototypes', type=int, default=0, metavar='N',
                        help='body: draw N prototype poses (shared by train and test) and '
                        'give every person one of them, jittered (default 0: every pose '
                        'drawn independently within the joint limits)')
    parser.add_argument('--prototype-jitter', type=float, default=0.05,
                        help='with --pose-prototypes: largest change of each joint angle, as a '
                        'fraction of its range (default 0.05)')
    parser.add_argument('--part-colours', action='store_true',
                        help='body: colour each body part like clothes (left and right alike) '
                        'instead of one colour per person')
    parser.add_argument('--backgrounds', nargs='+', choices=scene.BACKGROUND_KINDS,
                        default=list(scene.BACKGROUND_KINDS),
                        help='background kinds to draw from (default: all)')
    parser.add_argument('--image-size', type=int, nargs=2, metavar=('WIDTH', 'HEIGHT'),
                        default=None, help='default 320 240 (body), 224 224 (hand)')
    parser.add_argument('--hand', action='store_true',
                        help='render the right hand in FreiHAND format instead of the body')
    parser.add_argument('--save-masks', action='store_true',
                        help='also write the person silhouettes as PNG under masks/')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing dataset in --out-dir')
    args = parser.parse_args(argv)
    if args.num_train < 0 or args.num_test < 0:
        parser.error(f'--num-train / --num-test must be >= 0, got {args.num_train} / '
                     f'{args.num_test}')
    if args.image_size is None:
        args.image_size = [224, 224] if args.hand else [320, 240]
    if not 0 <= args.max_yaw <= 180:
        parser.error(f'--max-yaw must be within [0, 180] degrees, got {args.max_yaw}')
    if args.pose_prototypes < 0:
        parser.error(f'--pose-prototypes must be >= 0, got {args.pose_prototypes}')
    if not 0 <= args.prototype_jitter <= 1:
        parser.error(f'--prototype-jitter must be within [0, 1], got {args.prototype_jitter}')
    if args.hand and (args.pose_prototypes or args.part_colours):
        parser.error('--pose-prototypes and --part-colours apply to the body, not to --hand')
    if min(args.image_size) < 16:
        parser.error(f'--image-size must be at least 16 x 16, got {args.image_size}')
    return args


def _ensure_model_file(model_dir: Path, hand: bool) -> None:
    """Write the synthetic model file into ``model_dir`` unless a model file is there."""
    name = mano_file_name(True) if hand else smpl_file_name('neutral')
    stem = Path(name).stem
    if any((model_dir / f'{stem}{suffix}').is_file() for suffix in ('.pkl', '.npz')):
        return
    print(f'{model_dir / name} not found: writing the synthetic {"hand" if hand else "body"}')
    model_dir.mkdir(parents=True, exist_ok=True)
    write_model_file(make_synthetic_mano(True) if hand else make_synthetic_smpl('neutral'),
                     model_dir / name)


def _outputs(out_dir: Path, hand: bool) -> List[Path]:
    """Everything this tool writes into ``out_dir``."""
    if hand:
        return [out_dir / d for d in HAND_SPLIT_DIRS.values()] + [
            out_dir / f'{d}_{k}.json' for d in HAND_SPLIT_DIRS.values()
            for k in ('xyz', 'K', 'mano', 'verts')]
    return [out_dir / 'images', out_dir / 'masks'] + [
        out_dir / f'synthetic_{s}.npz' for s in SPLITS]


def _split_rng(seed: int, split: str) -> np.random.Generator:
    """Independent stream per split, so --num-train does not change the test set."""
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split)]))


def _prototype_rng(seed: int) -> np.random.Generator:
    """The stream of the pose prototypes: its own, so that both splits share them."""
    return np.random.default_rng(np.random.SeedSequence([seed, len(SPLITS)]))


def _save_image(image: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=95)


def save_npz(path: Path, arrays: Dict[str, np.ndarray]) -> None:
    """``np.savez`` without its time stamps, so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f'{key}.npy', date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, 'w', force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)


def _forward(model: BodyModel, pose: np.ndarray,
             betas: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Vertices (B, V, 3) and skeleton joints (B, J, 3) as float64 numpy, in chunks."""
    verts, joints = [], []
    with torch.no_grad():
        for start in range(0, len(pose), CHUNK):
            out = model(torch.from_numpy(pose[start:start + CHUNK]),
                        torch.from_numpy(betas[start:start + CHUNK]))
            verts.append(out.vertices.numpy())
            joints.append(out.joints.numpy())
    num_v, num_j = model.num_vertices, model.num_joints
    return (np.concatenate(verts) if verts else np.zeros((0, num_v, 3)),
            np.concatenate(joints) if joints else np.zeros((0, num_j, 3)))


def _render_sample(renderer: scene.MeshRenderer, vertices: np.ndarray, rng: np.random.Generator,
                   width: int, height: int, fill_range: Tuple[float, float],
                   backgrounds: Sequence[str] = scene.BACKGROUND_KINDS,
                   part_colours: Optional[np.ndarray] = None) -> dict:
    """Camera, placement, background, colour and light for one posed mesh; then render.

    Args:
        renderer: The renderer.
        vertices: (V, 3) posed mesh in the camera frame's orientation, at the origin.
        rng: Random generator.
        width, height: Image size.
        fill_range: Range of the image fraction the mesh spans.
        backgrounds: Background kinds to draw from.
        part_colours: Optional (V, 3) per-vertex colours, dimmed at random per image; None:
            one colour per person that stands out from the background.

    Returns:
        dict with K (3, 3), trans (3,), image (H, W, 3) uint8, mask (H, W) bool.
    """
    K = scene.sample_intrinsics(rng, width, height)
    trans = scene.place_in_view(vertices, K, width, height, rng, fill_range=fill_range)
    background = scene.sample_background(rng, width, height, backgrounds)
    colour = scene.sample_mesh_colour(rng, background)
    if part_colours is not None:
        colour = part_colours * rng.uniform(0.6, 1.0)
    light_rotvec, intensity, ambient = scene.sample_light(rng)
    image, mask = renderer.render(vertices + trans, K, colour, background, light_rotvec,
                                  intensity, ambient)
    return dict(K=K, trans=trans, image=image, mask=mask)


def make_body_split(split: str, count: int, args: argparse.Namespace, model: BodyModel,
                    renderer: scene.MeshRenderer) -> Dict[str, np.ndarray]:
    """Render one split of the body dataset and return its npz arrays."""
    rng = _split_rng(args.seed, split)
    width, height = args.image_size
    limits = scene.body_pose_limits(SMPL_24.names)
    betas = np.array([scene.sample_betas(rng) for _ in range(count)]).reshape(count, 10)
    pose = np.zeros((count, 72))
    prototypes = (scene.sample_pose_prototypes(_prototype_rng(args.seed), limits,
                                               args.pose_prototypes)
                  if args.pose_prototypes else None)
    for i in range(count):
        pose[i, :3] = scene.sample_body_orientation(rng, np.deg2rad(args.max_yaw))
        if prototypes is None:
            pose[i, 3:] = scene.sample_body_pose(rng, limits)
        else:
            pose[i, 3:] = scene.sample_pose_near_prototype(rng, prototypes, limits,
                                                           args.prototype_jitter)
    vertices, joints = _forward(model, pose, betas)
    part_colours = (scene.body_part_colours(model.layer.lbs_weights.numpy(), SMPL_24.names)
                    if args.part_colours else None)

    # J24 rows that are SMPL skeleton joints share their names with SMPL_24.
    j24_rows = [i for i, n in enumerate(J24.names) if n in SMPL_24.names]
    smpl_rows = [SMPL_24.index(J24.names[i]) for i in j24_rows]
    out = dict(imgname=[], center=np.zeros((count, 2)), scale=np.zeros(count),
               part=np.zeros((count, 24, 3)), S=np.zeros((count, 24, 4)), pose=pose,
               shape=betas, cam_K=np.zeros((count, 3, 3)), trans=np.zeros((count, 3)),
               bbox_xyxy=np.zeros((count, 4)))
    for i in tqdm(range(count), desc=f'body {split}', unit='img'):
        sample = _render_sample(renderer, vertices[i], rng, width, height, (0.55, 0.9),
                                args.backgrounds, part_colours)
        K, trans = sample['K'], sample['trans']
        uv = scene.project(vertices[i] + trans, K)
        box = np.concatenate([uv.min(0), uv.max(0)])
        joints_cam = joints[i, smpl_rows] + trans
        joints_uv = scene.project(joints_cam, K)
        out['S'][i, j24_rows, :3] = joints_cam
        out['S'][i, j24_rows, 3] = 1.0
        out['part'][i, j24_rows, :2] = joints_uv
        out['part'][i, j24_rows, 2] = scene.check_in_image(joints_uv, width, height)
        out['center'][i] = 0.5 * (box[:2] + box[2:])
        out['scale'][i] = BOX_PADDING * (box[2:] - box[:2]).max() / 200.0
        out['cam_K'][i], out['trans'][i], out['bbox_xyxy'][i] = K, trans, box
        name = f'images/{split}/{i:06d}.jpg'
        _save_image(sample['image'], args.out_dir / name)
        if args.save_masks:
            _save_image(sample['mask'].astype(np.uint8) * 255,
                        args.out_dir / f'masks/{split}/{i:06d}.png')
        out['imgname'].append(name)
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in out.items() if k != 'imgname'}
    arrays['imgname'] = np.array(out['imgname'], dtype=str)
    arrays['has_smpl'] = np.ones(count, dtype=np.int64)
    arrays['gender'] = np.array(['n'] * count, dtype=str)
    return arrays


def _finger_axes(model: BodyModel) -> Tuple[np.ndarray, np.ndarray]:
    """Flexion axes (15, 3) of the hand's finger joints and the palm normal (3,), at rest.

    Each axis is the bone direction crossed with the palm normal, so a positive rotation
    curls the finger towards the palm (for a right hand).
    """
    rest = model.layer.v_template.double()
    joints = (model.j_regressor.double() @ rest).numpy()  # (16, 3)
    tips = rest[list(MANO_FINGERTIP_VERTEX_IDS)].numpy()  # thumb, index, middle, ring, pinky
    name = MANO_16.index
    tip_of = dict(zip(('Thumb', 'Index', 'Middle', 'Ring', 'Pinky'), tips))
    palm = np.cross(joints[name('Index_1')] - joints[name('Pinky_1')],
                    joints[name('Middle_1')] - joints[0])
    palm /= np.linalg.norm(palm)
    axes = np.zeros((15, 3))
    for j in range(1, 16):
        joint_name = MANO_16.names[j]
        finger, level = joint_name.split('_')
        child = tip_of[finger] if level == '3' else joints[name(f'{finger}_{int(level) + 1}')]
        axis = np.cross(child - joints[j], palm)
        axes[j - 1] = axis / np.linalg.norm(axis)
    return axes, palm


def sample_hand_pose(rng: np.random.Generator, axes: np.ndarray, palm: np.ndarray) -> np.ndarray:
    """(45,) absolute axis-angle of the 15 finger joints: a curl per finger plus spread.

    Args:
        rng: Random generator.
        axes: (15, 3) flexion axes from :func:`_finger_axes`.
        palm: (3,) palm normal.
    """
    pose = np.zeros((15, 3))
    for first in range(0, 15, 3):  # MANO_16 rows 1..15: three joints per finger
        is_thumb = MANO_16.names[first + 1].startswith('Thumb')
        curl = rng.uniform(-0.15, 0.8) if is_thumb else rng.uniform(-0.15, 1.3)
        angles = curl * np.array([0.8, 1.1, 0.9]) + rng.uniform(-0.1, 0.1, size=3)
        pose[first:first + 3] = angles[:, None] * axes[first:first + 3]
        pose[first] += rng.uniform(-0.2, 0.2) * palm  # spread at the knuckle
    return pose.reshape(45)


def make_hand_split(split: str, count: int, args: argparse.Namespace, model: BodyModel,
                    renderer: scene.MeshRenderer) -> None:
    """Render one split of the hand dataset in FreiHAND's layout."""
    rng = _split_rng(args.seed, split)
    width, height = args.image_size
    axes, palm = _finger_axes(model)
    hands_mean = model.layer.pose_mean[3:].double().numpy()
    betas = np.array([scene.sample_betas(rng) for _ in range(count)]).reshape(count, 10)
    pose = np.zeros((count, 48))
    for i in range(count):
        pose[i, :3] = scene.random_rotation(rng)
        pose[i, 3:] = sample_hand_pose(rng, axes, palm) - hands_mean
    vertices, _ = _forward(model, pose, betas)
    regressor = JointRegressor.mano_21(model.j_regressor)
    joints = regressor(torch.from_numpy(vertices)).numpy()

    folder = HAND_SPLIT_DIRS[split]
    records: Dict[str, list] = dict(xyz=[], K=[], mano=[], verts=[])
    for i in tqdm(range(count), desc=f'hand {split}', unit='img'):
        sample = _render_sample(renderer, vertices[i], rng, width, height, (0.45, 0.85),
                                args.backgrounds)
        trans = sample['trans']
        _save_image(sample['image'], args.out_dir / f'{folder}/rgb/{i:08d}.jpg')
        if args.save_masks:
            _save_image(sample['mask'].astype(np.uint8) * 255,
                        args.out_dir / f'{folder}/mask/{i:08d}.png')
        records['xyz'].append(np.round(joints[i] + trans, 8).tolist())
        records['K'].append(np.round(sample['K'], 8).tolist())
        records['mano'].append([np.round(np.concatenate([pose[i], betas[i], trans]),
                                         8).tolist()])
        records['verts'].append(np.round(vertices[i] + trans, 8).tolist())
    for key, values in records.items():
        with open(args.out_dir / f'{folder}_{key}.json', 'w') as f:
            json.dump(values, f)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    existing = [str(p) for p in _outputs(args.out_dir, args.hand) if p.exists()]
    if existing and not args.overwrite:
        print('Refusing to overwrite an existing dataset (pass --overwrite): ' +
              ', '.join(existing), file=sys.stderr)
        return 1
    for path in _outputs(args.out_dir, args.hand):
        if path.is_dir():
            shutil.rmtree(path)  # stale images of a larger earlier run must not linger
        elif path.exists():
            path.unlink()
    _ensure_model_file(args.model_dir, args.hand)
    if args.hand:
        model = BodyModel.mano(args.model_dir, is_rhand=True, dtype=torch.float64)
    else:
        model = BodyModel.smpl(args.model_dir, gender='neutral', dtype=torch.float64)
    width, height = args.image_size
    try:
        renderer = scene.MeshRenderer(width, height, model.faces.numpy(), model.num_vertices)
    except RuntimeError as exc:
        print(f'make_synthetic.py: {exc}', file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        for split, count in zip(SPLITS, (args.num_train, args.num_test)):
            if args.hand:
                make_hand_split(split, count, args, model, renderer)
                continue
            arrays = make_body_split(split, count, args, model, renderer)
            save_npz(args.out_dir / f'synthetic_{split}.npz', arrays)
    finally:
        renderer.close()
    print(f'wrote {args.num_train} train + {args.num_test} test '
          f'{"hand" if args.hand else "body"} images to {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
