"""EMDB's evaluation protocol (Kaufmann et al., ICCV 2023) on arrays: alignments, errors, jitter.

The formulas of EMDB's own evaluation (eth-ait/emdb, ``evaluation_metrics.py`` and
``evaluation_engine.py``), batched over frames:

- Positions: 24 SMPL joints and 6890 vertices in metres, camera frame, no translation. Both
  skeletons and meshes are moved to their own hip midpoint (joints 1 and 2); MPJPE / MVE are
  mean distances (mm). PA-MPJPE fits a similarity transform on the 24 hip-centred joints;
  PA-MVE applies that same transform to the vertices (no fit of its own).
- Angles: the global (accumulated) rotations of the 9 joints 0, 1, 2, 4, 5, 16, 17, 18, 19;
  per joint the angle of ``R_pred R_gt^T`` in degrees, a frame's value the mean over the 9.
  MPJAE-PA first turns the predicted rotations by the frame's Procrustes rotation.
- Jitter: per sequence, the third difference of the predicted joints over consecutive
  evaluated frames (removed frames are skipped) times ``fps^3``, with joints 0, 7, 8, 10, 11,
  20, 21, 22, 23 zeroed but still counted in the mean over 24; reported / 10 (10 m/s^3).
- Averaging: per-frame values concatenated over sequences, then mean and (population) standard
  deviation; jitter: mean and standard deviation of the per-sequence values.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from ...mesh.procrustes import similarity_procrustes

#: The left and right hip of the 24 SMPL joints; their midpoint is EMDB's root.
HIP_JOINTS = (1, 2)
#: SMPL joints whose global rotations enter MPJAE (pelvis, hips, knees, shoulders, elbows).
ORIENTATION_JOINTS = (0, 1, 2, 4, 5, 16, 17, 18, 19)
#: SMPL joints zeroed before the jerk is taken (root, feet, toes, wrists, hands).
JITTER_IGNORED_JOINTS = (0, 7, 8, 10, 11, 20, 21, 22, 23)
#: Per-frame errors, in the order they are reported (mm, mm, mm, mm, degrees, degrees).
FRAME_ERROR_NAMES = ('MPJPE', 'PA-MPJPE', 'MVE', 'PA-MVE', 'MPJAE', 'MPJAE-PA')


def hip_centred(points: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(N, P, 3) ``points`` minus the hip midpoint of their (N, 24, 3) SMPL ``joints``."""
    return points - joints[:, list(HIP_JOINTS)].mean(axis=1, keepdims=True)


def global_rotations(local: np.ndarray, parents: Sequence[int]) -> np.ndarray:
    """Accumulate per-joint rotations along the kinematic tree.

    Args:
        local: (N, J, 3, 3) rotations relative to each joint's parent (joint 0: the global
            orientation).
        parents: (J,) the parent of each joint, -1 (or any negative) for the root; every parent
            comes before its children, as in SMPL's kintree.

    Returns:
        (N, J, 3, 3) rotations relative to the frame the root orientation is given in.
    """
    result = np.empty_like(local)
    for joint, parent in enumerate(parents):
        if joint == 0 or parent < 0:
            result[:, joint] = local[:, joint]
        else:
            if parent >= joint:
                raise ValueError(f'global_rotations: joint {joint} has parent {parent}; '
                                 'parents must come before their children')
            result[:, joint] = result[:, parent] @ local[:, joint]
    return result


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle vectors -> (..., 3, 3) rotation matrices."""
    flat = Rotation.from_rotvec(axis_angle.reshape(-1, 3)).as_matrix()
    return flat.reshape(axis_angle.shape[:-1] + (3, 3))


def rotation_angles(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Angle of ``pred gt^T`` in degrees (the geodesic distance), for (..., 3, 3) rotations."""
    relative = pred @ np.swapaxes(gt, -1, -2)
    angles = Rotation.from_matrix(relative.reshape(-1, 3, 3)).magnitude()
    return np.degrees(angles).reshape(relative.shape[:-2])


