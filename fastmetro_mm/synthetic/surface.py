"""From a signed-distance figure to a closed triangle mesh with an exact vertex count.

Marching cubes on a (possibly graded) grid gives a fine closed surface; the project's quadric
edge collapse then keeps exactly the requested number of vertices. That collapse only chooses
which endpoint survives and never checks topology, so every result is verified here to be a
closed, consistently oriented, genus-0 2-manifold before it is used. Because it also leaves
long slivers on gently curved parts and a few folded triangles, the kept vertices are then
slid along the surface (:func:`relax_on_surface`), which evens the triangles and unfolds the
folds without touching the connectivity.
"""
from __future__ import annotations

from typing import Callable, List, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from skimage.measure import marching_cubes

from .sdf import Primitive, grid_union_distance


def graded_axis(lower: float, upper: float, step: float,
                fine: Sequence[Tuple[float, float, float]] = ()) -> np.ndarray:
    """Sample positions along one axis, denser inside the given intervals.

    Args:
        lower: first sample.
        upper: last sample (reached exactly).
        step: spacing outside the fine intervals.
        fine: (start, stop, step) intervals where the spacing is ``step`` instead; they must
            lie inside [lower, upper] and not overlap.

    Returns:
        (N,) strictly increasing positions.
    """
    if not upper > lower or step <= 0:
        raise ValueError(f'graded_axis needs lower < upper and step > 0, got '
                         f'{lower}, {upper}, {step}')
    knots = [(lower, step)]
    for start, stop, fine_step in sorted(fine):
        if not lower <= start < stop <= upper or fine_step <= 0:
            raise ValueError(f'fine interval ({start}, {stop}, {fine_step}) must lie inside '
                             f'[{lower}, {upper}] with a positive step')
        knots += [(start, fine_step), (stop, step)]
    knots.append((upper, step))
    pieces = []
    for (a, s), (b, _) in zip(knots[:-1], knots[1:]):
        if b < a:
            raise ValueError(f'fine intervals of graded_axis overlap near {a}')
        if b == a:
            continue
        # Round the count so every piece ends exactly on its knot.
        n = max(int(np.ceil((b - a) / s - 1e-9)), 1)
        pieces.append(np.linspace(a, b, n + 1)[:-1])
    pieces.append(np.array([upper]))
    return np.concatenate(pieces)


