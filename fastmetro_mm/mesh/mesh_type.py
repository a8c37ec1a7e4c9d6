"""The two kinds of mesh a model recovers, ``mesh_type`` 'body' (SMPL) or 'hand' (MANO).

One vocabulary for every layer: heads, losses, metrics, datasets and tools take
``mesh_type`` and read what differs between the two from :data:`MESH_TYPES`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from .joint_sets import H36M_17, H36M_TO_J14, J14, MANO_16, MANO_21, JointSet


@dataclass(frozen=True)
class MeshType:
    """What differs between the body and the hand.

    Attributes:
        name: 'body' or 'hand'.
        model_type: body model family of :class:`BodyModel`, 'smpl' or 'mano'.
        joint_set: the K joints of the tokens, the loss and the outputs (J14 / MANO_21); its
            ``root`` is the root of every root-relative output.
        coarse_level: hierarchy level of the vertex tokens (SMPL 2: 431, MANO 1: 195).
        regressor_select: rows of the joint regressor file giving ``joint_set`` (H36M -> J14
            for the body; None: all rows).
        mesh_root_rows: rows of the full joint regressor (the file's rows; for the hand the
            21 joints) whose mean is the root every mesh is centred on, as the released
            training step centres them: the H36M 'Pelvis' row (body), the wrist (hand).
        gt_root_joint: the released step centres GT meshes on this joint of the body model's
            own skeleton instead (the hand: MANO's wrist, joint 0), or None (the body: the
            regressed root, like predicted meshes).
    """

    name: str
    model_type: str
    joint_set: JointSet
    coarse_level: int
    regressor_select: Optional[Tuple[int, ...]]
    mesh_root_rows: Tuple[int, ...]
    gt_root_joint: Optional[int]


MESH_TYPES: Dict[str, MeshType] = {
    'body': MeshType('body', 'smpl', J14, 2, H36M_TO_J14, (H36M_17.index('Pelvis'), ), None),
    'hand': MeshType('hand', 'mano', MANO_21, 1, None, (MANO_21.index('Wrist'), ),
                     MANO_16.index('Wrist')),
}


def get_mesh_type(mesh_type: str, owner: str) -> MeshType:
    """The :class:`MeshType` called ``mesh_type``; ``owner`` names the caller in the error."""
    try:
        return MESH_TYPES[mesh_type]
    except (KeyError, TypeError):
        raise ValueError(f'{owner}: mesh_type must be one of {sorted(MESH_TYPES)}, got '
                         f'{mesh_type!r}') from None
