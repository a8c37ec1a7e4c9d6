"""A Human3.6M-style 17-joint regressor for the synthetic body.

The official ``J_regressor_h36m_correct.npy`` (17 x 6890, 107 non-zeros) is derived from SMPL
and may not be shipped; the synthetic body needs its own. Each row here is a sparse convex
combination of a handful of vertices, like the real file:

- the 15 joints that SMPL also has (hips, knees, ankles, shoulders, elbows, wrists, pelvis,
  torso = SMPL spine2, neck) reproduce the synthetic model's own joint location ``J`` exactly
  (to ~1e-9 m) from 8 vertices of that joint's SMPL regressor row spread around the joint;
- the nose is the mean of the vertices at the nose tip, the head the mean of the vertices at
  the top of the head.

Right-side rows use the mirror images (``vert_sym_idxs``) of the left-side rows' vertices,
and the vertex sets of midline rows are mirror-symmetric, so a left-right flip of the mesh
swaps the left and right joints.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls

from fastmetro_mm.mesh.joint_sets import H36M_17, SMPL_24

#: H36M joint -> SMPL joint whose location it takes (SMPL names of joint_sets.SMPL_24).
_FROM_SMPL = {
    'Pelvis': 'Pelvis', 'R_Hip': 'R_Hip', 'R_Knee': 'R_Knee', 'R_Ankle': 'R_Ankle',
    'L_Hip': 'L_Hip', 'L_Knee': 'L_Knee', 'L_Ankle': 'L_Ankle', 'Torso': 'Spine2',
    'Neck': 'Neck', 'L_Shoulder': 'L_Shoulder', 'L_Elbow': 'L_Elbow', 'L_Wrist': 'L_Wrist',
    'R_Shoulder': 'R_Shoulder', 'R_Elbow': 'R_Elbow', 'R_Wrist': 'R_Wrist',
}
_MIDLINE = ('Pelvis', 'Torso', 'Neck')
#: Vertices per row for joints taken from SMPL (the real file averages ~6 per row).
_VERTICES_PER_JOINT = 8
#: Vertices (per side) averaged for the nose tip and the head top.
_SURFACE_VERTICES_PER_SIDE = 3
#: Weight of the "hit the joint exactly, sum to 1" rows against the "stay near uniform"
#: rows in the stacked least-squares problem; large enough for ~1e-9 m residuals.
_CONSTRAINT_WEIGHT = 1e4


def _spread_subset(vertices: np.ndarray, candidates: np.ndarray, weights: np.ndarray,
                   centre: np.ndarray, count: int) -> np.ndarray:
    """Picks ``count`` candidates whose directions from ``centre`` are spread out.

    Farthest-point sampling on the unit directions, starting from the heaviest candidate,
    so the joint lies well inside the chosen vertices' convex hull (a plain top-k by weight
    often picks one side of a limb only).

    Args:
        vertices: (V, 3) mesh vertices.
        candidates: (C,) vertex indices.
        weights: (C,) their regressor weights.
        centre: (3,) the joint.
        count: how many to pick (<= C).

    Returns:
        (count,) vertex indices, in the order picked.
    """
    directions = vertices[candidates] - centre
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    chosen = [int(np.argmax(weights))]
    min_dist = np.linalg.norm(directions - directions[chosen[0]], axis=1)
    while len(chosen) < count:
        pick = int(np.argmax(min_dist))
        chosen.append(pick)
        min_dist = np.minimum(min_dist, np.linalg.norm(directions - directions[pick], axis=1))
    return candidates[np.array(chosen)]


def _convex_weights(points: np.ndarray, target: np.ndarray, joint: str) -> np.ndarray:
    """Non-negative weights summing to 1 with ``weights @ points == target``.

    Among such weights, those nearest to uniform (a stacked non-negative least squares:
    heavily weighted equality rows over identity rows pulling towards 1/n), so every
    vertex keeps a share and the row stays as spread as the real regressor's.

    Args:
        points: (n, 3) vertex positions.
        target: (3,) joint location.
        joint: H36M joint name, for the error message.

    Returns:
        (n,) weights.
    """
    n = len(points)
    system = np.vstack([_CONSTRAINT_WEIGHT * np.vstack([points.T, np.ones((1, n))]),
                        np.eye(n)])
    rhs = np.concatenate([_CONSTRAINT_WEIGHT * np.append(target, 1.0), np.full(n, 1.0 / n)])
    weights, _ = nnls(system, rhs, maxiter=50 * n)
    weights /= weights.sum()
    miss = np.linalg.norm(weights @ points - target)
    if miss > 1e-6:
        raise RuntimeError(f'make_synthetic_h36m_regressor: {joint} at {target} lies outside '
                           f'the convex hull of its {n} vertices (miss {miss:.2e} m)')
    return weights


def _surface_patch(vertices: np.ndarray, sym: np.ndarray, point: np.ndarray,
                   per_side: int) -> np.ndarray:
    """Vertices nearest to a midline ``point``: ``per_side`` on the left (x >= 0), plus their
    mirror images, so the patch is left-right symmetric. Returns sorted unique indices."""
    left = np.flatnonzero(vertices[:, 0] >= 0.0)
    nearest = left[np.argsort(np.linalg.norm(vertices[left] - point, axis=1))[:per_side]]
    return np.unique(np.concatenate([nearest, sym[nearest]]))


def _smpl_row(model: Dict[str, Any], smpl_joint: int, sym: np.ndarray,
              midline: bool) -> np.ndarray:
    """Vertex indices for an SMPL joint's row (see the module docstring)."""
    vertices = np.asarray(model['v_template'], dtype=np.float64)
    row = sp.csr_matrix(model['J_regressor'])[smpl_joint]
    candidates, weights = row.indices, row.data
    centre = np.asarray(model['J'], dtype=np.float64)[smpl_joint]
    if midline:
        # Half the vertices from the left side, mirrored: a symmetric vertex set.
        left = vertices[candidates, 0] >= 0.0
        half = _spread_subset(vertices, candidates[left], weights[left], centre,
                              _VERTICES_PER_JOINT // 2)
        return np.unique(np.concatenate([half, sym[half]]))
    return _spread_subset(vertices, candidates, weights, centre, _VERTICES_PER_JOINT)


def make_synthetic_h36m_regressor(model: Dict[str, Any]) -> np.ndarray:
    """Builds the 17 x V H36M joint regressor of a synthetic SMPL-format body.

    Args:
        model: dict from :func:`make_synthetic_smpl` (needs ``v_template`` (V, 3),
            ``J_regressor`` (24, V), ``J`` (24, 3) and ``vert_sym_idxs`` (V,)).

    Returns:
        (17, V) float64 array, rows in the order of ``joint_sets.H36M_17``; every row is
        non-negative, sums to 1 and has 5-8 non-zeros (about 120 in all; the NNLS
        solve may zero a few of a row's 8 candidates).
    """
    missing = [k for k in ('v_template', 'J_regressor', 'J', 'vert_sym_idxs') if k not in model]
    if missing:
        raise KeyError(f'make_synthetic_h36m_regressor: model dict lacks {missing}; pass the '
                       'dict from fastmetro_mm.synthetic.make_synthetic_smpl')
    vertices = np.asarray(model['v_template'], dtype=np.float64)
    joints = np.asarray(model['J'], dtype=np.float64)
    sym = np.asarray(model['vert_sym_idxs'], dtype=np.int64)
    num_vertices = len(vertices)
    if sp.csr_matrix(model['J_regressor']).shape != (len(SMPL_24), num_vertices):
        raise ValueError(f'make_synthetic_h36m_regressor: J_regressor has shape '
                         f'{sp.csr_matrix(model["J_regressor"]).shape}, expected '
                         f'({len(SMPL_24)}, {num_vertices})')

    support: Dict[str, np.ndarray] = {}
    target: Dict[str, np.ndarray] = {}
    for name, smpl_name in _FROM_SMPL.items():
        smpl_joint = SMPL_24.index(smpl_name)
        target[name] = joints[smpl_joint]
        if name.startswith('R_'):
            continue  # mirrored from the left row below
        support[name] = _smpl_row(model, smpl_joint, sym, name in _MIDLINE)
    for name in list(support):
        if name.startswith('L_'):
            support['R_' + name[2:]] = sym[support[name]]

    # Nose tip: the most forward point of the head; head top: its highest point.
    head = vertices[:, 1] > joints[SMPL_24.index('Head')][1]
    nose_tip = vertices[np.flatnonzero(head)[np.argmax(vertices[head, 2])]] * (0.0, 1.0, 1.0)
    head_top = vertices[np.argmax(vertices[:, 1])] * (0.0, 1.0, 1.0)
    regressor = np.zeros((len(H36M_17), num_vertices))
    for name, point in (('Nose', nose_tip), ('Head', head_top)):
        patch = _surface_patch(vertices, sym, point, _SURFACE_VERTICES_PER_SIDE)
        regressor[H36M_17.index(name), patch] = 1.0 / len(patch)

    for name, indices in support.items():
        regressor[H36M_17.index(name), indices] = _convex_weights(vertices[indices],
                                                                  target[name], name)
    return regressor