def marching_cubes_surface(primitives: Sequence[Primitive], blend: float,
                           axes: Tuple[np.ndarray, np.ndarray, np.ndarray]
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """Zero level set of the figure's smooth union, oriented outwards.

    Marching cubes runs in index space; the vertices are then mapped through each axis'
    sample positions, which is exactly marching cubes on the graded grid because linear
    interpolation along a grid edge commutes with the per-axis map.

    Args:
        primitives: the figure's parts.
        blend: fillet width of the smooth union, metres.
        axes: (xs (NX,), ys (NY,), zs (NZ,)) increasing sample positions; the figure must lie
            strictly inside the box they span.

    Returns:
        vertices (V, 3) float64 and faces (F, 3) int64, counter-clockwise seen from outside.
    """
    xs, ys, zs = (np.asarray(a, dtype=np.float64) for a in axes)
    volume = grid_union_distance(primitives, (xs, ys, zs), blend)
    border = np.concatenate([volume[[0, -1]].ravel(), volume[:, [0, -1]].ravel(),
                             volume[:, :, [0, -1]].ravel()])
    if border.min() <= 0:
        raise ValueError('The figure touches the border of the sampling grid; widen the grid '
                         f'(min distance on the border {border.min():.4f} m)')
    # A sample exactly on the level would give coincident vertices and zero-area triangles.
    volume[volume == 0.0] = 1e-9
    verts_idx, faces, _, _ = marching_cubes(volume, level=0.0, gradient_direction='ascent',
                                            allow_degenerate=False)
    verts = np.stack([np.interp(verts_idx[:, k], np.arange(len(ax)), ax)
                      for k, ax in enumerate((xs, ys, zs))], axis=1)
    faces = faces.astype(np.int64)
    if signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1].copy()
    problems = closed_manifold_problems(faces, len(verts))
    if problems:
        raise ValueError('Marching cubes gave a surface that is not a closed genus-0 '
                         'manifold: ' + '; '.join(problems))
    return verts, faces


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Enclosed volume, positive when the faces wind counter-clockwise seen from outside.

    Args:
        vertices: (V, 3) positions.
        faces: (F, 3) vertex indices.

    Returns:
        The signed volume in cubic metres.
    """
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    return float(np.einsum('ij,ij->i', a, np.cross(b, c)).sum() / 6.0)


def closed_manifold_problems(faces: np.ndarray, num_vertices: int) -> List[str]:
    """Everything that keeps a mesh from being a closed, oriented, genus-0 2-manifold.

    Checks: no repeated index in a face; every vertex used; every directed edge once and its
    reverse present (so each edge has exactly two faces of opposite winding); the faces
    around each vertex form one fan (no pinched vertices); one connected component; Euler
    characteristic 2.

    Args:
        faces: (F, 3) vertex indices.
        num_vertices: V.

    Returns:
        Human-readable problems; empty when the mesh is a closed genus-0 manifold.
    """
    faces = np.asarray(faces, dtype=np.int64)
    nv, nf = int(num_vertices), len(faces)
    problems = []
    degenerate = int(np.sum((faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2])
                            | (faces[:, 2] == faces[:, 0])))
    if degenerate:
        problems.append(f'{degenerate} faces repeat a vertex')
    unused = nv - np.unique(faces).size
    if unused:
        problems.append(f'{unused} vertices are not used by any face')
    src = faces.ravel()
    dst = faces[:, [1, 2, 0]].ravel()
    directed = src * nv + dst
    uniq, counts = np.unique(directed, return_counts=True)
    if np.any(counts > 1):
        problems.append(f'{int(np.sum(counts > 1))} directed edges occur in more than one face '
                        '(non-manifold edge or inconsistent orientation)')
    reverse = dst * nv + src
    missing = int(np.sum(~np.isin(reverse, uniq)))
    if missing:
        problems.append(f'{missing} edges lack an oppositely wound partner face '
                        '(boundary or inconsistent orientation)')
    if problems:
        return problems
    # Corner (face i, vertex a) turns b -> c around a; its successor is the corner at a that
    # starts from c. Each vertex of a manifold is one cycle of this permutation.
    vertex = faces.ravel()
    start = faces[:, [1, 2, 0]].ravel()
    stop = faces[:, [2, 0, 1]].ravel()
    key = vertex * nv + start
    order = np.argsort(key)
    successor = order[np.searchsorted(key[order], vertex * nv + stop)]
    perm = sp.csr_matrix((np.ones(3 * nf), (np.arange(3 * nf), successor)),
                         shape=(3 * nf, 3 * nf))
    num_cycles, _ = connected_components(perm, directed=True, connection='weak')
    if num_cycles != nv:
        problems.append(f'{num_cycles - nv} vertices are pinched (several fans meet there)')
    adjacency = sp.csr_matrix((np.ones(3 * nf), (src, dst)), shape=(nv, nv))
    num_parts, _ = connected_components(adjacency, directed=False)
    if num_parts != 1:
        problems.append(f'the mesh has {num_parts} connected components, expected 1')
    euler = nv - 3 * nf // 2 + nf
    if euler != 2:
        problems.append(f'Euler characteristic {euler}, expected 2 (genus 0)')
    return problems


def decimate_closed(vertices: np.ndarray, faces: np.ndarray, num_target: int
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Keeps exactly ``num_target`` vertices with the project's quadric edge collapse.

    Args:
        vertices: (V, 3) float64 positions of a closed genus-0 mesh.
        faces: (F, 3) vertex indices.
        num_target: vertices to keep; the result then has 2 * num_target - 4 faces.

    Returns:
        vertices (num_target, 3) (a subset of the input, positions unchanged) and faces
        (2 * num_target - 4, 3) int64.

    Raises:
        ValueError: the collapse produced anything but a closed genus-0 manifold with the
            requested count (the caller may retry with another grid).
    """
    # Imported here so that the synthetic package's other modules stay importable on their own.
    from fastmetro_mm.mesh.decimation import quadric_edge_collapse

    result = quadric_edge_collapse(np.asarray(vertices, dtype=np.float64), faces, num_target)
    kept = np.asarray(result.kept)
    new_faces = np.asarray(result.faces, dtype=np.int64)
    problems = []
    if len(kept) != num_target:
        problems.append(f'{len(kept)} vertices kept, expected {num_target}')
    if len(new_faces) != 2 * num_target - 4:
        problems.append(f'{len(new_faces)} faces, expected {2 * num_target - 4}')
    problems += closed_manifold_problems(new_faces, len(kept))
    if problems:
        raise ValueError(f'Decimating {len(vertices)} -> {num_target} vertices did not give a '
                         'closed genus-0 manifold: ' + '; '.join(problems))
    return np.asarray(vertices, dtype=np.float64)[kept], new_faces


