"""A synthetic body in the SMPL model format (6890 vertices, 13776 faces, 24 joints).

The figure stands in SMPL's rest pose and frame: a T-pose with palms down, y up, facing +z,
its left side on +x, pelvis joint near (0, -0.22, 0), about 1.72 m tall. Torso, head, arms,
mitten hands and feet are smooth unions of ellipsoids and tapered capsules placed along
SMPL's 24-joint tree; the surface is meshed, decimated to SMPL's counts and rigged (see
``figure.py``). The files it yields load with ``smplx.SMPL`` and need no licence.

Vertex ids that smplx hard-codes for SMPL's extra joints (nose, eyes, ears, toes, heels,
fingertips) are placed at the matching spots of this figure, so ``smplx.SMPL``'s 45 output
joints are meaningful here too.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Tuple

import numpy as np

from .figure import Figure, RiggedMesh, ShapeEdit, build_rigged_mesh, combine_edits, edit_figure
from .rig import Skeleton, mirror_indices
from .sdf import Capsule, Ellipsoid, Primitive

NUM_VERTICES = 6890
NUM_FACES = 13776
#: SMPL's kinematic tree.
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
JOINT_NAMES = ('pelvis', 'L_hip', 'R_hip', 'spine1', 'L_knee', 'R_knee', 'spine2', 'L_ankle',
               'R_ankle', 'spine3', 'L_foot', 'R_foot', 'neck', 'L_collar', 'R_collar', 'head',
               'L_shoulder', 'R_shoulder', 'L_elbow', 'R_elbow', 'L_wrist', 'R_wrist',
               'L_hand', 'R_hand')
#: Shape space: what beta[i] = +1 does to the body.
SHAPE_NAMES = ('stature', 'girth', 'leg_length', 'shoulder_width', 'arm_length', 'hip_width',
               'torso_length', 'belly', 'head_size', 'limb_thickness')
#: Betas that turn the neutral template into the male and female ones.
GENDER_BETAS = {
    'neutral': (0.0, ) * 10,
    'male': (0.6, 0.3, 0.3, 0.9, 0.3, -0.6, 0.2, 0.0, 0.2, 0.6),
    'female': (-0.7, -0.3, -0.2, -0.9, -0.3, 0.9, -0.2, 0.0, -0.2, -0.6),
}
_GENDER_FILE = {'neutral': 'SMPL_NEUTRAL.pkl', 'male': 'SMPL_MALE.pkl',
                'female': 'SMPL_FEMALE.pkl'}

# Left-side joints (x > 0) and midline joints in SMPL's frame; right = left mirrored in x.
_LEFT_JOINTS = {
    'pelvis': (0.0, -0.22, 0.02), 'L_hip': (0.07, -0.31, 0.015), 'spine1': (0.0, -0.11, 0.0),
    'L_knee': (0.10, -0.69, 0.015), 'spine2': (0.0, 0.02, 0.01),
    'L_ankle': (0.09, -1.09, -0.03), 'spine3': (0.0, 0.075, 0.025),
    'L_foot': (0.115, -1.15, 0.095), 'neck': (0.0, 0.29, -0.015),
    'L_collar': (0.08, 0.195, -0.005), 'head': (0.0, 0.355, 0.03),
    'L_shoulder': (0.175, 0.225, -0.02), 'L_elbow': (0.43, 0.215, -0.035),
    'L_wrist': (0.685, 0.215, -0.035), 'L_hand': (0.77, 0.21, -0.04),
}
# Where leaf bones end: toe tip, head top, fingertips.
_LEFT_END_SITES = {'L_foot': (0.12, -1.165, 0.16), 'head': (0.0, 0.52, 0.02),
                   'L_hand': (0.87, 0.207, -0.04)}
# Main child of each joint (its bone runs there); leaves use _LEFT_END_SITES.
_BONE_CHILD = {'pelvis': 'spine1', 'L_hip': 'L_knee', 'spine1': 'spine2', 'L_knee': 'L_ankle',
               'spine2': 'spine3', 'L_ankle': 'L_foot', 'spine3': 'neck', 'neck': 'head',
               'L_collar': 'L_shoulder', 'L_shoulder': 'L_elbow', 'L_elbow': 'L_wrist',
               'L_wrist': 'L_hand'}


def _mirror(p: Tuple[float, float, float]) -> Tuple[float, float, float]:
    return (-p[0], p[1], p[2])


def _side(name: str, side: str) -> str:
    return side + name[1:] if name[:2] in ('L_', 'R_') else name


def _skeleton() -> Skeleton:
    """SMPL's 24 joints in the rest pose, with bones to children or end sites."""
    joints = np.zeros((24, 3))
    ends = np.zeros((24, 3))
    end_child = np.full(24, -1, dtype=np.int64)
    for j, name in enumerate(JOINT_NAMES):
        left = _side(name, 'L')
        flip = name.startswith('R_')
        joints[j] = _mirror(_LEFT_JOINTS[left]) if flip else _LEFT_JOINTS[left]
        if left in _BONE_CHILD:
            end_child[j] = JOINT_NAMES.index(_side(_BONE_CHILD[left], name[0]) if flip
                                             else _BONE_CHILD[left])
        else:
            site = _LEFT_END_SITES[left]
            ends[j] = _mirror(site) if flip else site
    ends[end_child >= 0] = joints[end_child[end_child >= 0]]
    return Skeleton(joints, np.array(PARENTS, dtype=np.int64), ends, end_child)


