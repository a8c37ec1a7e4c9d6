"""The 21 hand joints of a posed MANO model as the released hand training step builds its GT.

The released step does not regress its GT 3D joints from the GT mesh: it takes the joints the
MANO layer (manopth's ``ManoLayer``) returns with the mesh, i.e. MANO's 16 posed skeleton
joints (the kinematic chain's joint positions) followed by five fingertip vertices, reordered
into the FreiHAND order of :data:`~.joint_sets.MANO_21`. Two details differ from the regressor
the same code applies to predicted meshes (:meth:`JointRegressor.mano_21`): the skeleton joints
are not regressed from the posed mesh, and the right hand's middle fingertip is vertex 444
there (445 for the left hand), not 445.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

from .joint_sets import MANO_21_REORDER

#: Fingertip vertices (thumb, index, middle, ring, pinky) the MANO layer appends to the right
#: hand's 16 skeleton joints.
MANO_LAYER_FINGERTIPS_RIGHT: Tuple[int, ...] = (745, 317, 444, 556, 673)

#: The same for the left hand.
MANO_LAYER_FINGERTIPS_LEFT: Tuple[int, ...] = (745, 317, 445, 556, 673)


def mano_layer_joints(skeleton: Tensor, vertices: Tensor, is_rhand: bool = True) -> Tensor:
    """MANO's posed skeleton plus its fingertip vertices, in the FreiHAND 21-joint order.

    Args:
        skeleton: (B, 16, 3) posed skeleton joints (``BodyModelOutput.joints`` of MANO).
        vertices: (B, 778, 3) the posed mesh of the same parameters.
        is_rhand: which hand's fingertip vertices to take.

    Returns:
        (B, 21, 3) joints in the units of the inputs, wrist first, not centred.
    """
    if skeleton.ndim != 3 or tuple(skeleton.shape[1:]) != (16, 3):
        raise ValueError(f'mano_layer_joints: skeleton must be (B, 16, 3), got '
                         f'{tuple(skeleton.shape)}')
    tips = MANO_LAYER_FINGERTIPS_RIGHT if is_rhand else MANO_LAYER_FINGERTIPS_LEFT
    if vertices.ndim != 3 or vertices.shape[0] != skeleton.shape[0] or \
            vertices.shape[1] <= max(tips) or vertices.shape[2] != 3:
        raise ValueError(f'mano_layer_joints: vertices must be (B, 778, 3) for B = '
                         f'{skeleton.shape[0]}, got {tuple(vertices.shape)}')
    index = torch.as_tensor(tips, device=vertices.device)
    joints = torch.cat([skeleton, vertices[:, index]], dim=1)  # (B, 21, 3) MANO order
    return joints[:, list(MANO_21_REORDER)]