DistanceFn = Callable[[np.ndarray], np.ndarray]


def distance_gradient(distance: DistanceFn, points: np.ndarray, step: float = 1e-5
                      ) -> np.ndarray:
    """Central-difference gradient of a signed-distance function.

    Args:
        distance: maps (N, 3) points to (N,) signed distances.
        points: (N, 3) where to evaluate.
        step: difference step in metres.

    Returns:
        (N, 3) gradients (outward on the surface).
    """
    return np.stack([(distance(points + step * e) - distance(points - step * e)) / (2 * step)
                     for e in np.eye(3)], axis=1)


def relax_on_surface(vertices: np.ndarray, faces: np.ndarray, distance: DistanceFn,
                     iterations: int = 10, rate: float = 0.5) -> np.ndarray:
    """Evens out a mesh by sliding its vertices along the zero set of ``distance``.

    Each iteration moves every vertex ``rate`` of the way towards the mean of its neighbours,
    keeping only the tangential part of the move, then projects it back onto the surface
    with two Newton steps along the gradient. The faces are unchanged.

    Args:
        vertices: (V, 3) positions on (or near) the surface.
        faces: (F, 3) vertex indices.
        distance: maps (N, 3) points to (N,) signed distances.
        iterations: smoothing iterations.
        rate: fraction of the tangential move per iteration, in (0, 1].

    Returns:
        (V, 3) relaxed positions, on the surface to rounding.
    """
    num = len(vertices)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adjacency = sp.csr_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])),
                              shape=(num, num))
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    out = np.array(vertices, dtype=np.float64)
    for _ in range(iterations):
        normal = distance_gradient(distance, out)
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        move = adjacency @ out / degree[:, None] - out
        move -= np.einsum('ij,ij->i', move, normal)[:, None] * normal
        out = out + rate * move
        for _ in range(2):
            grad = distance_gradient(distance, out)
            out = out - (distance(out) / np.einsum('ij,ij->i', grad, grad))[:, None] * grad
    return out


def inverted_faces(vertices: np.ndarray, faces: np.ndarray, distance: DistanceFn
                   ) -> np.ndarray:
    """Faces whose normal points into the solid (folded triangles).

    Args:
        vertices: (V, 3) positions.
        faces: (F, 3) vertex indices, counter-clockwise from outside.
        distance: maps (N, 3) points to (N,) signed distances.

    Returns:
        (F,) bool, True where the face normal has a negative dot product with the distance
        gradient at the face centroid.
    """
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    normal = np.cross(b - a, c - a)
    grad = distance_gradient(distance, (a + b + c) / 3.0)
    return np.einsum('ij,ij->i', normal, grad) < 0
