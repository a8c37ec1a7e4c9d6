"""Smooth motion of one synthetic EMDB-style sequence: body pose, world path and camera.

Every quantity is a sum of slow sinusoids of time, so poses, paths and cameras are smooth to
any order (their jerk, which EMDB's jitter metric measures, is small and exact). The world
frame is SMPL's model frame: y up, a body at yaw 0 facing +z. Cameras are OpenCV's (x right,
y down, z forward); an extrinsic maps world to camera, ``X_c = R X_w + t``, as EMDB stores it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from .poses import sample_betas

#: Range of the joint-angle oscillation frequencies, Hz (slow, human-like motion).
POSE_FREQUENCY_RANGE = (0.15, 0.6)
#: World up (SMPL's y).
WORLD_UP = np.array([0.0, 1.0, 0.0])


@dataclass
class SequenceMotion:
    """The world-frame body and the camera of every frame of one sequence.

    Attributes:
        poses_root: (F, 3) axis-angle global orientation in the world frame.
        poses_body: (F, 69) axis-angle of SMPL joints 1..23.
        trans: (F, 3) world translation added to the body model's output, metres.
        betas: (10,) shape, constant over the sequence.
        view_directions: (F, 3) unit vectors from the aimed-at point to the camera.
        aim_offsets: (F, 3) where the camera aims, relative to the pelvis joint, metres.
    """

    poses_root: np.ndarray
    poses_body: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    view_directions: np.ndarray
    aim_offsets: np.ndarray


def oscillate(rng: np.random.Generator, times: np.ndarray, low: np.ndarray, high: np.ndarray,
              frequency_range: Tuple[float, float] = POSE_FREQUENCY_RANGE) -> np.ndarray:
    """One sinusoid per component that stays inside ``[low, high]``.

    Args:
        rng: Random generator.
        times: (F,) seconds.
        low, high: (D,) bounds of each component.
        frequency_range: range of the frequencies, Hz.

    Returns:
        (F, D) values ``c + a sin(2 pi f t + phase)`` with ``[c - a, c + a]`` inside the bounds.
    """
    centre = rng.uniform(low, high)
    amplitude = rng.uniform(0.3, 1.0, size=low.shape) * np.minimum(centre - low, high - centre)
    frequency = rng.uniform(*frequency_range, size=low.shape)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=low.shape)
    return centre + amplitude * np.sin(2.0 * np.pi * frequency * times[:, None] + phase)


def _slow_wave(rng: np.random.Generator, times: np.ndarray, amplitude: float,
               frequency_range: Tuple[float, float] = (0.05, 0.2)) -> np.ndarray:
    """(F,) ``amplitude * sin(2 pi f t + phase)`` with a random slow frequency and phase."""
    frequency = rng.uniform(*frequency_range)
    return amplitude * np.sin(2.0 * np.pi * frequency * times + rng.uniform(0.0, 2.0 * np.pi))


def sample_sequence_motion(rng: np.random.Generator, num_frames: int, fps: float,
                           pose_bounds: Tuple[np.ndarray, np.ndarray],
                           max_yaw: float = np.pi) -> SequenceMotion:
    """A person moving on a slow curved path, watched by a camera that circles and bobs.

    The camera looks at a point near the pelvis from ``view_directions``; its distance is set
    by the caller once the posed meshes, image size and intrinsics are known
    (:func:`camera_distance`).

    Args:
        rng: Random generator.
        num_frames: F.
        fps: frames per second.
        pose_bounds: (69,) lower and upper bounds of the body joint angles (the joint limits
            of :func:`.poses.body_pose_limits`, or a box around a pose prototype).
        max_yaw: largest turn of the body away from facing the camera, radians.

    Returns:
        The motion.
    """
    times = np.arange(num_frames) / fps
    poses_body = oscillate(rng, times, *pose_bounds)

    # The camera circles the person slowly; the body turns relative to it within +-max_yaw.
    azimuth = rng.uniform(-np.pi, np.pi) + _slow_wave(rng, times, 0.6)
    relative_yaw = (rng.uniform(-0.5, 0.5) * max_yaw
                    + _slow_wave(rng, times, 0.5 * max_yaw, (0.1, 0.3)))
    yaw = azimuth + relative_yaw
    lean = np.stack([_slow_wave(rng, times, 0.08, (0.1, 0.4)), np.zeros(num_frames),
                     _slow_wave(rng, times, 0.08, (0.1, 0.4))], axis=1)
    poses_root = (Rotation.from_rotvec(yaw[:, None] * WORLD_UP)
                  * Rotation.from_rotvec(lean)).as_rotvec()

    # A slow curved path on the ground plane with a little vertical bob.
    start = rng.uniform(-2.0, 2.0, size=3) * np.array([1.0, 0.0, 1.0])
    trans = start + np.stack([_slow_wave(rng, times, 1.0), _slow_wave(rng, times, 0.03,
                                                                     (0.5, 1.0)),
                              _slow_wave(rng, times, 1.0)], axis=1)

    elevation = rng.uniform(-0.1, 0.35) + _slow_wave(rng, times, 0.08)
    direction = np.stack([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                          np.cos(elevation) * np.cos(azimuth)], axis=1)
    # Handheld: the aim wanders a few centimetres around the pelvis.
    aim_offsets = np.stack([_slow_wave(rng, times, 0.05, (0.2, 0.5)) for _ in range(3)],
                           axis=1)
    return SequenceMotion(poses_root=poses_root, poses_body=poses_body, trans=trans,
                          betas=sample_betas(rng), view_directions=direction,
                          aim_offsets=aim_offsets)


def look_at_extrinsics(centres: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """World-to-camera extrinsics of cameras at ``centres`` looking at ``targets``, upright.

    Args:
        centres: (F, 3) camera positions in the world.
        targets: (F, 3) points they look at.

    Returns:
        (F, 4, 4) extrinsics ``[R t; 0 1]`` with ``X_c = R X_w + t`` (OpenCV camera axes).
    """
    forward = targets - centres
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    right = np.cross(forward, WORLD_UP)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward], axis=1)  # rows: camera axes in the world
    extrinsics = np.tile(np.eye(4), (len(centres), 1, 1))
    extrinsics[:, :3, :3] = rotation
    extrinsics[:, :3, 3] = -np.einsum('fij,fj->fi', rotation, centres)
    return extrinsics


def camera_distance(radius: float, focal: float, min_side: int, fill: float) -> float:
    """Distance at which a sphere of ``radius`` metres around the aim spans at most ``fill`` of
    the smaller image side (its near half, seen larger, included).

    Args:
        radius: largest distance of a vertex from the aimed-at point over the sequence, m.
        focal: focal length, pixels.
        min_side: the smaller image side, pixels.
        fill: fraction of ``min_side`` the sphere may span, in (0, 1).

    Returns:
        Metres.
    """
    return radius + focal * radius / (0.5 * fill * min_side)
