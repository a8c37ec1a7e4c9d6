"""Short synthetic videos of the stand-in body, written exactly in EMDB's release layout.

``make_synthetic_emdb_sequences`` renders ``num_sequences`` sequences of ``num_frames`` frames
at 30 fps (:mod:`.emdb_motion`: smooth pose, constant shape, a curved world path, a circling
camera) and writes sequence i (subject ``s = i % 10``) as::

    out_dir/P{s}/{i:02d}_synthetic/images/%05d.jpg
    out_dir/P{s}/{i:02d}_synthetic/P{s}_{i:02d}_synthetic_data.pkl
    out_dir/P{s}/{i:02d}_synthetic/P{s}_{i:02d}_synthetic_video.mp4   (write_video only)

The pickle holds EMDB's keys: ``gender`` (alternately 'male' and 'female'), ``name``,
``emdb1`` (every sequence but the last when there are several; the last is ``emdb2``),
``n_frames``, ``good_frames_mask`` (one run of about a tenth of the frames, never the first,
is False: a grey occluder hides the person there), ``kp2d`` (F, 24, 2) the SMPL joints
projected, ``camera`` (``intrinsics`` (3, 3), ``extrinsics`` (F, 4, 4) world to camera,
``width``, ``height``), ``smpl`` (``poses_root`` (F, 3), ``poses_body`` (F, 69), ``trans``
(F, 3), ``betas`` (10,); world frame, metres) and ``bboxes`` (``bboxes`` (F, 4) the tight
xyxy box of the projected mesh, zeros on masked frames; ``invalid_idxs`` the masked frames).
The body is the gendered model file in ``model_dir`` (the synthetic one is written there when
missing). Output is identical bit for bit for the same options. The video is EMDB's side file
(there an overlay); the readers here use the images only.
"""
from __future__ import annotations

import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from fastmetro_mm.mesh.atomic_file import atomic_path, atomic_write
from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.image_camera import ImageCamera
from fastmetro_mm.mesh.joint_sets import SMPL_24

from .appearance import body_part_colours, sample_light, sample_mesh_colour
from .backgrounds import BACKGROUND_KINDS, sample_background
from .body import make_synthetic_smpl, smpl_file_name
from .camera_placement import project, sample_intrinsics
from .dataset_files import save_image
from .emdb_motion import camera_distance, look_at_extrinsics, sample_sequence_motion
from .model_writer import write_model_file
from .posing import pose_meshes
from .poses import body_pose_limits, sample_pose_prototypes
from .scene import make_dataset_renderer
from .splits import prototype_rng

#: EMDB's frame rate.
EMDB_FPS = 30.0
#: (width, height): EMDB's portrait 1440 x 1920 at one sixth.
DEFAULT_EMDB_IMAGE_SIZE = (240, 320)
#: Largest fraction of the smaller image side the moving person may span.
BODY_FILL = 0.85
#: Fraction of a sequence's frames hidden by the occluder (masked in good_frames_mask).
OCCLUDED_FRACTION = 0.1
#: Fewest frames a sequence may have: EMDB's jitter needs 4 good frames, plus the occlusion.
MIN_FRAMES = 8
#: Entropy word that sets the sequences' random streams apart from the image dataset's.
SEQUENCE_STREAM_TAG = 0x454D4442  # 'EMDB'
#: Genders of the sequences, in turn.
SEQUENCE_GENDERS = ('male', 'female')


