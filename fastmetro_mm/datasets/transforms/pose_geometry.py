"""Mirroring and in-plane rotation of 3D joints and axis-angle body poses.

These are the 3D counterparts of a horizontal image flip and of the rotation angle that MMPose's
``get_warp_matrix`` applies to a crop. 3D joints are in the camera frame with its axes along the
image axes (x right, y down, z forward), as in SPIN's and METRO's datasets; poses are SMPL/MANO
axis-angle vectors whose first three values are the global orientation in that same frame.

The semantics follow SPIN (``flip_kp``, ``flip_pose``, ``rot_aa``, ``j3d_processing``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.spatial.transform import Rotation


def camera_z_rotation(angle_deg: float) -> np.ndarray:
    """The 3D rotation that matches an MMPose crop rotated by ``angle_deg``.

    ``get_warp_matrix(center, scale, rot=angle_deg, ...)`` maps an image offset ``v`` from the
    bbox centre to ``s * R(-angle) v`` in the crop, where ``R(a) = [[cos a, -sin a], [sin a,
    cos a]]`` acts on pixel (x, y). Points in a camera frame whose x, y axes are the image axes
    project the same way when rotated by ``R(-angle)`` about the camera z axis, for perspective
    and weak-perspective cameras alike (the principal point moves with the crop).

    Args:
        angle_deg: the crop rotation in degrees (``bbox_rotation``).

    Returns:
        (3, 3) float64 rotation matrix about the camera z axis.
    """
    rad = -np.deg2rad(float(angle_deg))
    cos, sin = np.cos(rad), np.sin(rad)
    return np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])


def rotate_points(points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotates 3D points about the origin of their frame.

    Args:
        points: (..., K, 3) points.
        rotation: (3, 3) rotation matrix.

    Returns:
        (..., K, 3) rotated points, same dtype as ``points``.
    """
    if points.shape[-1] != 3:
        raise ValueError(f'rotate_points: points must end in 3 coordinates, got shape '
                         f'{points.shape}')
    return (points @ rotation.T).astype(points.dtype, copy=False)


def rotate_global_orient(pose: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Pre-multiplies the global orientation (first 3 values) of axis-angle poses.

    A body posed with the result is the body posed with ``pose`` rotated by ``rotation`` about
    its root joint, so its root-relative joints are the rotated root-relative joints.

    Args:
        pose: (..., 3 * J) axis-angle poses, global orientation first.
        rotation: (3, 3) rotation matrix.

    Returns:
        (..., 3 * J) poses, same dtype; only the first three values of each change.
    """
    if pose.shape[-1] < 3 or pose.shape[-1] % 3:
        raise ValueError(f'rotate_global_orient: pose must end in 3 * J axis-angle values, '
                         f'got shape {pose.shape}')
    out = pose.copy()
    orient = pose[..., :3].reshape(-1, 3).astype(np.float64)
    rotated = Rotation.from_matrix(rotation) * Rotation.from_rotvec(orient)
    out[..., :3] = rotated.as_rotvec().reshape(pose[..., :3].shape)
    return out


def flip_points(points: np.ndarray, flip_indices: Sequence[int]) -> np.ndarray:
    """Mirrors 3D points through the camera's x = 0 plane and swaps left and right.

    Args:
        points: (..., K, 3) points.
        flip_indices: length K; ``flip_indices[k]`` is the joint that joint k becomes.

    Returns:
        (..., K, 3) mirrored points (a new array).
    """
    if points.shape[-1] != 3 or len(flip_indices) != points.shape[-2]:
        raise ValueError(f'flip_points: points of shape {points.shape} need (..., K, 3) with '
                         f'K = len(flip_indices) = {len(flip_indices)}')
    out = points.take(list(flip_indices), axis=-2)
    out[..., 0] *= -1
    return out


def flip_axis_angle_pose(pose: np.ndarray, flip_indices: Sequence[int]) -> np.ndarray:
    """Mirrors axis-angle poses through the x = 0 plane (SPIN's ``flip_pose``).

    A reflection M = diag(-1, 1, 1) turns a rotation R into M R M, whose axis-angle vector is
    (a_x, -a_y, -a_z); the joints swap sides by ``flip_indices`` (SMPL's 24-joint
    permutation for a body). With a left-right symmetric template, the mesh of the result is
    the mirror of the mesh of ``pose``.

    Args:
        pose: (..., 3 * J) axis-angle poses.
        flip_indices: length J joint permutation.

    Returns:
        (..., 3 * J) mirrored poses (a new array).
    """
    num_joints = len(flip_indices)
    if pose.shape[-1] != 3 * num_joints:
        raise ValueError(f'flip_axis_angle_pose: pose of shape {pose.shape} must end in '
                         f'3 * {num_joints} values for a {num_joints}-joint flip permutation')
    joints = pose.reshape(pose.shape[:-1] + (num_joints, 3))
    out = joints.take(list(flip_indices), axis=-2)
    out[..., 1:] *= -1
    return out.reshape(pose.shape)
