"""The synthetic body dataset in the SPIN / MMPose 0.x npz format, one person per image.

Per split: ``images/{split}/NNNNNN.jpg`` (with masks: ``masks/{split}/NNNNNN.png``) and the
arrays of ``synthetic_{split}.npz``: ``imgname`` (N,) paths relative to the dataset folder,
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
"""
from __future__ import annotations

from typing import Dict

import numpy as np
from tqdm import tqdm

from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.joint_sets import J24, SMPL_24
from fastmetro_mm.render import MeshRenderer

from .appearance import body_part_colours
from .camera_placement import check_in_image, project
from .dataset_files import save_image
from .dataset_options import SyntheticDatasetOptions
from .posing import pose_meshes
from .poses import (body_pose_limits, sample_betas, sample_body_orientation, sample_body_pose,
                    sample_pose_near_prototype, sample_pose_prototypes)
from .scene import render_sample
from .splits import prototype_rng, split_rng

#: SPIN's padding of the tight person box.
BOX_PADDING = 1.2
#: Range of the image fraction a body spans.
BODY_FILL_RANGE = (0.55, 0.9)


def annotation_file(split: str) -> str:
    """Name of a split's npz file in the dataset folder."""
    return f'synthetic_{split}.npz'


def make_body_split(split: str, count: int, options: SyntheticDatasetOptions, model: BodyModel,
                    renderer: MeshRenderer) -> Dict[str, np.ndarray]:
    """Renders one split of the body dataset, writes its images and returns its npz arrays.

    Args:
        split: 'train' or 'test'.
        count: number of images.
        options: the dataset's options.
        model: the neutral SMPL(-format) body model, float64.
        renderer: the dataset renderer for the model's faces.

    Returns:
        The arrays of ``synthetic_{split}.npz`` (see the module docstring).
    """
    rng = split_rng(options.seed, split)
    width, height = options.image_size
    limits = body_pose_limits(SMPL_24.names)
    betas = np.array([sample_betas(rng) for _ in range(count)]).reshape(count, 10)
    pose = np.zeros((count, 72))
    prototypes = (sample_pose_prototypes(prototype_rng(options.seed), limits,
                                         options.pose_prototypes)
                  if options.pose_prototypes else None)
    for i in range(count):
        pose[i, :3] = sample_body_orientation(rng, np.deg2rad(options.max_yaw))
        if prototypes is None:
            pose[i, 3:] = sample_body_pose(rng, limits)
        else:
            pose[i, 3:] = sample_pose_near_prototype(rng, prototypes, limits,
                                                     options.prototype_jitter)
    vertices, joints = pose_meshes(model, pose, betas)
    part_colours = (body_part_colours(model.layer.lbs_weights.numpy(), SMPL_24.names)
                    if options.part_colours else None)

    # J24 rows that are SMPL skeleton joints share their names with SMPL_24.
    j24_rows = [i for i, n in enumerate(J24.names) if n in SMPL_24.names]
    smpl_rows = [SMPL_24.index(J24.names[i]) for i in j24_rows]
    out = dict(imgname=[], center=np.zeros((count, 2)), scale=np.zeros(count),
               part=np.zeros((count, 24, 3)), S=np.zeros((count, 24, 4)), pose=pose,
               shape=betas, cam_K=np.zeros((count, 3, 3)), trans=np.zeros((count, 3)),
               bbox_xyxy=np.zeros((count, 4)))
    for i in tqdm(range(count), desc=f'body {split}', unit='img'):
        sample = render_sample(renderer, vertices[i], rng, width, height, BODY_FILL_RANGE,
                               options.backgrounds, part_colours)
        K, trans = sample.K, sample.trans
        uv = project(vertices[i] + trans, K)
        box = np.concatenate([uv.min(0), uv.max(0)])
        joints_cam = joints[i, smpl_rows] + trans
        joints_uv = project(joints_cam, K)
        out['S'][i, j24_rows, :3] = joints_cam
        out['S'][i, j24_rows, 3] = 1.0
        out['part'][i, j24_rows, :2] = joints_uv
        out['part'][i, j24_rows, 2] = check_in_image(joints_uv, width, height)
        out['center'][i] = 0.5 * (box[:2] + box[2:])
        out['scale'][i] = BOX_PADDING * (box[2:] - box[:2]).max() / 200.0
        out['cam_K'][i], out['trans'][i], out['bbox_xyxy'][i] = K, trans, box
        name = f'images/{split}/{i:06d}.jpg'
        save_image(sample.image, options.out_dir / name)
        if options.save_masks:
            save_image(sample.mask.astype(np.uint8) * 255,
                       options.out_dir / f'masks/{split}/{i:06d}.png')
        out['imgname'].append(name)
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in out.items() if k != 'imgname'}
    arrays['imgname'] = np.array(out['imgname'], dtype=str)
    arrays['has_smpl'] = np.ones(count, dtype=np.int64)
    arrays['gender'] = np.array(['n'] * count, dtype=str)
    return arrays