@dataclass
class EMDBSequenceOptions:
    """What ``make_synthetic_emdb_sequences`` renders (the same bytes for the same options).

    Attributes:
        model_dir: folder with SMPL_MALE.pkl / SMPL_FEMALE.pkl (written there when missing).
        out_dir: the EMDB root to fill (P0..P9 folders).
        num_sequences: number of sequences, at least 1.
        num_frames: frames per sequence, at least ``MIN_FRAMES``.
        seed: seed of every random draw.
        image_size: (width, height).
        max_yaw: largest turn of the body away from facing the camera, degrees, in [0, 180].
        pose_prototypes: N > 0: draw N prototype poses exactly as the image dataset of the
            same seed does (``SyntheticDatasetOptions.pose_prototypes``), and move each
            sequence's joints within ``prototype_jitter`` of its range around one of them;
            0: the joints move within their whole limits.
        prototype_jitter: with prototypes: how far each joint angle moves from the prototype,
            as a fraction of its range, in [0, 1].
        part_colours: colour each body part like clothes instead of one colour per person.
        backgrounds: background kinds to draw from (a subset of ``BACKGROUND_KINDS``).
        write_video: also write each sequence's frames as ``*_video.mp4``.
        overwrite: replace sequences that exist in ``out_dir``.
    """

    model_dir: Union[str, Path]
    out_dir: Union[str, Path] = Path('data/synthetic_emdb')
    num_sequences: int = 3
    num_frames: int = 60
    seed: int = 0
    image_size: Tuple[int, int] = DEFAULT_EMDB_IMAGE_SIZE
    max_yaw: float = 180.0
    pose_prototypes: int = 0
    prototype_jitter: float = 0.05
    part_colours: bool = False
    backgrounds: Sequence[str] = BACKGROUND_KINDS
    write_video: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        self.model_dir, self.out_dir = Path(self.model_dir), Path(self.out_dir)
        self.image_size = tuple(int(v) for v in self.image_size)
        self.backgrounds = tuple(self.backgrounds)
        problems = []
        if self.num_sequences < 1:
            problems.append(f'num_sequences must be >= 1, got {self.num_sequences}')
        if self.num_frames < MIN_FRAMES:
            problems.append(f'num_frames must be >= {MIN_FRAMES}, got {self.num_frames}')
        if not 0 <= self.max_yaw <= 180:
            problems.append(f'max_yaw must be within [0, 180] degrees, got {self.max_yaw}')
        if self.pose_prototypes < 0:
            problems.append(f'pose_prototypes must be >= 0, got {self.pose_prototypes}')
        if not 0 <= self.prototype_jitter <= 1:
            problems.append(f'prototype_jitter must be within [0, 1], got '
                            f'{self.prototype_jitter}')
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            problems.append(f'image_size must be (width, height), at least 16 x 16, got '
                            f'{self.image_size}')
        unknown = sorted(set(self.backgrounds) - set(BACKGROUND_KINDS))
        if not self.backgrounds or unknown:
            problems.append(f'backgrounds must be a non-empty subset of {BACKGROUND_KINDS}, '
                            f'got {self.backgrounds}')
        if problems:
            raise ValueError('EMDBSequenceOptions: ' + '; '.join(problems))


def sequence_location(index: int) -> Tuple[str, str]:
    """(subject folder, sequence folder) of synthetic sequence ``index``; the EMDB name is
    ``f'{subject}_{sequence}'``."""
    return f'P{index % 10}', f'{index:02d}_synthetic'


def sequence_paths(out_dir: Path, index: int) -> Dict[str, Path]:
    """The folder, pickle, images folder and video of sequence ``index``."""
    subject, sequence = sequence_location(index)
    folder = out_dir / subject / sequence
    name = f'{subject}_{sequence}'
    return dict(folder=folder, pickle=folder / f'{name}_data.pkl', images=folder / 'images',
                video=folder / f'{name}_video.mp4')


