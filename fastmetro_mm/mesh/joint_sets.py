"""Named joint sets used by GraphCMR, METRO and FastMETRO, and the index maps between them.

Every set is a frozen :class:`JointSet`, so code says ``H36M_17.names``, ``J14.flip_pairs`` or
``J14.root`` instead of repeating index lists. Left/right names carry an ``L_`` / ``R_``
prefix, which the tests use to check every flip pair.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, TypeVar

import numpy as np
import torch

#: A torch tensor or a numpy array; root helpers return the type they are given.
Points = TypeVar('Points', torch.Tensor, np.ndarray)


def root_point(joints: Points, root: Sequence[int]) -> Points:
    """The root of joint sets: the mean of the ``root`` rows.

    Args:
        joints: (..., K, 3) joints (torch or numpy).
        root: indices of the joints whose mean is the root, e.g. ``(2, 3)`` for J14's mid-hip.

    Returns:
        (..., 1, 3) root points, same type and dtype as ``joints``.
    """
    rows = joints[..., list(root), :]
    if isinstance(rows, torch.Tensor):
        return rows.mean(dim=-2, keepdim=True)
    return rows.mean(axis=-2, keepdims=True)


def centre_on_root(points: Points, joints: Points, root: Sequence[int]) -> Points:
    """``points`` (..., P, 3) moved so that the root of ``joints`` (..., K, 3) is the origin."""
    return points - root_point(joints, root)


@dataclass(frozen=True)
class JointSet:
    """An ordered set of joints.

    Attributes:
        name: Short identifier, e.g. ``'h36m_17'``.
        names: Joint names in order, length K.
        parents: Parent index of each joint (-1 for the root), or None when the set is not a
            tree (e.g. the 14 evaluation joints have no pelvis).
        flip_pairs: Index pairs (a left and a right joint, lower index first) swapped by a
            horizontal flip; empty for a hand, whose flip is the other hand rather than a
            permutation of its own joints.
        root: Indices whose mean is the root joint used for root-relative coordinates
            (``(0,)`` for a pelvis or wrist, ``(2, 3)`` for the mid-hip of the 14 joints).
    """

    name: str
    names: Tuple[str, ...]
    parents: Optional[Tuple[int, ...]] = None
    flip_pairs: Tuple[Tuple[int, int], ...] = ()
    root: Tuple[int, ...] = (0, )

    def __post_init__(self) -> None:
        num = len(self.names)
        if len(set(self.names)) != num:
            raise ValueError(f'JointSet {self.name!r}: duplicate joint names in {self.names}')
        if self.parents is not None and len(self.parents) != num:
            raise ValueError(f'JointSet {self.name!r}: {len(self.parents)} parents for '
                             f'{num} joints')
        used = [i for pair in self.flip_pairs for i in pair]
        if any(not 0 <= i < num for i in used + list(self.root)):
            raise ValueError(f'JointSet {self.name!r}: flip_pairs {self.flip_pairs} or root '
                             f'{self.root} index outside [0, {num - 1}]')
        if len(set(used)) != len(used):
            raise ValueError(f'JointSet {self.name!r}: a joint appears in two flip pairs')

    def __len__(self) -> int:
        return len(self.names)

    def index(self, joint_name: str) -> int:
        """Position of ``joint_name`` in this set (ValueError naming the set if absent)."""
        try:
            return self.names.index(joint_name)
        except ValueError:
            raise ValueError(f'JointSet {self.name!r} has no joint {joint_name!r}; '
                             f'joints: {self.names}') from None

    def root_of(self, joints: Points) -> Points:
        """(..., K, 3) joints of this set -> (..., 1, 3) root (see :func:`root_point`)."""
        return root_point(joints, self.root)

    def centre(self, points: Points, joints: Points) -> Points:
        """``points`` (..., P, 3) relative to the root of this set's ``joints`` (..., K, 3)."""
        return centre_on_root(points, joints, self.root)

    @property
    def flip_permutation(self) -> Tuple[int, ...]:
        """Index permutation of length K that swaps every flip pair (an involution)."""
        perm = list(range(len(self.names)))
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return tuple(perm)


# ---------------------------------------------------------------------------------------------
# Human3.6M: rows of J_regressor_h36m_correct.npy (17 x 6890).
H36M_17 = JointSet(
    name='h36m_17',
    names=('Pelvis', 'R_Hip', 'R_Knee', 'R_Ankle', 'L_Hip', 'L_Knee', 'L_Ankle', 'Torso',
           'Neck', 'Nose', 'Head', 'L_Shoulder', 'L_Elbow', 'L_Wrist', 'R_Shoulder',
           'R_Elbow', 'R_Wrist'),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    flip_pairs=((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)),
    root=(0, ),
)

