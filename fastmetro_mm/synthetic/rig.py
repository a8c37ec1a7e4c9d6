"""Rigging a synthetic mesh: skinning weights, joint regressor, shape and pose blend shapes.

Everything is derived from the figure's skeleton and its signed-distance parts, so the same
code rigs the body (24 joints) and the hand (16 joints):

- skinning weights: a soft assignment of each vertex to the parts it lies on;
- joint regressor: for every joint, convex weights on nearby vertices whose weighted mean is
  the joint centre;
- shape blend shapes: displacements produced by editing the skeleton (bone lengths, joint
  offsets) and the parts' thickness, carried to the vertices through the skinning weights;
- pose blend shapes: a small outward bulge at bending joints, as a corrective would add.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls
from scipy.spatial import cKDTree

from .sdf import Primitive, part_distances


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree plus the end points that give every joint a bone.

    Attributes:
        joints: (J, 3) joint centres in the rest pose.
        parents: (J,) parent index per joint, -1 for the root.
        bone_ends: (J, 3) where each joint's bone ends: its main child's centre, or a chosen
            end site (head top, toe, fingertip) for a leaf. Bone j runs from joints[j] to
            bone_ends[j]; the vertices skinned to joint j lie around it.
        bone_end_child: (J,) the child joint whose centre is bone_ends[j], or -1 for an end
            site; edits of the child then move the end with it.
    """

    joints: np.ndarray
    parents: np.ndarray
    bone_ends: np.ndarray
    bone_end_child: np.ndarray


def skinning_weights(vertices: np.ndarray, primitives: Sequence[Primitive], num_joints: int,
                     softness: float, max_influences: int = 4) -> np.ndarray:
    """Linear-blend skinning weights from the distance to each joint's parts.

    w_j is proportional to exp(-(d_j - min_k d_k) / softness): a vertex on one part only
    follows that joint; where two parts meet (elbow, knuckle) both distances are small and
    the vertex blends the two, over a band about one part radius wide.

    Args:
        vertices: (V, 3) rest-pose positions.
        primitives: the figure's parts, each owned by a joint.
        num_joints: J.
        softness: blend length in metres.
        max_influences: weights beyond the largest this many per vertex are dropped.

    Returns:
        (V, J) float64 weights, non-negative, rows summing to 1.
    """
    dist = part_distances(primitives, vertices, num_joints)
    rel = dist - dist.min(axis=1, keepdims=True)
    weights = np.exp(-rel / softness)
    weights[~np.isfinite(dist)] = 0.0
    if max_influences < num_joints:
        cutoff = -np.sort(-weights, axis=1)[:, max_influences - 1:max_influences]
        weights[weights < cutoff] = 0.0
    weights[weights < 1e-4] = 0.0
    return weights / weights.sum(axis=1, keepdims=True)


def joint_regressor(vertices: np.ndarray, joints: np.ndarray, tolerance: float = 1e-4,
                    num_candidates: int = 48) -> sp.csc_matrix:
    """Sparse convex weights on vertices that reproduce each joint centre.

    For joint j the candidates are the vertices nearest to it; among convex weights w on them
    with sum(w v) = joint, the ones closest to uniform are found by non-negative least squares
    with the two constraints weighted heavily. If the centre is not reproduced within
    ``tolerance`` the candidate set grows.

    Args:
        vertices: (V, 3) rest-pose positions.
        joints: (J, 3) joint centres, each inside the mesh.
        tolerance: largest accepted distance between regressed and given centre, metres.
        num_candidates: initial number of nearest vertices per joint.

    Returns:
        (J, V) csc_matrix, float64, rows non-negative and summing to 1.

    Raises:
        ValueError: a joint centre cannot be reproduced (it lies outside its vertices' hull).
    """
    tree = cKDTree(vertices)
    rows, cols, vals = [], [], []
    penalty = 1e3
    for j, centre in enumerate(joints):
        count = num_candidates
        while True:
            count = min(count, len(vertices))
            _, idx = tree.query(centre, k=count)
            idx = np.sort(np.atleast_1d(idx))
            pts = vertices[idx]
            system = np.vstack([penalty * pts.T, penalty * np.ones((1, count)), np.eye(count)])
            target = np.concatenate([penalty * centre, [penalty], np.full(count, 1.0 / count)])
            w, _ = nnls(system, target, maxiter=50 * count)
            w[w < 1e-5] = 0.0
            w /= w.sum()
            error = float(np.linalg.norm(w @ pts - centre))
            if error <= tolerance:
                break
            if count == len(vertices) or count >= 8 * num_candidates:
                raise ValueError(f'joint_regressor: joint {j} at {np.round(centre, 4)} is '
                                 f'{error * 1000:.2f} mm from the best convex combination of '
                                 f'its {count} nearest vertices (tolerance '
                                 f'{tolerance * 1000:.2f} mm); is it inside the mesh?')
            count *= 2
        keep = w > 0
        rows.append(np.full(int(keep.sum()), j))
        cols.append(idx[keep])
        vals.append(w[keep])
    return sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(len(joints), len(vertices)))