def _primitives() -> Tuple[Primitive, ...]:
    """Torso, head, limbs, mitten hands and feet; each part owned by one joint.

    The torso is a stack of overlapping ellipsoids with chest, belly and buttock pads: besides
    the look, the pads keep the surface curved everywhere, which keeps the decimation's
    triangles short (it has no edge-length term).
    """
    j = JOINT_NAMES.index
    mid: List[Primitive] = [
        Ellipsoid(j('pelvis'), (0.0, -0.235, 0.005), (0.165, 0.13, 0.115)),
        Ellipsoid(j('spine1'), (0.0, -0.09, 0.012), (0.148, 0.15, 0.106)),
        Ellipsoid(j('spine1'), (0.0, -0.07, 0.06), (0.10, 0.09, 0.065)),  # belly
        Ellipsoid(j('spine2'), (0.0, 0.04, 0.004), (0.153, 0.15, 0.108)),
        Ellipsoid(j('spine3'), (0.0, 0.155, -0.008), (0.168, 0.115, 0.106)),
        Capsule(j('neck'), (0.0, 0.25, -0.015), (0.0, 0.37, 0.0), 0.055, 0.05, -0.004),
        Ellipsoid(j('head'), (0.0, 0.43, 0.02), (0.078, 0.10, 0.095)),
        Ellipsoid(j('head'), (0.0, 0.415, 0.115), (0.014, 0.022, 0.02)),  # nose
    ]
    # Left-side parts; the right side mirrors them.
    left: List[Primitive] = [
        Ellipsoid(j('spine3'), (0.065, 0.13, 0.055), (0.075, 0.055, 0.055)),  # chest
        Ellipsoid(j('pelvis'), (0.065, -0.30, -0.045), (0.085, 0.085, 0.075)),  # buttock
        Capsule(j('L_collar'), (0.04, 0.215, -0.015), (0.16, 0.23, -0.02), 0.055, 0.05, 0.004),
        Ellipsoid(j('L_shoulder'), (0.185, 0.222, -0.02), (0.06, 0.055, 0.055)),  # deltoid
        Capsule(j('L_shoulder'), (0.175, 0.225, -0.02), (0.43, 0.215, -0.035), 0.05, 0.039,
                0.007),
        Capsule(j('L_elbow'), (0.43, 0.215, -0.035), (0.685, 0.215, -0.035), 0.038, 0.028,
                0.006),
        Ellipsoid(j('L_wrist'), (0.735, 0.212, -0.035), (0.06, 0.02, 0.043)),  # palm
        Ellipsoid(j('L_hand'), (0.815, 0.207, -0.04), (0.065, 0.015, 0.04)),  # fingers
        Capsule(j('L_hand'), (0.71, 0.205, 0.0), (0.78, 0.198, 0.04), 0.015, 0.012,
                0.002),  # thumb
        Capsule(j('L_hip'), (0.075, -0.30, 0.015), (0.10, -0.69, 0.015), 0.085, 0.055, 0.012),
        Capsule(j('L_knee'), (0.10, -0.69, 0.015), (0.09, -1.08, -0.03), 0.053, 0.037, 0.01),
        Ellipsoid(j('L_ankle'), (0.095, -1.145, 0.015), (0.045, 0.05, 0.09)),  # hindfoot
        Ellipsoid(j('L_foot'), (0.115, -1.17, 0.115), (0.048, 0.03, 0.06)),  # toes
    ]
    right: List[Primitive] = []
    for prim in left:
        joint = j(_side(JOINT_NAMES[prim.joint], 'R'))
        if isinstance(prim, Capsule):
            right.append(Capsule(joint, _mirror(prim.start), _mirror(prim.end),
                                 prim.radius_start, prim.radius_end, prim.bulge))
        else:
            right.append(Ellipsoid(joint, _mirror(prim.center), prim.radii))
    return tuple(mid + left + right)