# The 14 joints on which MPJPE / PA-MPJPE are reported (LSP order). Root: mid-hip.
J14 = JointSet(
    name='j14',
    names=('R_Ankle', 'R_Knee', 'R_Hip', 'L_Hip', 'L_Knee', 'L_Ankle', 'R_Wrist', 'R_Elbow',
           'R_Shoulder', 'L_Shoulder', 'L_Elbow', 'L_Wrist', 'Neck', 'Head'),
    parents=None,
    flip_pairs=((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)),
    root=(2, 3),
)

#: H36M_17 rows giving the J14 joints, in J14 order.
H36M_TO_J14: Tuple[int, ...] = (3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13, 8, 10)

# The 24-joint dataset superset of SPIN / GraphCMR / METRO.
J24 = JointSet(
    name='j24',
    names=('R_Ankle', 'R_Knee', 'R_Hip', 'L_Hip', 'L_Knee', 'L_Ankle', 'R_Wrist', 'R_Elbow',
           'R_Shoulder', 'L_Shoulder', 'L_Elbow', 'L_Wrist', 'Neck', 'Top_of_Head', 'Pelvis',
           'Thorax', 'Spine', 'Jaw', 'Head', 'Nose', 'L_Eye', 'R_Eye', 'L_Ear', 'R_Ear'),
    parents=None,
    flip_pairs=((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (20, 21), (22, 23)),
    root=(2, 3),
)

#: J24 indices giving the J14 joints, in J14 order.
J24_TO_J14: Tuple[int, ...] = tuple(range(12)) + (12, 18)

# SMPL's own 24 skeleton joints (rows of the model's J_regressor).
SMPL_24 = JointSet(
    name='smpl_24',
    names=('Pelvis', 'L_Hip', 'R_Hip', 'Spine1', 'L_Knee', 'R_Knee', 'Spine2', 'L_Ankle',
           'R_Ankle', 'Spine3', 'L_Foot', 'R_Foot', 'Neck', 'L_Collar', 'R_Collar', 'Head',
           'L_Shoulder', 'R_Shoulder', 'L_Elbow', 'R_Elbow', 'L_Wrist', 'R_Wrist', 'L_Hand',
           'R_Hand'),
    parents=(-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20,
             21),
    flip_pairs=((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21),
                (22, 23)),
    root=(0, ),
)

# MANO's own 16 joints (rows of the model's J_regressor). Fingers in MANO's order:
# index, middle, pinky, ring, thumb.
MANO_16 = JointSet(
    name='mano_16',
    names=('Wrist', 'Index_1', 'Index_2', 'Index_3', 'Middle_1', 'Middle_2', 'Middle_3',
           'Pinky_1', 'Pinky_2', 'Pinky_3', 'Ring_1', 'Ring_2', 'Ring_3', 'Thumb_1',
           'Thumb_2', 'Thumb_3'),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14),
    flip_pairs=(),
    root=(0, ),
)

#: MANO vertex ids of the fingertips, in the order they are appended after the 16 joints:
#: thumb, index, middle, ring, pinky.
MANO_FINGERTIP_VERTEX_IDS: Tuple[int, ...] = (745, 317, 445, 556, 673)

#: Reorders [16 MANO joints, 5 fingertips] (21 rows) into the METRO/FastMETRO 21-joint order.
MANO_21_REORDER: Tuple[int, ...] = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12,
                                    19, 7, 8, 9, 20)

# The 21 hand joints of METRO / FastMETRO (FreiHAND order): wrist, then each finger
# base-to-tip, thumb first.
MANO_21 = JointSet(
    name='mano_21',
    names=('Wrist', 'Thumb_1', 'Thumb_2', 'Thumb_3', 'Thumb_4', 'Index_1', 'Index_2',
           'Index_3', 'Index_4', 'Middle_1', 'Middle_2', 'Middle_3', 'Middle_4', 'Ring_1',
           'Ring_2', 'Ring_3', 'Ring_4', 'Pinky_1', 'Pinky_2', 'Pinky_3', 'Pinky_4'),
    parents=(-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19),
    flip_pairs=(),
    root=(0, ),
)