def edit_skeleton(skeleton: Skeleton, bone_scale: Mapping[int, float] | None = None,
                  end_scale: Mapping[int, float] | None = None,
                  joint_shift: Mapping[int, Sequence[float]] | None = None) -> Skeleton:
    """Lengthens bones and shifts joints, carrying every descendant along.

    Args:
        skeleton: the rest skeleton; parents must precede their children.
        bone_scale: joint j -> factor on the vector from j's parent to j.
        end_scale: joint j -> factor on the vector from j to its end site (leaves only).
        joint_shift: joint j -> (3,) offset added to j and its whole subtree.

    Returns:
        The edited skeleton (same tree).
    """
    bone_scale = dict(bone_scale or {})
    end_scale = dict(end_scale or {})
    shifts = {k: np.asarray(v, dtype=np.float64) for k, v in (joint_shift or {}).items()}
    old = skeleton.joints
    new = np.array(old, dtype=np.float64)
    for j in range(len(old)):
        p = int(skeleton.parents[j])
        if p >= j:
            raise ValueError(f'edit_skeleton: joint {j} has parent {p}; parents must precede '
                             'their children')
        if p >= 0:
            new[j] = new[p] + bone_scale.get(j, 1.0) * (old[j] - old[p])
        new[j] = new[j] + shifts.get(j, 0.0)
    ends = np.array(skeleton.bone_ends, dtype=np.float64)
    for j in range(len(old)):
        child = int(skeleton.bone_end_child[j])
        if child >= 0:
            if j in end_scale:
                raise ValueError(f'edit_skeleton: end_scale given for joint {j}, whose bone '
                                 f'ends at child joint {child}; scale that bone instead')
            ends[j] = new[child]
        else:
            ends[j] = new[j] + end_scale.get(j, 1.0) * (skeleton.bone_ends[j] - old[j])
    return Skeleton(new, skeleton.parents, ends, skeleton.bone_end_child)


def bone_displacement(vertices: np.ndarray, weights: np.ndarray, rest: Skeleton,
                      edited: Skeleton, thickness: np.ndarray | None = None) -> np.ndarray:
    """Moves the vertices with their bones from the rest to the edited skeleton.

    A vertex near bone j sits at its closest bone point c(t) plus an offset o; in the edited
    skeleton it goes to c'(t) + S_j o, with S_j = diag(thickness[j]). The result is blended
    with the skinning weights, so it is smooth and linear in the edit.

    Args:
        vertices: (V, 3) rest positions.
        weights: (V, J) skinning weights.
        rest: rest skeleton.
        edited: edited skeleton (from :func:`edit_skeleton`).
        thickness: (J, 3) per-joint scale of the offsets along x, y, z; ones if None.

    Returns:
        (V, 3) displacements.
    """
    num_joints = len(rest.joints)
    if thickness is None:
        thickness = np.ones((num_joints, 3))
    out = np.zeros_like(vertices)
    for j in np.flatnonzero(weights.max(axis=0) > 0):
        a, b = rest.joints[j], rest.bone_ends[j]
        axis = b - a
        t = np.clip((vertices - a) @ axis / float(axis @ axis), 0.0, 1.0)[:, None]
        closest = a + t * axis
        moved = edited.joints[j] + t * (edited.bone_ends[j] - edited.joints[j])
        offset = vertices - closest
        out += weights[:, j:j + 1] * (moved + offset * thickness[j] - vertices)
    return out