def occluded_frames(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """(F,) bool good-frames mask: one run of about ``OCCLUDED_FRACTION`` of the frames, never
    the first, is False."""
    length = max(1, int(round(OCCLUDED_FRACTION * num_frames)))
    start = int(rng.integers(1, num_frames - length + 1))
    good = np.ones(num_frames, dtype=bool)
    good[start:start + length] = False
    return good


def _occlude(image: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The image with a grey rectangle over ``box`` (xyxy) and a margin: the person hidden."""
    height, width = image.shape[:2]
    margin = 0.1 * (box[2:] - box[:2])
    x0, y0 = np.floor(np.maximum(box[:2] - margin, 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(box[2:] + margin, [width - 1, height - 1])).astype(int)
    hidden = image.copy()
    hidden[y0:y1 + 1, x0:x1 + 1] = int(rng.integers(60, 200))
    return hidden


def pose_bounds(rng: np.random.Generator,
                options: EMDBSequenceOptions) -> Tuple[np.ndarray, np.ndarray]:
    """(69,) lower and upper bounds of one sequence's body joint angles: the joint limits, or
    the box of ``prototype_jitter`` x range around one of the seed's pose prototypes (the
    prototypes of the image dataset with the same seed), inside the limits."""
    limits = body_pose_limits(SMPL_24.names)
    low, high = limits[..., 0].reshape(-1), limits[..., 1].reshape(-1)
    if not options.pose_prototypes:
        return low, high
    prototypes = sample_pose_prototypes(prototype_rng(options.seed), limits,
                                        options.pose_prototypes)
    centre = prototypes[rng.integers(len(prototypes))]
    reach = options.prototype_jitter * (high - low)
    return np.maximum(low, centre - reach), np.minimum(high, centre + reach)


def render_sequence(index: int, model: BodyModel, options: EMDBSequenceOptions,
                    gender: str) -> Tuple[Dict, List[np.ndarray]]:
    """Poses, films and renders one sequence.

    Args:
        index: the sequence's index (its name and random stream).
        model: the sequence's gendered body model, float64.
        options: the run's options.
        gender: 'male' or 'female', stored in the pickle.

    Returns:
        The pickle's dict (module docstring) and the F (H, W, 3) uint8 RGB frames.
    """
    # Tagged, so that no sequence's stream is one of the image dataset's (splits.py).
    rng = np.random.default_rng([options.seed, SEQUENCE_STREAM_TAG, index])
    width, height = options.image_size
    num_frames = options.num_frames
    motion = sample_sequence_motion(rng, num_frames, EMDB_FPS, pose_bounds(rng, options),
                                    np.deg2rad(options.max_yaw))
    pose = np.concatenate([motion.poses_root, motion.poses_body], axis=1)
    vertices, joints = pose_meshes(model, pose, np.tile(motion.betas, (num_frames, 1)))
    vertices_world = vertices + motion.trans[:, None]  # (F, V, 3)
    joints_world = joints + motion.trans[:, None]  # (F, 24, 3)

    K = sample_intrinsics(rng, width, height)
    aims = joints_world[:, 0] + motion.aim_offsets
    radius = float(np.linalg.norm(vertices_world - aims[:, None], axis=2).max())
    nearest = camera_distance(radius, float(K[0, 0]), min(width, height), BODY_FILL)
    # The camera drifts between the nearest distance and 30 % farther, slowly.
    drift = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * np.arange(num_frames)
                               / EMDB_FPS + rng.uniform(0, 2 * np.pi))
    centres = aims + (nearest * (1.0 + 0.3 * drift))[:, None] * motion.view_directions
    extrinsics = look_at_extrinsics(centres, aims)
    rotation, translation = extrinsics[:, :3, :3], extrinsics[:, :3, 3]
    vertices_cam = np.einsum('fij,fvj->fvi', rotation, vertices_world) + translation[:, None]
    joints_cam = np.einsum('fij,fvj->fvi', rotation, joints_world) + translation[:, None]

    good = occluded_frames(rng, num_frames)
    background = sample_background(rng, width, height, options.backgrounds)
    colour = sample_mesh_colour(rng, background)
    part_colours = (body_part_colours(model.layer.lbs_weights.numpy(), SMPL_24.names)
                    * rng.uniform(0.6, 1.0) if options.part_colours else None)
    lighting = sample_light(rng)
    camera = ImageCamera(float(K[0, 0]), (float(K[0, 2]), float(K[1, 2])), (width, height))

    kp2d = np.zeros((num_frames, 24, 2))
    bboxes = np.zeros((num_frames, 4))
    frames = []
    renderer = make_dataset_renderer(model.faces.numpy())
    try:
        for f in range(num_frames):
            uv = project(vertices_cam[f], K)
            box = np.concatenate([uv.min(0), uv.max(0)])
            if box[0] < -0.5 or box[1] < -0.5 or box[2] > width - 0.5 or box[3] > height - 0.5:
                raise RuntimeError(f'render_sequence: sequence {index}, frame {f}: the body '
                                   f'left the {width} x {height} image (box {box.tolist()})')
            kp2d[f] = project(joints_cam[f], K)
            image = renderer.render(vertices_cam[f], camera, background,
                                    colours=None if part_colours is not None else [colour],
                                    vertex_colours=part_colours, lighting=lighting).image
            if good[f]:
                bboxes[f] = box
            else:
                image = _occlude(image, box, rng)
            frames.append(image)
    finally:
        renderer.close()

    subject, sequence = sequence_location(index)
    last = index == options.num_sequences - 1 and options.num_sequences > 1
    data = dict(
        gender=gender,
        name=f'{subject}_{sequence}',
        emdb1=not last,
        emdb2=last,
        n_frames=num_frames,
        good_frames_mask=good,
        kp2d=kp2d,
        camera=dict(intrinsics=K, extrinsics=extrinsics, width=width, height=height),
        smpl=dict(poses_root=motion.poses_root, poses_body=motion.poses_body,
                  trans=motion.trans, betas=motion.betas),
        bboxes=dict(bboxes=bboxes, invalid_idxs=np.flatnonzero(~good)),
    )
    return data, frames


def _write_video(frames: List[np.ndarray], path: Path) -> None:
    """The RGB frames as an mp4 (MPEG-4 part 2) at EMDB's frame rate, written atomically."""
    import cv2  # only this optional output needs OpenCV

    height, width = frames[0].shape[:2]
    with atomic_path(path, overwrite=True) as temporary:
        writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*'mp4v'), EMDB_FPS,
                                 (width, height))
        if not writer.isOpened():
            raise RuntimeError(f'OpenCV cannot write the video {path} (no mp4v encoder)')
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[..., ::-1]))
        writer.release()


