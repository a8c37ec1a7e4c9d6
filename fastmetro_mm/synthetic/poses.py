"""Random poses and shapes of the stand-in body and hand, within plausible joint ranges.

Global orientations are given in the camera frame, OpenCV's (x right, y down, z forward), as
SPIN and FreiHAND store them. SMPL's model frame is y up, the body facing +z and its left on +x.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.joint_sets import MANO_16, MANO_FINGERTIP_VERTEX_IDS

# Per-joint axis-angle component ranges (radians) for SMPL's 23 body joints in SMPL's joint
# frames (x: body's left, y: up, z: forward at rest). Knee flexion is +x (shin swings back),
# hip flexion -x (thigh swings forward), left-elbow flexion -y and right-elbow +y (forearm
# swings forward from the T-pose), lowering the left arm -z and the right arm +z.
_BODY_LIMITS = {
    'L_Hip': ((-1.0, 0.3), (-0.35, 0.35), (-0.1, 0.55)),
    'R_Hip': ((-1.0, 0.3), (-0.35, 0.35), (-0.55, 0.1)),
    'Spine1': ((-0.1, 0.35), (-0.2, 0.2), (-0.15, 0.15)),
    'L_Knee': ((0.0, 1.7), (-0.05, 0.05), (-0.05, 0.05)),
    'R_Knee': ((0.0, 1.7), (-0.05, 0.05), (-0.05, 0.05)),
    'Spine2': ((-0.1, 0.3), (-0.2, 0.2), (-0.1, 0.1)),
    'L_Ankle': ((-0.35, 0.4), (-0.2, 0.2), (-0.15, 0.15)),
    'R_Ankle': ((-0.35, 0.4), (-0.2, 0.2), (-0.15, 0.15)),
    'Spine3': ((-0.1, 0.2), (-0.15, 0.15), (-0.1, 0.1)),
    'L_Foot': ((-0.2, 0.2), (-0.05, 0.05), (-0.05, 0.05)),
    'R_Foot': ((-0.2, 0.2), (-0.05, 0.05), (-0.05, 0.05)),
    'Neck': ((-0.25, 0.4), (-0.4, 0.4), (-0.2, 0.2)),
    'L_Collar': ((-0.1, 0.1), (-0.15, 0.15), (-0.2, 0.1)),
    'R_Collar': ((-0.1, 0.1), (-0.15, 0.15), (-0.1, 0.2)),
    'Head': ((-0.3, 0.4), (-0.5, 0.5), (-0.2, 0.2)),
    'L_Shoulder': ((-0.5, 0.5), (-1.0, 0.5), (-1.35, 0.6)),
    'R_Shoulder': ((-0.5, 0.5), (-0.5, 1.0), (-0.6, 1.35)),
    'L_Elbow': ((-0.1, 0.1), (-2.2, 0.0), (-0.1, 0.1)),
    'R_Elbow': ((-0.1, 0.1), (0.0, 2.2), (-0.1, 0.1)),
    'L_Wrist': ((-0.5, 0.5), (-0.3, 0.3), (-0.6, 0.6)),
    'R_Wrist': ((-0.5, 0.5), (-0.3, 0.3), (-0.6, 0.6)),
    'L_Hand': ((-0.2, 0.2), (-0.1, 0.1), (-0.2, 0.2)),
    'R_Hand': ((-0.2, 0.2), (-0.1, 0.1), (-0.2, 0.2)),
}


def body_pose_limits(joint_names: Tuple[str, ...]) -> np.ndarray:
    """Axis-angle ranges of SMPL's body joints.

    Args:
        joint_names: SMPL's 24 joint names (``SMPL_24.names``), root first.

    Returns:
        (23, 3, 2) lower and upper bound per joint 1..23 and axis component.
    """
    missing = [n for n in joint_names[1:] if n not in _BODY_LIMITS]
    if missing:
        raise KeyError(f'body_pose_limits: no pose limits for SMPL joints {missing}')
    return np.array([_BODY_LIMITS[n] for n in joint_names[1:]], dtype=np.float64)


def sample_body_pose(rng: np.random.Generator, limits: np.ndarray) -> np.ndarray:
    """Body joint rotations drawn uniformly inside ``limits``.

    Args:
        rng: Random generator.
        limits: (23, 3, 2) from :func:`body_pose_limits`.

    Returns:
        (69,) axis-angle of joints 1..23.
    """
    low, high = limits[..., 0], limits[..., 1]
    return (low + (high - low) * rng.random(low.shape)).reshape(-1)


def sample_pose_prototypes(rng: np.random.Generator, limits: np.ndarray,
                           count: int) -> np.ndarray:
    """``count`` body poses drawn like :func:`sample_body_pose`, to sample near.

    Returns:
        (count, 69) axis-angle of joints 1..23.
    """
    return np.stack([sample_body_pose(rng, limits) for _ in range(count)])


def sample_pose_near_prototype(rng: np.random.Generator, prototypes: np.ndarray,
                               limits: np.ndarray, jitter: float) -> np.ndarray:
    """One of ``prototypes``, chosen uniformly, with every joint angle moved by up to
    ``jitter`` times its range and clipped to ``limits``.

    A few distinct poses seen from many viewpoints, instead of independent joint angles: a
    network trained from random weights for minutes on a CPU can learn to tell such poses
    apart, where it does not learn independent angles in that time (README, quickstart).

    Args:
        rng: Random generator.
        prototypes: (P, 69) from :func:`sample_pose_prototypes`.
        limits: (23, 3, 2) from :func:`body_pose_limits`.
        jitter: Largest change of each angle as a fraction of its range.

    Returns:
        (69,) axis-angle of joints 1..23.
    """
    low, high = limits[..., 0].reshape(-1), limits[..., 1].reshape(-1)
    pose = prototypes[rng.integers(len(prototypes))]
    pose = pose + jitter * (high - low) * rng.uniform(-1.0, 1.0, size=pose.shape)
    return np.clip(pose, low, high)


def sample_body_orientation(rng: np.random.Generator, max_yaw: float = np.pi) -> np.ndarray:
    """An upright body turned by up to ``max_yaw`` from facing the camera, seen from a camera
    a little above or below.

    Args:
        rng: Random generator.
        max_yaw: largest turn about the body's vertical axis, radians; pi: any direction.

    Returns:
        (3,) axis-angle of the global orientation in the camera frame.
    """
    yaw = rng.uniform(-max_yaw, max_yaw)
    pitch = rng.uniform(-0.3, 0.3)  # camera elevation
    roll = rng.uniform(-0.12, 0.12)
    # Yaw about the body's vertical first, then tilt about the camera's horizontal axis
    # (elevation, seen as foreshortening) and roll in the image plane; last, the model frame
    # (y up, facing +z) goes to the camera frame (y down, z away): a half turn about x, so at
    # yaw 0 the body faces the camera.
    body = Rotation.from_euler('x', np.pi) * Rotation.from_euler('yzx', [yaw, roll, pitch])
    return body.as_rotvec()


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """(3,) axis-angle of a rotation uniform on SO(3) (from a unit quaternion)."""
    quat = rng.normal(size=4)
    return Rotation.from_quat(quat / np.linalg.norm(quat)).as_rotvec()


def sample_betas(rng: np.random.Generator, num: int = 10, clip: float = 2.0) -> np.ndarray:
    """(num,) shape coefficients from N(0, 1), clipped to [-clip, clip]."""
    return np.clip(rng.normal(size=num), -clip, clip)


def finger_axes(model: BodyModel) -> Tuple[np.ndarray, np.ndarray]:
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


#: Range of a finger's curl (radians at its middle joint, before the per-joint factors):
#: the thumb bends less.
_CURL_RANGE = {True: (-0.15, 0.8), False: (-0.15, 1.3)}
#: Largest spread of a finger at its knuckle and largest extra bend of each joint, radians.
_SPREAD, _BEND = 0.2, 0.1


def _is_thumb(finger: int) -> bool:
    return MANO_16.names[3 * finger + 1].startswith('Thumb')


def sample_hand_articulation(rng: np.random.Generator) -> np.ndarray:
    """(5, 5) per finger (in MANO_16 order): curl, extra bend of its three joints, spread.

    The draws are those :func:`sample_hand_pose` has always made, in the same order.
    """
    articulation = np.zeros((5, 5))
    for finger in range(5):
        articulation[finger, 0] = rng.uniform(*_CURL_RANGE[_is_thumb(finger)])
        articulation[finger, 1:4] = rng.uniform(-_BEND, _BEND, size=3)
        articulation[finger, 4] = rng.uniform(-_SPREAD, _SPREAD)
    return articulation


def hand_pose_from_articulation(articulation: np.ndarray, axes: np.ndarray,
                                palm: np.ndarray) -> np.ndarray:
    """(45,) absolute axis-angle of the 15 finger joints from a (5, 5) articulation of
    :func:`sample_hand_articulation`: each joint bent about its flexion axis, the knuckle
    also turned about the palm normal (spread)."""
    pose = np.zeros((15, 3))
    for finger in range(5):  # MANO_16 rows 1..15: three joints per finger
        first = 3 * finger
        curl, bends, spread = articulation[finger, 0], articulation[finger, 1:4], \
            articulation[finger, 4]
        angles = curl * np.array([0.8, 1.1, 0.9]) + bends
        pose[first:first + 3] = angles[:, None] * axes[first:first + 3]
        pose[first] += spread * palm
    return pose.reshape(45)


def sample_hand_pose(rng: np.random.Generator, axes: np.ndarray, palm: np.ndarray) -> np.ndarray:
    """(45,) absolute axis-angle of the 15 finger joints: a curl per finger plus spread.

    Args:
        rng: Random generator.
        axes: (15, 3) flexion axes from :func:`finger_axes`.
        palm: (3,) palm normal.
    """
    return hand_pose_from_articulation(sample_hand_articulation(rng), axes, palm)


def sample_hand_near_prototype(rng: np.random.Generator, prototypes: np.ndarray,
                               jitter: float) -> np.ndarray:
    """One of ``prototypes`` ((P, 5, 5) articulations), chosen uniformly, with every curl,
    bend and spread moved by up to ``jitter`` times its range and clipped to it: a few
    distinct hand shapes, as :func:`sample_pose_near_prototype` gives the body.

    Returns:
        (5, 5) articulation for :func:`hand_pose_from_articulation`.
    """
    low, high = np.zeros((5, 5)), np.zeros((5, 5))
    for finger in range(5):
        low[finger] = [_CURL_RANGE[_is_thumb(finger)][0], -_BEND, -_BEND, -_BEND, -_SPREAD]
        high[finger] = [_CURL_RANGE[_is_thumb(finger)][1], _BEND, _BEND, _BEND, _SPREAD]
    articulation = prototypes[rng.integers(len(prototypes))]
    articulation = articulation + jitter * (high - low) * rng.uniform(-1.0, 1.0, size=(5, 5))
    return np.clip(articulation, low, high)


def sample_hand_orientation(rng: np.random.Generator, reference: Rotation,
                            max_angle: float) -> np.ndarray:
    """A hand turned by up to ``max_angle`` about a random axis from ``reference``.

    Args:
        rng: Random generator.
        reference: the orientation at angle 0 (e.g. :func:`palm_to_camera`).
        max_angle: radians; pi or more: uniform on SO(3) (:func:`random_rotation`).

    Returns:
        (3,) axis-angle of the global orientation in the camera frame.
    """
    if max_angle >= np.pi:
        return random_rotation(rng)
    axis = rng.normal(size=3)
    turn = Rotation.from_rotvec(axis / np.linalg.norm(axis) * rng.uniform(0.0, max_angle))
    return (turn * reference).as_rotvec()


def palm_to_camera(model: BodyModel) -> Rotation:
    """The rotation that shows the hand at rest palm to the camera, fingers up (camera frame:
    x right, y down, z forward)."""
    rest = model.layer.v_template.double()
    joints = (model.j_regressor.double() @ rest).numpy()  # (16, 3)
    _, palm = finger_axes(model)
    fingers = joints[MANO_16.index('Middle_1')] - joints[0]
    rotation, _ = Rotation.align_vectors([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0]],
                                         [fingers, palm], weights=[10.0, 1.0])
    return rotation