def joint_bulge_posedirs(normals: np.ndarray, weights: np.ndarray, parents: np.ndarray,
                         amplitude: float) -> np.ndarray:
    """Pose blend shapes that swell the skin around a bending joint.

    smplx adds posedirs @ (R_j - I) for every non-root joint. The diagonal of R - I sums to
    2 (cos(theta) - 1) for a rotation by theta, so putting -amplitude * n * g on the three
    diagonal entries of joint j gives an outward push of 2 * amplitude * (1 - cos theta) * g,
    zero at rest. g = 4 w_j w_parent peaks at 1 in the blend band between the two parts.

    Args:
        normals: (V, 3) unit outward vertex normals.
        weights: (V, J) skinning weights.
        parents: (J,) parents, -1 for the root.
        amplitude: push in metres per unit of (1 - cos theta), halved.

    Returns:
        (V, 3, 9 * (J - 1)) float64 posedirs.
    """
    num_verts, num_joints = weights.shape
    posedirs = np.zeros((num_verts, 3, 9 * (num_joints - 1)))
    for j in range(1, num_joints):
        band = 4.0 * weights[:, j] * weights[:, parents[j]]
        for diag in (0, 4, 8):
            posedirs[:, :, 9 * (j - 1) + diag] = -amplitude * normals * band[:, None]
    return posedirs


def permutation_with_targets(num_vertices: int, targets: Dict[int, int]) -> np.ndarray:
    """Vertex order in which chosen old vertices land on chosen new ids.

    Args:
        num_vertices: V.
        targets: new id -> old vertex index; both sides must be distinct.

    Returns:
        (V,) ``new_to_old``: vertex new_id of the relabelled mesh is old vertex
        new_to_old[new_id]. Every other vertex keeps its relative order.
    """
    new_ids = np.array(list(targets.keys()), dtype=np.int64)
    old_ids = np.array(list(targets.values()), dtype=np.int64)
    if len(np.unique(new_ids)) != len(new_ids) or len(np.unique(old_ids)) != len(old_ids):
        raise ValueError(f'permutation_with_targets: targets must be one-to-one, got {targets}')
    if new_ids.size and (new_ids.min() < 0 or new_ids.max() >= num_vertices
                         or old_ids.min() < 0 or old_ids.max() >= num_vertices):
        raise ValueError(f'permutation_with_targets: ids must lie in [0, {num_vertices})')
    new_to_old = np.full(num_vertices, -1, dtype=np.int64)
    new_to_old[new_ids] = old_ids
    rest = np.setdiff1d(np.arange(num_vertices), old_ids)
    new_to_old[new_to_old < 0] = rest
    return new_to_old


def apply_permutation(vertices: np.ndarray, faces: np.ndarray, new_to_old: np.ndarray):
    """Relabels a mesh.

    Args:
        vertices: (V, 3) positions.
        faces: (F, 3) vertex indices.
        new_to_old: (V,) from :func:`permutation_with_targets`.

    Returns:
        vertices (V, 3) and faces (F, 3) in the new labelling (same surface).
    """
    old_to_new = np.empty_like(new_to_old)
    old_to_new[new_to_old] = np.arange(len(new_to_old))
    return vertices[new_to_old], old_to_new[faces]


def mirror_indices(vertices: np.ndarray) -> np.ndarray:
    """For each vertex, the vertex nearest to its mirror image in the plane x = 0.

    Args:
        vertices: (V, 3) positions of a left-right symmetric figure.

    Returns:
        (V,) int64 indices (SMPL files call this ``vert_sym_idxs``).
    """
    mirrored = vertices * np.array([-1.0, 1.0, 1.0])
    _, idx = cKDTree(vertices).query(mirrored)
    return idx.astype(np.int64)