def frame_errors(pred_joints: np.ndarray, gt_joints: np.ndarray, pred_vertices: np.ndarray,
                 gt_vertices: np.ndarray, pred_rotations: Optional[np.ndarray] = None,
                 gt_rotations: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """EMDB's per-frame errors of N frames.

    Args:
        pred_joints: (N, 24, 3) predicted SMPL joints, metres.
        gt_joints: (N, 24, 3) GT SMPL joints in the same camera frame.
        pred_vertices: (N, V, 3) predicted vertices.
        gt_vertices: (N, V, 3) GT vertices.
        pred_rotations: optional (N, 24, 3, 3) predicted global joint rotations.
        gt_rotations: (N, 24, 3, 3) GT global joint rotations, needed with ``pred_rotations``.

    Returns:
        ``{name: (N,) float64}`` for MPJPE, PA-MPJPE, MVE, PA-MVE (mm) and, with rotations,
        MPJAE and MPJAE-PA (degrees, mean over the 9 orientation joints).
    """
    pred_j = hip_centred(pred_joints, pred_joints)
    gt_j = hip_centred(gt_joints, gt_joints)
    pred_v = hip_centred(pred_vertices, pred_joints)
    gt_v = hip_centred(gt_vertices, gt_joints)
    aligned_j, transform = similarity_procrustes(torch.from_numpy(pred_j),
                                                 torch.from_numpy(gt_j), return_transform=True)
    aligned_j = aligned_j.double().numpy()
    aligned_v = transform.apply(torch.from_numpy(pred_v).double()).numpy()

    def mean_mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return 1000.0 * np.linalg.norm(a - b, axis=-1).mean(axis=-1)

    errors = {
        'MPJPE': mean_mm(pred_j, gt_j),
        'PA-MPJPE': mean_mm(aligned_j, gt_j),
        'MVE': mean_mm(pred_v, gt_v),
        'PA-MVE': mean_mm(aligned_v, gt_v),
    }
    if pred_rotations is not None:
        if gt_rotations is None:
            raise ValueError('frame_errors: pred_rotations need gt_rotations')
        joints = list(ORIENTATION_JOINTS)
        pred_r, gt_r = pred_rotations[:, joints], gt_rotations[:, joints]  # (N, 9, 3, 3)
        procrustes_r = transform.rotation.numpy()[:, None]  # (N, 1, 3, 3)
        errors['MPJAE'] = rotation_angles(pred_r, gt_r).mean(axis=-1)
        errors['MPJAE-PA'] = rotation_angles(procrustes_r @ pred_r, gt_r).mean(axis=-1)
    return errors


def sequence_jitter(joints: np.ndarray, fps: float) -> Tuple[float, float]:
    """EMDB's jitter of one sequence's joints, in 10 m/s^3.

    Args:
        joints: (T, 24, 3) joints in metres over the sequence's evaluated frames in frame order
            (T >= 4); the third difference spans any frames removed between them.
        fps: frames per second of the video.

    Returns:
        ``(jitter, spread)``: the mean jerk over the (T - 3) x 24 values (ignored joints zeroed
        and counted) / 10, and EMDB's spread: the per-joint standard deviation over time,
        averaged over the 24 joints, / 10.
    """
    if joints.ndim != 3 or joints.shape[0] < 4:
        raise ValueError(f'sequence_jitter: needs (T, J, 3) joints with T >= 4 frames for a '
                         f'third difference, got shape {joints.shape}')
    points = joints.astype(np.float64, copy=True)
    points[:, list(JITTER_IGNORED_JOINTS)] = 0.0
    third = points[3:] - 3.0 * points[2:-1] + 3.0 * points[1:-2] - points[:-3]
    jerk = np.linalg.norm(third * fps**3, axis=-1)  # (T - 3, 24) m/s^3
    return float(jerk.mean() / 10.0), float(jerk.std(axis=0).mean() / 10.0)


def mean_and_std(values: np.ndarray) -> Tuple[float, float]:
    """Mean and population standard deviation (numpy's default, as EMDB reports them)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std())


def nearest_rotations(matrices: np.ndarray) -> np.ndarray:
    """Project (..., 3, 3) matrices onto the closest rotations (SVD, det +1).

    Used after smoothing rotation matrices element by element, which leaves SO(3).
    """
    u, _, vh = np.linalg.svd(matrices)
    det = np.linalg.det(u @ vh)
    u[..., :, -1] *= np.where(det < 0, -1.0, 1.0)[..., None]
    return u @ vh
