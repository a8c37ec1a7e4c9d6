"""Posed meshes of many people through a body model, in batches."""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch

from fastmetro_mm.mesh.body_model import BodyModel

#: Body model forward passes per batch.
CHUNK = 64


def pose_meshes(model: BodyModel, pose: np.ndarray,
                betas: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Vertices and skeleton joints of N people.

    Args:
        model: the body (or hand) model, float64.
        pose: (N, 72) SMPL or (N, 48) MANO axis-angle pose.
        betas: (N, 10) shape coefficients.

    Returns:
        vertices (N, V, 3) and joints (N, J, 3), float64 numpy.
    """
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
