"""Up-sampling matrix from a coarse mesh to the fine mesh it was decimated from.

Reproduces COMA's ``setup_deformation_transfer`` as used for the official hierarchy files:
every fine vertex is expressed through the three vertices of the closest coarse triangle.
Which weights it gets depends on the part of that triangle the closest point lies on, as
classified by psbody-mesh's CGAL search:

* interior: the barycentric weights of the closest point (least squares on [a b c]);
* edge: least squares of the ORIGINAL fine vertex on the edge's two end vertices. The fine
  vertex is off the edge, so these weights do not sum to 1; the official files have them
  (248 rows of SMPL level 0) and a faithful copy must too;
* corner: weight 1 on that vertex.

All three entries of the triangle are stored in every row, zeros included, so each row has
exactly three stored entries.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from .topology import validate_faces

# Bound on the (points x faces) pairs evaluated at once, to keep memory near 100 MB.
_PAIRS_PER_CHUNK = 1 << 20


class TrianglePart(enum.IntEnum):
    """Where on a triangle (a, b, c) the closest point lies; psbody-mesh's numbering."""

    INTERIOR = 0
    EDGE_AB = 1
    EDGE_BC = 2
    EDGE_CA = 3
    CORNER_A = 4
    CORNER_B = 5
    CORNER_C = 6


@dataclass(frozen=True)
class ClosestPoints:
    """Closest points of query points on a triangle mesh.

    Attributes:
        face: (P,) int64 index of the closest face (ties go to the lowest index).
        part: (P,) int64 :class:`TrianglePart` of the closest point on that face.
        point: (P, 3) float64 closest point.
        squared_distance: (P,) float64 squared distance from the query to ``point``.
    """

    face: np.ndarray
    part: np.ndarray
    point: np.ndarray
    squared_distance: np.ndarray


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum('...i,...i->...', x, y)