def _landmarks() -> Tuple[Tuple[int, Tuple[float, float, float]], ...]:
    """smplx's SMPL vertex ids (smplx.vertex_ids['smplh']) and where they belong here."""
    left = {  # (left id, right id): left-side point
        'eye': ((2800, 6260), (0.032, 0.445, 0.105)),
        'ear': ((583, 4071), (0.079, 0.43, 0.01)),
        'big_toe': ((3216, 6617), (0.095, -1.17, 0.175)),
        'small_toe': ((3226, 6624), (0.15, -1.175, 0.14)),
        'heel': ((3387, 6787), (0.095, -1.19, -0.075)),
        'thumb': ((2746, 6191), (0.795, 0.198, 0.052)),
        'index': ((2319, 5782), (0.87, 0.207, -0.01)),
        'middle': ((2445, 5905), (0.88, 0.207, -0.035)),
        'ring': ((2556, 6016), (0.875, 0.207, -0.058)),
        'pinky': ((2673, 6133), (0.86, 0.207, -0.075)),
    }
    out = [(332, (0.0, 0.415, 0.14))]  # nose tip
    for (left_id, right_id), point in left.values():
        out += [(left_id, point), (right_id, _mirror(point))]
    return tuple(out)


def _shape_edits() -> Tuple[ShapeEdit, ...]:
    """Ten shape directions, in the order of SHAPE_NAMES."""
    j = JOINT_NAMES.index

    def both(name: str, value):
        return {j('L_' + name): value, j('R_' + name): value}

    def both_mirrored(name: str, value):
        return {j('L_' + name): value, j('R_' + name): _mirror(value)}

    torso = (j('pelvis'), j('spine1'), j('spine2'), j('spine3'))
    limbs = ('hip', 'knee', 'shoulder', 'elbow')
    return (
        ShapeEdit('stature', global_scale=(1.02, 1.045, 1.02)),
        ShapeEdit('girth', thickness={**{t: (1.1, 1.0, 1.12) for t in torso},
                                      **{k: v for n in limbs
                                         for k, v in both(n, (1.05, 1.05, 1.05)).items()}},
                  joint_shift=both_mirrored('hip', (0.006, 0.0, 0.0))),
        ShapeEdit('leg_length', bone_scale={**both('knee', 1.06), **both('ankle', 1.06)}),
        ShapeEdit('shoulder_width', bone_scale=both('shoulder', 1.2),
                  thickness={j('spine3'): (1.06, 1.0, 1.0)}),
        ShapeEdit('arm_length', bone_scale={**both('elbow', 1.06), **both('wrist', 1.06),
                                            **both('hand', 1.05)},
                  end_scale=both('hand', 1.05)),
        ShapeEdit('hip_width', bone_scale=both('hip', 1.15),
                  thickness={j('pelvis'): (1.07, 1.0, 1.0)}),
        ShapeEdit('torso_length', joint_shift={j('spine2'): (0.0, 0.012, 0.0),
                                               j('spine3'): (0.0, 0.012, 0.0)}),
        ShapeEdit('belly', thickness={j('spine1'): (1.05, 1.0, 1.18),
                                      j('spine2'): (1.03, 1.0, 1.1)}),
        ShapeEdit('head_size', thickness={j('head'): (1.08, 1.08, 1.08),
                                          j('neck'): (1.04, 1.0, 1.04)},
                  end_scale={j('head'): 1.08}),
        ShapeEdit('limb_thickness', thickness={k: v for n in limbs
                                               for k, v in both(n, (1.08, 1.08, 1.08)).items()}),
    )


