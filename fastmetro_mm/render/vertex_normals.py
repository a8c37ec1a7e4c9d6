"""Area-weighted vertex normals of a triangle mesh: the one implementation in the project.

The renderer shades with them and the synthetic body's pose correctives bulge along them.
"""
from __future__ import annotations

import numpy as np


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit vertex normals: the sum of the adjacent faces' area-weighted normals, normalised.

    The sums are taken in float64 in a fixed order (faces as first corners, then as second,
    then as third corners), so the same mesh always gives the same bits: the synthetic model
    files, which store normals through their pose correctives, stay identical from run to run.
    float32 input, as the renderer passes, is summed exactly in float64.

    Args:
        vertices: (V, 3) positions, float32 or float64.
        faces: (F, 3) vertex indices, counter-clockwise seen from outside.

    Returns:
        (V, 3) float64 unit outward normals; zero for vertices of no (or only degenerate)
        faces.
    """
    faces = np.asarray(faces)
    tri = vertices[faces]  # (F, 3 corners, 3)
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # (F, 3), 2 x area
    corners = faces.T.reshape(-1)  # (3F,): every face as first corner, then second, then third
    weights = np.tile(face_normals, (3, 1)).astype(np.float64)  # (3F, 3)
    normals = np.stack([np.bincount(corners, weights[:, axis], minlength=len(vertices))
                        for axis in range(3)], axis=1)  # (V, 3)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