def ensure_gendered_models(model_dir: Path, log: Callable[[str], None] = print) -> None:
    """Writes the synthetic SMPL_MALE / SMPL_FEMALE files into ``model_dir`` where missing."""
    for gender in SEQUENCE_GENDERS:
        stem = Path(smpl_file_name(gender)).stem
        if any((model_dir / f'{stem}{suffix}').is_file() for suffix in ('.pkl', '.npz')):
            continue
        log(f'{model_dir / smpl_file_name(gender)} not found: writing the synthetic body')
        model_dir.mkdir(parents=True, exist_ok=True)
        write_model_file(make_synthetic_smpl(gender), model_dir / smpl_file_name(gender))


def make_synthetic_emdb_sequences(options: EMDBSequenceOptions,
                                  log: Optional[Callable[[str], None]] = print) -> List[Path]:
    """Renders the sequences and writes them in EMDB's layout (module docstring).

    Args:
        options: what to render and where.
        log: receives one line per sequence; None: silent.

    Returns:
        The sequence folders, in order.

    Raises:
        FileExistsError: a sequence folder exists and ``options.overwrite`` is off (nothing
            written).
        RuntimeError: naming what to install when no offscreen OpenGL context can be made.
    """
    log = log or (lambda _: None)
    paths = [sequence_paths(options.out_dir, i) for i in range(options.num_sequences)]
    existing = [str(p['folder']) for p in paths if p['folder'].exists()]
    if existing and not options.overwrite:
        raise FileExistsError('Refusing to overwrite existing EMDB sequences (overwrite is '
                              'off): ' + ', '.join(existing))
    ensure_gendered_models(options.model_dir, log)
    models: Dict[str, BodyModel] = {}
    for index, path in enumerate(paths):
        gender = SEQUENCE_GENDERS[index % len(SEQUENCE_GENDERS)]
        if gender not in models:
            models[gender] = BodyModel.smpl(options.model_dir, gender=gender,
                                            dtype=torch.float64)
        data, frames = render_sequence(index, models[gender], options, gender)
        if path['folder'].exists():
            shutil.rmtree(path['folder'])  # frames of a longer earlier run must not linger
        path['images'].mkdir(parents=True)
        for f, frame in enumerate(frames):
            save_image(frame, path['images'] / f'{f:05d}.jpg')
        if options.write_video:
            _write_video(frames, path['video'])
        with atomic_write(path['pickle']) as stream:
            pickle.dump(data, stream, protocol=4)
        log(f'{path["folder"]}: {data["name"]}, {gender}, {options.num_frames} frames '
            f'({int(data["good_frames_mask"].sum())} good)')
    return [p['folder'] for p in paths]