def body_figure(seed: int = 0) -> Figure:
    """The body as a figure; seed 0 is the reference individual.

    Args:
        seed: other seeds draw a different individual (random betas, std 0.5, applied to the
            skeleton and parts before meshing, so the mesh itself differs).

    Returns:
        The figure to build.
    """
    edits = _shape_edits()
    hands = tuple(JOINT_NAMES.index(side + part) for side in ('L_', 'R_')
                  for part in ('wrist', 'hand'))
    feet = tuple(JOINT_NAMES.index(side + part) for side in ('L_', 'R_')
                 for part in ('ankle', 'foot'))
    figure = Figure('body', _skeleton(), _primitives(), blend=0.04,
                    grid_steps=(0.0120, 0.0115, 0.0112, 0.0108, 0.0106, 0.0104, 0.0125, 0.0098),
                    axis_scale=(1.0, 1.0, 0.6), fine_joints=(hands, hands + feet, ()),
                    fine_scale=0.5,
                    num_vertices=NUM_VERTICES, skin_softness=0.012, landmarks=_landmarks(),
                    shape_edits=edits, bulge=0.006)
    if seed:
        betas = np.random.default_rng(seed).normal(0.0, 0.5, size=len(edits))
        figure = edit_figure(figure, combine_edits(edits, betas))
    return figure


@lru_cache(maxsize=4)
def _rigged_body(seed: int) -> RiggedMesh:
    return build_rigged_mesh(body_figure(seed))


def make_synthetic_smpl(gender: str = 'neutral', seed: int = 0) -> Dict[str, Any]:
    """Builds a synthetic SMPL model dict, with the keys and dtypes of the official files.

    Args:
        gender: 'neutral', 'male' or 'female'; all three share the mesh and rig, male and
            female differ from neutral by GENDER_BETAS.
        seed: 0 for the reference body; other values give other individuals.

    Returns:
        dict with v_template (6890, 3) float64, f (13776, 3) uint32, kintree_table (2, 24)
        int64 (root parent 4294967295), J_regressor csc (24, 6890) float64, J (24, 3),
        weights (6890, 24), shapedirs (6890, 3, 10), posedirs (6890, 3, 207) (joint-bulge
        correctives), vert_sym_idxs (6890,), bs_style 'lbs', bs_type 'lrotmin', and
        joint_names / shape_names / gender for reference.
    """
    if gender not in GENDER_BETAS:
        raise ValueError(f"make_synthetic_smpl: gender must be one of {sorted(GENDER_BETAS)}, "
                         f'got {gender!r}')
    rig = _rigged_body(int(seed))
    v_template = rig.vertices + rig.shapedirs @ np.asarray(GENDER_BETAS[gender])
    kintree = np.stack([np.array(PARENTS, dtype=np.int64), np.arange(24, dtype=np.int64)])
    kintree[0, 0] = 4294967295  # the official files store the root's parent as uint32 -1
    return {
        'v_template': v_template,
        'f': rig.faces.astype(np.uint32),
        'kintree_table': kintree,
        'J_regressor': rig.regressor.copy(),
        'J': np.asarray(rig.regressor @ v_template),
        'weights': rig.weights.copy(),
        'shapedirs': rig.shapedirs.copy(),
        'posedirs': rig.posedirs.copy(),
        'vert_sym_idxs': mirror_indices(v_template),
        'bs_style': 'lbs',
        'bs_type': 'lrotmin',
        'joint_names': list(JOINT_NAMES),
        'shape_names': list(SHAPE_NAMES),
        'gender': gender,
    }


def smpl_file_name(gender: str) -> str:
    """File name smplx looks for in a model folder, e.g. 'SMPL_NEUTRAL.pkl'."""
    if gender not in _GENDER_FILE:
        raise ValueError(f'smpl_file_name: unknown gender {gender!r}, expected one of '
                         f'{sorted(_GENDER_FILE)}')
    return _GENDER_FILE[gender]
