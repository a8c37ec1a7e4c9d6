"""A synthetic hand in the MANO model format (778 vertices, 16 joints).

The right hand lies in MANO's flat-hand frame: wrist at about (0.096, 0.006, 0.006), fingers
pointing to -x, back of the hand up (+y), thumb on +z, index to pinky from +z to -z; the joint
centres follow MANO's rest joints to a millimetre or so. The left hand is its mirror image in
x, as in the official files. Unlike MANO's mesh, which is open at the wrist, this one is
closed (778 vertices, 1552 faces); nothing downstream relies on the opening.

The ids of the fingertip vertices that METRO / FastMETRO (thumb 745, index 317, middle 445,
ring 556, pinky 673) and smplx (744, 320, 443, 554, 671) read are placed at the fingertips.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Tuple

import numpy as np

from .figure import Figure, RiggedMesh, ShapeEdit, build_rigged_mesh, combine_edits, edit_figure
from .rig import Skeleton
from .sdf import Capsule, Ellipsoid, Primitive

NUM_VERTICES = 778
NUM_FACES = 1552
#: MANO's joint order and tree.
JOINT_NAMES = ('wrist', 'index1', 'index2', 'index3', 'middle1', 'middle2', 'middle3',
               'pinky1', 'pinky2', 'pinky3', 'ring1', 'ring2', 'ring3', 'thumb1', 'thumb2',
               'thumb3')
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
SHAPE_NAMES = ('size', 'finger_length', 'palm_width', 'finger_thickness', 'palm_length',
               'thumb_length', 'palm_thickness', 'index_ring_ratio', 'pinky_length',
               'hand_thickness')
#: Vertex ids read as fingertips: METRO / FastMETRO's, then smplx's (VERTEX_IDS['mano']).
TIP_VERTEX_IDS = {'thumb': (745, 744), 'index': (317, 320), 'middle': (445, 443),
                  'ring': (556, 554), 'pinky': (673, 671)}
_FINGERS = ('index', 'middle', 'pinky', 'ring', 'thumb')  # MANO's finger order

# Right hand, metres: joints 1-3 of each finger and the fingertip surface point.
_FINGER_POINTS = {
    'index': ((0.0076, 0.0012, 0.0269), (-0.0251, 0.0052, 0.0291),
              (-0.0473, 0.0039, 0.0290), (-0.0705, 0.0046, 0.0330)),
    'middle': ((0.0010, 0.0049, 0.0028), (-0.0302, 0.0068, -0.0028),
               (-0.0531, 0.0055, -0.0067), (-0.0790, 0.0061, -0.0120)),
    'pinky': ((0.0269, -0.0036, -0.0370), (0.0099, -0.0035, -0.0495),
              (-0.0060, -0.0042, -0.0599), (-0.0219, -0.0016, -0.0701)),
    'ring': ((0.0139, 0.0024, -0.0205), (-0.0144, 0.0045, -0.0256),
             (-0.0379, 0.0028, -0.0332), (-0.0608, 0.0073, -0.0402)),
    'thumb': ((0.0716, -0.0091, 0.0320), (0.0519, -0.0082, 0.0557),
              (0.0297, -0.0137, 0.0702), (0.0022, -0.0181, 0.0909)),
}
_WRIST = (0.0957, 0.0064, 0.0062)
# Finger radius at the base joint and at the tip; a little slimmer than a real hand so that
# neighbouring fingers stay apart on the meshing grid.
_RADII = {'index': (0.0088, 0.0072), 'middle': (0.009, 0.0074), 'ring': (0.0085, 0.007),
          'pinky': (0.0076, 0.0064), 'thumb': (0.0105, 0.0085)}


def _skeleton() -> Skeleton:
    """MANO's 16 joints; each finger's last bone ends just inside its fingertip."""
    joints = np.zeros((16, 3))
    ends = np.zeros((16, 3))
    end_child = np.full(16, -1, dtype=np.int64)
    joints[0] = _WRIST
    end_child[0] = JOINT_NAMES.index('middle1')
    for finger in _FINGERS:
        first = JOINT_NAMES.index(finger + '1')
        points = np.asarray(_FINGER_POINTS[finger])
        joints[first:first + 3] = points[:3]
        end_child[first:first + 2] = (first + 1, first + 2)
        tip_dir = points[3] - points[2]
        ends[first + 2] = points[3] - _RADII[finger][1] * tip_dir / np.linalg.norm(tip_dir)
    ends[end_child >= 0] = joints[end_child[end_child >= 0]]
    return Skeleton(joints, np.array(PARENTS, dtype=np.int64), ends, end_child)


def _primitives(skel: Skeleton) -> Tuple[Primitive, ...]:
    """Palm, wrist stub, thenar pad and three tapered capsules per finger."""
    prims: List[Primitive] = [
        Ellipsoid(0, (0.042, 0.0015, -0.004), (0.058, 0.0165, 0.045)),  # palm
        Ellipsoid(0, (0.100, 0.0040, 0.003), (0.030, 0.0175, 0.028)),  # wrist stub
        Ellipsoid(JOINT_NAMES.index('thumb1'), (0.072, -0.006, 0.026),
                  (0.026, 0.0145, 0.018)),  # thenar pad
    ]
    for finger in _FINGERS:
        first = JOINT_NAMES.index(finger + '1')
        r0, r1 = _RADII[finger]
        for k in range(3):
            j = first + k
            # A slight waist between the knuckles, as on a real finger.
            prims.append(Capsule(j, tuple(skel.joints[j]), tuple(skel.bone_ends[j]),
                                 r0 + (r1 - r0) * k / 3.0, r0 + (r1 - r0) * (k + 1) / 3.0,
                                 -0.0007))
    return tuple(prims)


def _landmarks() -> Tuple[Tuple[int, Tuple[float, float, float]], ...]:
    """Fingertip ids: METRO's id on the tip-most vertex, smplx's id on the next one."""
    out = []
    for finger, ids in TIP_VERTEX_IDS.items():
        tip = tuple(_FINGER_POINTS[finger][3])
        out += [(ids[0], tip), (ids[1], tip)]
    return tuple(out)


def _shape_edits() -> Tuple[ShapeEdit, ...]:
    """Ten shape directions, in the order of SHAPE_NAMES."""
    j = JOINT_NAMES.index
    fingers4 = ('index', 'middle', 'ring', 'pinky')
    phalanges = {j(f + str(k)): 1.06 for f in _FINGERS for k in (2, 3)}
    tips = {j(f + '3'): 1.06 for f in _FINGERS}
    finger_joints = [j(f + str(k)) for f in _FINGERS for k in (1, 2, 3)]
    return (
        ShapeEdit('size', global_scale=(1.05, 1.05, 1.05)),
        ShapeEdit('finger_length', bone_scale=phalanges, end_scale=tips),
        ShapeEdit('palm_width', joint_shift={j('index1'): (0.0, 0.0, 0.002),
                                             j('ring1'): (0.0, 0.0, -0.0015),
                                             j('pinky1'): (0.0, 0.0, -0.003),
                                             j('thumb1'): (0.0, 0.0, 0.002)},
                  thickness={0: (1.0, 1.0, 1.06)}),
        ShapeEdit('finger_thickness', thickness={k: (1.08, 1.08, 1.08) for k in finger_joints}),
        ShapeEdit('palm_length', bone_scale={j(f + '1'): 1.06 for f in fingers4}
                  | {j('thumb1'): 1.04}),
        ShapeEdit('thumb_length', bone_scale={j('thumb2'): 1.08, j('thumb3'): 1.08},
                  end_scale={j('thumb3'): 1.08}),
        ShapeEdit('palm_thickness', thickness={0: (1.0, 1.12, 1.0)}),
        ShapeEdit('index_ring_ratio', bone_scale={j('index2'): 1.05, j('index3'): 1.05,
                                                  j('ring2'): 0.96, j('ring3'): 0.96},
                  end_scale={j('index3'): 1.05, j('ring3'): 0.96}),
        ShapeEdit('pinky_length', bone_scale={j('pinky2'): 1.07, j('pinky3'): 1.07},
                  end_scale={j('pinky3'): 1.07}),
        ShapeEdit('hand_thickness', thickness={k: (1.0, 1.06, 1.0) for k in range(16)}),
    )


def hand_figure(seed: int = 0) -> Figure:
    """The right hand as a figure; seed 0 is the reference hand.

    Args:
        seed: other seeds draw a different hand (random betas, std 0.5, applied before
            meshing).

    Returns:
        The figure to build.
    """
    skel = _skeleton()
    edits = _shape_edits()
    figure = Figure('hand', skel, _primitives(skel), blend=0.004,
                    grid_steps=(0.0021, 0.0020, 0.0022, 0.0019, 0.0023, 0.0018),
                    axis_scale=(1.0, 1.0, 0.8), fine_joints=((), (), ()), fine_scale=1.0,
                    num_vertices=NUM_VERTICES, skin_softness=0.0025, landmarks=_landmarks(),
                    shape_edits=edits, bulge=0.0012)
    if seed:
        betas = np.random.default_rng(seed).normal(0.0, 0.5, size=len(edits))
        figure = edit_figure(figure, combine_edits(edits, betas))
    return figure


@lru_cache(maxsize=4)
def _rigged_hand(seed: int) -> RiggedMesh:
    return build_rigged_mesh(hand_figure(seed))


def _pose_components(skel: Skeleton) -> Tuple[np.ndarray, np.ndarray]:
    """Mean pose (a slight curl) and an orthonormal pose basis led by hand synergies.

    Returns:
        hands_mean (45,) and hands_components (45, 45), rows orthonormal.
    """
    palm_normal = np.array([0.0, -1.0, 0.0])
    flex = np.zeros((15, 3))
    for j in range(1, 16):
        bone = skel.bone_ends[j] - skel.joints[j]
        axis = np.cross(bone, palm_normal)
        flex[j - 1] = axis / np.linalg.norm(axis)
    curl = np.array([0.15, 0.2, 0.15] * 5)  # radians per joint, proximal to distal
    curl[12:15] = (0.1, 0.1, 0.1)  # the thumb rests straighter
    mean = (flex * curl[:, None]).reshape(45)
    j = JOINT_NAMES.index
    synergies = []
    all_fingers = flex.copy()
    synergies.append(all_fingers.reshape(45))
    front = flex.copy()
    for name in ('ring', 'pinky'):
        front[j(name + '1') - 1:j(name + '1') + 2] *= -1.0
    synergies.append(front.reshape(45))
    thumb = np.zeros((15, 3))
    thumb[j('thumb1') - 1:j('thumb1') + 2] = flex[j('thumb1') - 1:j('thumb1') + 2]
    synergies.append(thumb.reshape(45))
    # Completing with the unit vectors keeps the basis deterministic.
    basis, _ = np.linalg.qr(np.column_stack(synergies + list(np.eye(45))))
    components = basis[:, :45].T
    signs = np.sign(np.sum(components[:3] * np.array(synergies), axis=1))
    components[:3] *= signs[:, None]
    return mean, components


def _mirror_model(model: Dict[str, Any]) -> Dict[str, Any]:
    """Left hand from right: x -> -x; faces reversed so they still wind outwards."""
    flip = np.array([-1.0, 1.0, 1.0])
    out = dict(model)
    out['v_template'] = model['v_template'] * flip
    out['J'] = model['J'] * flip
    out['f'] = model['f'][:, ::-1].copy()
    out['shapedirs'] = model['shapedirs'] * flip[None, :, None]
    # A mirrored rotation is M R M (M = diag(-1, 1, 1)); entry (a, b) of R - I picks up the
    # signs M_aa M_bb, the displacement's axis k picks up M_kk.
    entry = np.outer(flip, flip).reshape(9)
    out['posedirs'] = model['posedirs'] * (flip[None, :, None]
                                           * np.tile(entry, 15)[None, None, :])
    # An axis-angle vector is a pseudo-vector: mirroring x keeps its x and flips y and z.
    axis_sign = np.tile([1.0, -1.0, -1.0], 15)
    out['hands_mean'] = model['hands_mean'] * axis_sign
    out['hands_components'] = model['hands_components'] * axis_sign[None, :]
    out['is_rhand'] = False
    return out


def make_synthetic_mano(is_rhand: bool = True, seed: int = 0) -> Dict[str, Any]:
    """Builds a synthetic MANO model dict, with the keys and dtypes of the official files.

    Args:
        is_rhand: right hand if True, else its mirror image.
        seed: 0 for the reference hand; other values give other hands.

    Returns:
        dict with v_template (778, 3) float64, f (1552, 3) uint32, kintree_table (2, 16)
        int64 (root parent 4294967295), J_regressor csc (16, 778), J (16, 3), weights
        (778, 16), shapedirs (778, 3, 10), posedirs (778, 3, 135) (joint-bulge
        correctives), hands_components (45, 45) orthonormal rows (curl synergies first),
        hands_mean (45,) a slight curl, bs_style 'lbs', bs_type 'lrotmin', plus joint_names,
        shape_names and is_rhand for reference.
    """
    rig = _rigged_hand(int(seed))
    skel = hand_figure(int(seed)).skeleton
    mean, components = _pose_components(skel)
    kintree = np.stack([np.array(PARENTS, dtype=np.int64), np.arange(16, dtype=np.int64)])
    kintree[0, 0] = 4294967295
    model = {
        'v_template': rig.vertices.copy(),
        'f': rig.faces.astype(np.uint32),
        'kintree_table': kintree,
        'J_regressor': rig.regressor.copy(),
        'J': np.asarray(rig.regressor @ rig.vertices),
        'weights': rig.weights.copy(),
        'shapedirs': rig.shapedirs.copy(),
        'posedirs': rig.posedirs.copy(),
        'hands_components': components,
        'hands_mean': mean,
        'bs_style': 'lbs',
        'bs_type': 'lrotmin',
        'joint_names': list(JOINT_NAMES),
        'shape_names': list(SHAPE_NAMES),
        'is_rhand': True,
    }
    return model if is_rhand else _mirror_model(model)


def mano_file_name(is_rhand: bool) -> str:
    """File name smplx looks for in a model folder: 'MANO_RIGHT.pkl' or 'MANO_LEFT.pkl'."""
    return 'MANO_RIGHT.pkl' if is_rhand else 'MANO_LEFT.pkl'
