"""The synthetic right-hand dataset in FreiHAND's release layout.

Per split folder (``training`` / ``evaluation``): ``rgb/NNNNNNNN.jpg`` (with masks:
``mask/NNNNNNNN.png``) and ``{folder}_{xyz,K,mano,verts}.json`` beside it. ``xyz`` are the 21
joints in FreiHAND / METRO order, metres, camera frame; ``mano`` is ``[[48 pose, 10 shape,
3 trans]]`` per image, the pose in ``BodyModel.mano(flat_hand_mean=False)``'s convention
(offsets from the mean hand) with the global orientation in the camera frame, so that
verts = MANO(pose, shape) + trans.
"""
from __future__ import annotations

import json
from typing import Dict

import numpy as np
import torch
from tqdm import tqdm

from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.joint_regressor import JointRegressor
from fastmetro_mm.render import MeshRenderer

from .dataset_files import save_image
from .dataset_options import SyntheticDatasetOptions
from .posing import pose_meshes
from .poses import (finger_axes, hand_pose_from_articulation, palm_to_camera, sample_betas,
                    sample_hand_articulation, sample_hand_near_prototype,
                    sample_hand_orientation)
from .scene import render_sample
from .splits import prototype_rng, split_rng

#: FreiHAND's folder of each split.
HAND_SPLIT_DIRS = {'train': 'training', 'test': 'evaluation'}
#: The annotation files of a split folder: ``{folder}_{key}.json``.
HAND_ANNOTATION_KEYS = ('xyz', 'K', 'mano', 'verts')
#: Range of the image fraction a hand spans.
HAND_FILL_RANGE = (0.45, 0.85)


def make_hand_split(split: str, count: int, options: SyntheticDatasetOptions, model: BodyModel,
                    renderer: MeshRenderer) -> None:
    """Renders one split of the hand dataset and writes its images and annotation files.

    Args:
        split: 'train' or 'test'.
        count: number of images.
        options: the dataset's options.
        model: the right MANO(-format) hand model, float64.
        renderer: the dataset renderer for the model's faces.
    """
    rng = split_rng(options.seed, split)
    width, height = options.image_size
    axes, palm = finger_axes(model)
    hands_mean = model.layer.pose_mean[3:].double().numpy()
    betas = np.array([sample_betas(rng) for _ in range(count)]).reshape(count, 10)
    pose = np.zeros((count, 48))
    reference = palm_to_camera(model)
    prototypes = None
    if options.pose_prototypes:
        stream = prototype_rng(options.seed)
        prototypes = np.stack([sample_hand_articulation(stream)
                               for _ in range(options.pose_prototypes)])
    for i in range(count):
        pose[i, :3] = sample_hand_orientation(rng, reference,
                                              np.deg2rad(options.max_hand_rotation))
        articulation = (sample_hand_articulation(rng) if prototypes is None else
                        sample_hand_near_prototype(rng, prototypes, options.prototype_jitter))
        pose[i, 3:] = hand_pose_from_articulation(articulation, axes, palm) - hands_mean
    vertices, _ = pose_meshes(model, pose, betas)
    regressor = JointRegressor.mano_21(model.j_regressor)
    joints = regressor(torch.from_numpy(vertices)).numpy()

    folder = HAND_SPLIT_DIRS[split]
    records: Dict[str, list] = {key: [] for key in HAND_ANNOTATION_KEYS}
    for i in tqdm(range(count), desc=f'hand {split}', unit='img'):
        sample = render_sample(renderer, vertices[i], rng, width, height, HAND_FILL_RANGE,
                               options.backgrounds)
        trans = sample.trans
        save_image(sample.image, options.out_dir / f'{folder}/rgb/{i:08d}.jpg')
        if options.save_masks:
            save_image(sample.mask.astype(np.uint8) * 255,
                       options.out_dir / f'{folder}/mask/{i:08d}.png')
        records['xyz'].append(np.round(joints[i] + trans, 8).tolist())
        records['K'].append(np.round(sample.K, 8).tolist())
        records['mano'].append([np.round(np.concatenate([pose[i], betas[i], trans]),
                                         8).tolist()])
        records['verts'].append(np.round(vertices[i] + trans, 8).tolist())
    for key, values in records.items():
        with open(options.out_dir / f'{folder}_{key}.json', 'w') as f:
            json.dump(values, f)
