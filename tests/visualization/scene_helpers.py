"""A known person in a known camera, rendered the way the synthetic dataset is made.

The ground truth of the overlay tests: the synthetic dataset's scene
(:mod:`fastmetro_mm.synthetic`: a random perspective camera, placement, background, colour
and light) draws a posed synthetic SMPL body; the tests then describe that body with the
weak-perspective crop camera FastMETRO predicts and render it back through that camera.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np
import torch

from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.image_camera import ImageCamera
from fastmetro_mm.mesh.joint_sets import SMPL_24
from fastmetro_mm.synthetic.appearance import sample_light, sample_mesh_colour
from fastmetro_mm.synthetic.backgrounds import sample_background
from fastmetro_mm.synthetic.camera_placement import place_in_view, project, sample_intrinsics
from fastmetro_mm.synthetic.poses import (body_pose_limits, sample_betas,
                                          sample_body_orientation, sample_body_pose)
from fastmetro_mm.synthetic.scene import make_dataset_renderer

ROOT = Path(__file__).resolve().parents[2]


def posed_body(model_dir: Path, seed: int) -> Dict[str, np.ndarray]:
    """A random synthetic-SMPL body pose: vertices (V, 3) in camera orientation, faces."""
    rng = np.random.default_rng(seed)
    model = BodyModel.smpl(str(model_dir), gender='neutral', dtype=torch.float64)
    pose = np.zeros(72)
    pose[:3] = sample_body_orientation(rng)
    pose[3:] = sample_body_pose(rng, body_pose_limits(SMPL_24.names))
    betas = sample_betas(rng)
    with torch.no_grad():
        out = model(torch.from_numpy(pose)[None], torch.from_numpy(betas)[None])
    return dict(vertices=out.vertices[0].numpy(), faces=np.asarray(model.faces),
                pose=pose, betas=betas)


def render_ground_truth(vertices: np.ndarray, faces: np.ndarray, width: int, height: int,
                        seed: int, fov_range=(40.0, 70.0)) -> Dict[str, np.ndarray]:
    """Places ``vertices`` in a random perspective camera and renders it with a background.

    ``fov_range`` is the field of view across the larger image side, degrees.

    Returns:
        dict: K (3, 3), trans (3,), image (H, W, 3) uint8, mask (H, W) bool, uv (V, 2) pixels.
    """
    rng = np.random.default_rng(seed)
    K = sample_intrinsics(rng, width, height, fov_range)
    trans = place_in_view(vertices, K, width, height, rng, fill_range=(0.5, 0.8))
    background = sample_background(rng, width, height)
    colour = sample_mesh_colour(rng, background)
    lighting = sample_light(rng)
    camera = ImageCamera(float(K[0, 0]), (float(K[0, 2]), float(K[1, 2])), (width, height))
    with make_dataset_renderer(faces) as renderer:
        result = renderer.render(vertices + trans, camera, background, colours=[colour],
                                 lighting=lighting)
    return dict(K=K, trans=trans, image=result.image, mask=result.mask,
                uv=project(vertices + trans, K))


def square_box(uv: np.ndarray, padding: float = 1.2):
    """Centre (2,) and side of the padded square box around (N, 2) pixels."""
    low, high = uv.min(0), uv.max(0)
    return 0.5 * (low + high), padding * float((high - low).max())


#: FastMETRO-S on the synthetic body (the tests' model config).
SYNTHETIC_CONFIG = ROOT / 'configs' / 'fastmetro_s_r50_synthetic.py'
#: Camera the tests' random-weight model is made to predict (s, tx, ty): random weights
#: would give any sign of s.
FIXED_CAM = (0.9, 0.05, -0.1)


def synthetic_cfg_options(data_dir: Path) -> Dict[str, str]:
    """Config overrides pointing the synthetic config at a folder of synthetic model files."""
    return {
        'model.head.hierarchy_file': str(data_dir / 'synthetic_downsampling.npz'),
        'model.head.body_model.model_path': str(data_dir / 'SMPL_NEUTRAL.pkl'),
        'model.head.joint_regressor_file': str(data_dir / 'J_regressor_h36m_synthetic.npy'),
    }


def save_mesh_checkpoint(data_dir: Path, path: Path) -> Dict[str, object]:
    """Saves a random-weight FastMETRO-S (state dict) whose camera head outputs FIXED_CAM.

    Returns:
        dict(config, checkpoint, cfg_options, cam) for init_model / the tools.
    """
    from mmengine.config import Config

    from fastmetro_mm.apis import init_model
    torch.manual_seed(0)
    options = synthetic_cfg_options(data_dir)
    model = init_model(Config.fromfile(str(SYNTHETIC_CONFIG)), None, 'cpu',
                       cfg_options=options)
    camera_head = model.head.network.camera_head
    with torch.no_grad():
        camera_head.weight.zero_()
        camera_head.bias.copy_(torch.tensor(FIXED_CAM))
    torch.save(model.state_dict(), path)
    return dict(config=str(SYNTHETIC_CONFIG), checkpoint=str(path), cfg_options=options,
                cam=FIXED_CAM)