def nearest_on_triangles(points: np.ndarray,
                         triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest point of each query point on its paired triangle, with the part it lies on.

    The classification follows psbody-mesh (a CGAL variant): project the query onto the
    triangle's plane; test the edges (a, b), (b, c), (c, a) in that order, and if the
    projection lies outside an edge's line but projects between its end points, the closest
    point is on that edge; otherwise, if it lay outside any edge, it is the nearest corner
    (ties to a, then b); otherwise it is the projection itself (interior).

    Args:
        points: (..., 3) query points.
        triangles: (..., 3, 3) triangles (a, b, c), broadcast against ``points``.

    Returns:
        part: (...) int64 :class:`TrianglePart` values.
        closest: (..., 3) float64 closest points.
    """
    points = np.asarray(points, dtype=np.float64)
    triangles = np.asarray(triangles, dtype=np.float64)
    corners = [triangles[..., 0, :], triangles[..., 1, :], triangles[..., 2, :]]
    # Unnormalised normal (b - a) x (c - b), as in the CGAL code, which fixes the sides.
    normal = np.cross(corners[1] - corners[0], corners[2] - corners[1])
    normal_sq = _dot(normal, normal)
    if np.any(normal_sq == 0):
        raise ValueError('nearest_on_triangles got a degenerate (zero-area) triangle')
    offset = _dot(points - corners[0], normal) / normal_sq
    projected = points - offset[..., None] * normal  # (..., 3)

    shape = np.broadcast_shapes(projected.shape[:-1], normal_sq.shape)
    part = np.zeros(shape, dtype=np.int64)
    closest = np.broadcast_to(projected, shape + (3,)).copy()
    outside_any = np.zeros(shape, dtype=bool)
    for edge in range(3):
        start, end = corners[edge], corners[(edge + 1) % 3]
        direction = end - start
        from_start = projected - start
        outside = _dot(np.cross(direction, from_start), normal) < 0
        between = (_dot(from_start, direction) >= 0) & (_dot(projected - end, -direction) >= 0)
        # An earlier edge that the projection lay outside of, but not between its end
        # points, does not stop this one from being chosen; only an earlier chosen edge does.
        on_edge = outside & between & (part == TrianglePart.INTERIOR)
        t = _dot(from_start, direction) / _dot(direction, direction)
        foot = start + t[..., None] * direction
        part = np.where(on_edge, TrianglePart.EDGE_AB + edge, part)
        closest = np.where(on_edge[..., None], foot, closest)
        outside_any |= outside

    sq_to_corner = [_dot(projected - corner, projected - corner) for corner in corners]
    nearest_corner = np.where(
        (sq_to_corner[1] >= sq_to_corner[0]) & (sq_to_corner[2] >= sq_to_corner[0]), 0,
        np.where(sq_to_corner[2] >= sq_to_corner[1], 1, 2))
    at_corner = outside_any & (part == TrianglePart.INTERIOR)
    part = np.where(at_corner, TrianglePart.CORNER_A + nearest_corner, part)
    corner_point = np.where((nearest_corner == 0)[..., None], corners[0],
                            np.where((nearest_corner == 1)[..., None], corners[1], corners[2]))
    closest = np.where(at_corner[..., None], corner_point, closest)
    return part, closest


def closest_points_on_mesh(points: np.ndarray, vertices: np.ndarray,
                           faces: np.ndarray) -> ClosestPoints:
    """Finds each query point's closest point on a triangle mesh by exhaustive search.

    Faces are pruned with a bound that cannot discard the closest face or a tied one: the
    distance to the nearest mesh vertex bounds the answer from above, and a face's bounding
    sphere bounds its distance from below.

    Args:
        points: (P, 3) query points.
        vertices: (V, 3) mesh vertices.
        faces: (F, 3) integer faces.

    Returns:
        The closest face, its part, the closest point and the squared distance per query.
    """
    points = np.asarray(points, dtype=np.float64)
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = validate_faces(faces, len(vertices), name='coarse faces')
    used = np.unique(faces)
    upper, _ = cKDTree(vertices[used]).query(points)  # (P,)
    triangles = vertices[faces]  # (F, 3, 3)
    centroid = triangles.mean(axis=1)
    radius = np.linalg.norm(triangles - centroid[:, None, :], axis=2).max(axis=1)
    # Slack for rounding in the bounds; the exact comparison happens on the survivors.
    slack = 1e-9 * (1.0 + np.abs(vertices).max())

    face_out = np.empty(len(points), dtype=np.int64)
    part_out = np.empty(len(points), dtype=np.int64)
    point_out = np.empty((len(points), 3), dtype=np.float64)
    sq_out = np.empty(len(points), dtype=np.float64)
    chunk = max(1, _PAIRS_PER_CHUNK // max(1, len(faces)))
    for begin in range(0, len(points), chunk):
        query = points[begin:begin + chunk]
        gap = np.linalg.norm(query[:, None, :] - centroid[None], axis=2) - radius[None]
        pair_point, pair_face = np.nonzero(gap <= upper[begin:begin + chunk, None] + slack)
        part, closest = nearest_on_triangles(query[pair_point], triangles[pair_face])
        diff = query[pair_point] - closest
        sq = _dot(diff, diff)
        # Smallest distance first, then the lowest face index; np.nonzero lists the pairs
        # point by point, so the first row per point after the sort is its answer.
        order = np.lexsort((pair_face, sq, pair_point))
        first = order[np.r_[0, np.flatnonzero(np.diff(pair_point[order])) + 1]]
        if len(first) != len(query):
            raise RuntimeError('closest point search lost a query point; this is a bug')
        face_out[begin:begin + chunk] = pair_face[first]
        part_out[begin:begin + chunk] = part[first]
        point_out[begin:begin + chunk] = closest[first]
        sq_out[begin:begin + chunk] = sq[first]
    return ClosestPoints(face=face_out, part=part_out, point=point_out,
                         squared_distance=sq_out)


def upsampling_weights(fine_vertex: np.ndarray, triangle: np.ndarray, part: int,
                       closest: np.ndarray) -> np.ndarray:
    """Weights of one fine vertex on the three vertices of its closest coarse triangle.

    Args:
        fine_vertex: (3,) the fine vertex.
        triangle: (3, 3) the coarse triangle's vertices (a, b, c).
        part: the :class:`TrianglePart` of the closest point.
        closest: (3,) the closest point on the triangle.

    Returns:
        (3,) float64 weights for (a, b, c).
    """
    weights = np.zeros(3, dtype=np.float64)
    if part == TrianglePart.INTERIOR:
        weights[:] = np.linalg.lstsq(triangle.T, closest, rcond=None)[0]
    elif TrianglePart.EDGE_AB <= part <= TrianglePart.EDGE_CA:
        first = part - TrianglePart.EDGE_AB
        second = (first + 1) % 3
        edge = np.stack([triangle[first], triangle[second]], axis=1)  # (3, 2)
        # The original solves for the fine vertex itself, not its foot on the edge.
        solution = np.linalg.lstsq(edge, fine_vertex, rcond=None)[0]
        weights[first], weights[second] = solution
    elif TrianglePart.CORNER_A <= part <= TrianglePart.CORNER_C:
        weights[part - TrianglePart.CORNER_A] = 1.0
    else:
        raise ValueError(f'part must be a TrianglePart value in [0, 6], got {part}')
    return weights


def upsampling_matrix(fine_vertices: np.ndarray, coarse_vertices: np.ndarray,
                      coarse_faces: np.ndarray) -> sp.csc_matrix:
    """Builds the matrix that maps coarse vertices to the fine ones.

    Args:
        fine_vertices: (N_fine, 3) vertices of the fine mesh.
        coarse_vertices: (N_coarse, 3) vertices of the coarse mesh.
        coarse_faces: (F_coarse, 3) integer faces of the coarse mesh.

    Returns:
        (N_fine, N_coarse) float64 csc matrix with exactly three stored entries per row
        (zeros included); fine vertices that are coarse vertices get identity rows.
    """
    fine_vertices = np.asarray(fine_vertices, dtype=np.float64)
    coarse_vertices = np.asarray(coarse_vertices, dtype=np.float64)
    for name, array in (('fine_vertices', fine_vertices), ('coarse_vertices', coarse_vertices)):
        if array.ndim != 2 or array.shape[1] != 3:
            raise ValueError(f'{name} must have shape (N, 3), got {array.shape}')
    coarse_faces = validate_faces(coarse_faces, len(coarse_vertices), name='coarse_faces')
    if len(coarse_faces) == 0:
        raise ValueError('coarse_faces is empty')
    nearest = closest_points_on_mesh(fine_vertices, coarse_vertices, coarse_faces)
    num_fine = len(fine_vertices)
    columns = coarse_faces[nearest.face]  # (N_fine, 3)
    values = np.empty((num_fine, 3), dtype=np.float64)
    for index in range(num_fine):
        values[index] = upsampling_weights(
            fine_vertices[index], coarse_vertices[columns[index]], int(nearest.part[index]),
            nearest.point[index])
    # A fine vertex that is a corner of its face (a kept vertex) gets an exact identity row,
    # as in the official files; the plane projection above would leave ~1e-12 residues.
    is_corner = np.all(coarse_vertices[columns] == fine_vertices[:, None, :], axis=-1)
    on_corner = is_corner.any(axis=1)
    values[on_corner] = np.eye(3)[is_corner[on_corner].argmax(axis=1)]
    rows = np.repeat(np.arange(num_fine), 3)
    # Built from COO, which keeps the explicit zeros: every row stores three entries.
    return sp.csc_matrix((values.reshape(-1), (rows, columns.reshape(-1))),
                         shape=(num_fine, len(coarse_vertices)))
