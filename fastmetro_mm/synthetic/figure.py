"""A synthetic figure (skeleton + signed-distance parts) and its meshing and rigging.

:class:`Figure` describes a body or hand; :func:`build_rigged_mesh` turns it into a closed mesh
with an exact vertex count, skinning weights, a joint regressor and blend shapes, which
``body.py`` and ``hand.py`` pack into SMPL / MANO model dicts.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from fastmetro_mm.render.vertex_normals import vertex_normals

from .rig import (Skeleton, apply_permutation, bone_displacement, edit_skeleton,
                  joint_bulge_posedirs, joint_regressor, permutation_with_targets,
                  skinning_weights)
from .sdf import Capsule, Ellipsoid, Primitive, union_distance
from .surface import (decimate_closed, graded_axis, inverted_faces, marching_cubes_surface,
                      relax_on_surface)

Axes = Tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ShapeEdit:
    """One shape direction, as a change of the skeleton and of the parts' thickness.

    Attributes:
        name: what the direction changes (for docs and error messages).
        bone_scale: joint j -> factor on the bone from j's parent to j.
        end_scale: leaf joint j -> factor on its bone to the end site.
        joint_shift: joint j -> (3,) offset of j and its subtree, metres.
        thickness: joint j -> (3,) factor on the distance of j's skin from its bone, per axis.
        global_scale: (3,) factor on everything's offset from the root joint, per axis.
    """

    name: str
    bone_scale: Mapping[int, float] = field(default_factory=dict)
    end_scale: Mapping[int, float] = field(default_factory=dict)
    joint_shift: Mapping[int, Tuple[float, float, float]] = field(default_factory=dict)
    thickness: Mapping[int, Tuple[float, float, float]] = field(default_factory=dict)
    global_scale: Tuple[float, float, float] = (1.0, 1.0, 1.0)

    def scaled(self, amount: float) -> 'ShapeEdit':
        """The edit with every change multiplied by ``amount`` (1 gives the edit itself)."""
        def lin(factor):
            return 1.0 + amount * (np.asarray(factor, dtype=np.float64) - 1.0)
        return ShapeEdit(
            self.name,
            {j: float(lin(s)) for j, s in self.bone_scale.items()},
            {j: float(lin(s)) for j, s in self.end_scale.items()},
            {j: tuple(amount * np.asarray(d, dtype=np.float64)) for j, d in
             self.joint_shift.items()},
            {j: tuple(lin(s)) for j, s in self.thickness.items()},
            tuple(lin(self.global_scale)))

    def thickness_array(self, num_joints: int) -> np.ndarray:
        """(J, 3) thickness factors, ones where the edit leaves a part alone."""
        out = np.ones((num_joints, 3))
        for j, s in self.thickness.items():
            out[j] = s
        return out


def combine_edits(edits: Sequence[ShapeEdit], amounts: Sequence[float]) -> ShapeEdit:
    """Several edits at once: factors multiply, shifts add.

    Args:
        edits: shape edits.
        amounts: how much of each (as in :meth:`ShapeEdit.scaled`).

    Returns:
        One edit with all the changes.
    """
    bone: Dict[int, float] = {}
    end: Dict[int, float] = {}
    shift: Dict[int, np.ndarray] = {}
    thick: Dict[int, np.ndarray] = {}
    scale = np.ones(3)
    for edit, amount in zip(edits, amounts, strict=True):
        part = edit.scaled(float(amount))
        for j, s in part.bone_scale.items():
            bone[j] = bone.get(j, 1.0) * s
        for j, s in part.end_scale.items():
            end[j] = end.get(j, 1.0) * s
        for j, d in part.joint_shift.items():
            shift[j] = shift.get(j, np.zeros(3)) + np.asarray(d)
        for j, s in part.thickness.items():
            thick[j] = thick.get(j, np.ones(3)) * np.asarray(s)
        scale = scale * np.asarray(part.global_scale)
    return ShapeEdit('combined', bone, end, {j: tuple(d) for j, d in shift.items()},
                     {j: tuple(s) for j, s in thick.items()}, tuple(scale))


@dataclass(frozen=True)
class Figure:
    """Everything needed to build one synthetic model.

    Attributes:
        name: 'body' or 'hand', for messages.
        skeleton: joints, parents and bones in the rest pose.
        primitives: the signed-distance parts, each owned by a joint.
        blend: fillet width of the smooth union, metres.
        grid_steps: marching-cubes grid spacings, tried in order until the decimated mesh is
            a closed genus-0 manifold (the collapse, which has no topology checks, now and
            then pinches an edge; another grid moves every vertex and avoids it).
        axis_scale: (3,) factor on the spacing per axis.
        fine_joints: per axis, the joints whose parts (hands, feet) get the finer spacing
            ``fine_scale * step`` along that axis across their extent. Refining an axis
            refines a whole slab of the grid, so each axis names only the parts that need
            it and that share few slabs with the rest (hands in x, hands and soles in y).
        fine_scale: see ``fine_joints``.
        num_vertices: exact vertex count of the final mesh.
        skin_softness: blend length of the skinning weights, metres.
        landmarks: (vertex id, point) pairs: the vertex nearest to the point (and not taken by
            an earlier pair) gets that id, so that hard-coded vertex ids downstream land on
            the intended spot.
        shape_edits: the shape directions, one per beta.
        bulge: amplitude of the joint-bulge pose correctives, metres.
    """

    name: str
    skeleton: Skeleton
    primitives: Tuple[Primitive, ...]
    blend: float
    grid_steps: Tuple[float, ...]
    axis_scale: Tuple[float, float, float]
    fine_joints: Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]]
    fine_scale: float
    num_vertices: int
    skin_softness: float
    landmarks: Tuple[Tuple[int, Tuple[float, float, float]], ...]
    shape_edits: Tuple[ShapeEdit, ...]
    bulge: float


@dataclass(frozen=True)
class RiggedMesh:
    """A meshed and rigged figure.

    Attributes:
        vertices: (V, 3) float64 rest-pose positions.
        faces: (2V - 4, 3) int64, counter-clockwise from outside.
        weights: (V, J) skinning weights.
        regressor: (J, V) csc joint regressor.
        shapedirs: (V, 3, B) shape blend shapes, one per shape edit.
        posedirs: (V, 3, 9 (J - 1)) pose blend shapes.
        grid_index: which of the figure's grid steps gave the mesh.
        num_surface_vertices: vertex count of the marching-cubes surface before decimation.
    """

    vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    regressor: sp.csc_matrix
    shapedirs: np.ndarray
    posedirs: np.ndarray
    grid_index: int
    num_surface_vertices: int


def edit_displacement(vertices: np.ndarray, weights: np.ndarray, skeleton: Skeleton,
                      edit: ShapeEdit) -> np.ndarray:
    """Vertex displacement produced by a shape edit.

    Args:
        vertices: (V, 3) rest positions.
        weights: (V, J) skinning weights.
        skeleton: rest skeleton.
        edit: the shape edit.

    Returns:
        (V, 3) displacements.
    """
    edited = edit_skeleton(skeleton, edit.bone_scale, edit.end_scale, edit.joint_shift)
    thickness = edit.thickness_array(len(skeleton.joints))
    out = bone_displacement(vertices, weights, skeleton, edited, thickness)
    root = skeleton.joints[0]
    return out + (vertices - root) * (np.asarray(edit.global_scale) - 1.0)


def edit_figure(figure: Figure, edit: ShapeEdit) -> Figure:
    """Applies a shape edit to the figure's skeleton and parts before meshing.

    Each part moves rigidly with its own joint's bone (thickness scales its radii), so a new
    individual gets its own marching-cubes surface rather than a deformed template.

    Args:
        figure: the reference figure.
        edit: the change to apply.

    Returns:
        The edited figure.
    """
    skel = figure.skeleton
    num_joints = len(skel.joints)
    edited = edit_skeleton(skel, edit.bone_scale, edit.end_scale, edit.joint_shift)
    thickness = edit.thickness_array(num_joints)
    root, scale = skel.joints[0], np.asarray(edit.global_scale)

    def move(point, j):
        point = np.asarray(point, dtype=np.float64)
        weights = np.zeros((1, num_joints))
        weights[0, j] = 1.0
        delta = bone_displacement(point[None], weights, skel, edited, thickness)[0]
        return tuple(point + delta + (point - root) * (scale - 1.0))

    prims: List[Primitive] = []
    for prim in figure.primitives:
        s = thickness[prim.joint] * scale
        if isinstance(prim, Capsule):
            r = float(np.mean(s))
            prims.append(Capsule(prim.joint, move(prim.start, prim.joint),
                                 move(prim.end, prim.joint), prim.radius_start * r,
                                 prim.radius_end * r, prim.bulge * r))
        elif isinstance(prim, Ellipsoid):
            prims.append(Ellipsoid(prim.joint, move(prim.center, prim.joint),
                                   tuple(np.asarray(prim.radii) * s)))
        else:
            raise TypeError(f'edit_figure: unknown primitive type {type(prim).__name__}')
    new_joints = edited.joints + (edited.joints - root) * (scale - 1.0)
    new_ends = edited.bone_ends + (edited.bone_ends - root) * (scale - 1.0)
    new_skel = Skeleton(new_joints, skel.parents, new_ends, skel.bone_end_child)
    landmarks = tuple((vid, tuple(np.asarray(p) + (np.asarray(p) - root) * (scale - 1.0)))
                      for vid, p in figure.landmarks)
    return dataclasses.replace(figure, skeleton=new_skel, primitives=tuple(prims),
                               landmarks=landmarks)


def _merge_intervals(intervals: List[Tuple[float, float]]) -> List[Tuple[float, float]]:
    merged: List[Tuple[float, float]] = []
    for start, stop in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def figure_grid(figure: Figure, step: float) -> Axes:
    """Marching-cubes sample positions around the figure, denser over its fine parts.

    Args:
        figure: the figure.
        step: base spacing in metres.

    Returns:
        (xs, ys, zs) increasing sample positions whose box holds the figure with a margin.
    """
    margin = figure.blend + 3.0 * step
    bounds = [prim.bounds() for prim in figure.primitives]
    lower = np.min([b[0] for b in bounds], axis=0) - margin
    upper = np.max([b[1] for b in bounds], axis=0) + margin
    axes = []
    for k in range(3):
        fine = [b for prim, b in zip(figure.primitives, bounds)
                if prim.joint in figure.fine_joints[k]]
        coarse = step * figure.axis_scale[k]
        fine_step = min(step * figure.fine_scale, coarse)
        pad = 2.0 * coarse
        spans = _merge_intervals([(max(b[0][k] - pad, lower[k]), min(b[1][k] + pad, upper[k]))
                                  for b in fine])
        axes.append(graded_axis(lower[k], upper[k], coarse,
                                [(a, b, fine_step) for a, b in spans]))
    return tuple(axes)


def _landmark_targets(vertices: np.ndarray,
                      landmarks: Sequence[Tuple[int, Tuple[float, float, float]]]
                      ) -> Dict[int, int]:
    """Greedy nearest-unused-vertex assignment of landmark ids (new id -> old vertex)."""
    tree = cKDTree(vertices)
    taken: Dict[int, int] = {}
    used = set()
    for vid, point in landmarks:
        _, order = tree.query(np.asarray(point), k=min(16, len(vertices)))
        free = [int(i) for i in np.atleast_1d(order) if int(i) not in used]
        if not free:
            raise ValueError(f'landmark {vid} at {point}: its 16 nearest vertices are all '
                             'taken by other landmarks')
        taken[vid] = free[0]
        used.add(free[0])
    return taken


def build_rigged_mesh(figure: Figure) -> RiggedMesh:
    """Meshes, decimates, relaxes, relabels and rigs a figure.

    Args:
        figure: the figure to build.

    Returns:
        The rigged mesh.

    Raises:
        ValueError: no grid step gave a closed genus-0 manifold with the exact vertex count
            and no folded face, or a rigging step failed (messages name the step).
    """
    errors = []

    def distance(points: np.ndarray) -> np.ndarray:
        return union_distance(figure.primitives, points, figure.blend)

    for grid_index, step in enumerate(figure.grid_steps):
        axes = figure_grid(figure, step)
        dense_v, dense_f = marching_cubes_surface(figure.primitives, figure.blend, axes)
        try:
            verts, faces = decimate_closed(dense_v, dense_f, figure.num_vertices)
        except ValueError as err:
            errors.append(f'grid step {step}: {err}')
            continue
        verts = relax_on_surface(verts, faces, distance)
        folded = int(inverted_faces(verts, faces, distance).sum())
        if folded:
            errors.append(f'grid step {step}: {folded} faces still point inwards after '
                          'relaxation')
            continue
        break
    else:
        raise ValueError(f'{figure.name}: no grid step gave a valid mesh:\n'
                         + '\n'.join(errors))
    targets = _landmark_targets(verts, figure.landmarks)
    verts, faces = apply_permutation(verts, faces,
                                     permutation_with_targets(len(verts), targets))
    skel = figure.skeleton
    num_joints = len(skel.joints)
    weights = skinning_weights(verts, figure.primitives, num_joints, figure.skin_softness)
    regressor = joint_regressor(verts, skel.joints)
    shapedirs = np.stack([edit_displacement(verts, weights, skel, edit)
                          for edit in figure.shape_edits], axis=-1)
    posedirs = joint_bulge_posedirs(vertex_normals(verts, faces), weights, skel.parents,
                                    figure.bulge)
    return RiggedMesh(verts, faces, weights, regressor, shapedirs, posedirs, grid_index,
                      len(dense_v))
