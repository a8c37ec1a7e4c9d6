"""The camera of a synthetic image and where the mesh goes in it.

Coordinates: the camera frame is OpenCV's (x right, y down, z forward). Intrinsics ``K``
follow the convention that pixel ``(i, j)`` has its centre at integer coordinates, so
``K @ X / Z`` gives the pixel position an annotation tool would click.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

def sample_intrinsics(rng: np.random.Generator, width: int, height: int,
                      fov_range: Tuple[float, float] = (40.0, 70.0)) -> np.ndarray:
    """Pinhole intrinsics with a random field of view and a jittered principal point.

    Args:
        rng: Random generator.
        width, height: Image size in pixels.
        fov_range: Range of the field of view across the larger image side, degrees.

    Returns:
        (3, 3) K, square pixels.
    """
    fov = np.deg2rad(rng.uniform(*fov_range))
    focal = 0.5 * max(width, height) / np.tan(0.5 * fov)
    cx = (width - 1) / 2 + rng.uniform(-0.02, 0.02) * width
    cy = (height - 1) / 2 + rng.uniform(-0.02, 0.02) * height
    return np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]])


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 3) camera-frame points to (N, 2) pixels with intrinsics (3, 3)."""
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:3]


def place_in_view(vertices: np.ndarray, K: np.ndarray, width: int, height: int,
                  rng: np.random.Generator, fill_range: Tuple[float, float] = (0.5, 0.85),
                  margin: float = 0.03) -> np.ndarray:
    """A translation that puts the whole mesh inside the image at a random size and place.

    Args:
        vertices: (V, 3) mesh in the camera frame's orientation, at any position.
        K: (3, 3) intrinsics.
        width, height: Image size in pixels.
        rng: Random generator.
        fill_range: Range of the fraction of the image (the tighter side) the mesh spans.
        margin: Free border, as a fraction of the smaller image side.

    Returns:
        (3,) translation t such that every projected ``vertices + t`` lies inside the image
        with the margin.
    """
    focal = K[0, 0]
    centred = vertices - 0.5 * (vertices.min(0) + vertices.max(0))
    extent = centred.max(0) - centred.min(0)
    fill = rng.uniform(*fill_range)
    # Depth at which the larger relative extent fills `fill` of its image side; the near half
    # of the mesh makes it a little larger, which the loop below corrects.
    depth = focal * max(extent[0] / (fill * width), extent[1] / (fill * height))
    depth += 0.5 * extent[2]
    pad = margin * min(width, height)
    lo = np.array([pad, pad])
    hi = np.array([width - 1 - pad, height - 1 - pad])
    for _ in range(50):
        trans = np.array([0.0, 0.0, depth])
        uv = project(centred + trans, K)
        if np.all(uv.max(0) - uv.min(0) <= hi - lo):
            break
        depth *= 1.1
    else:
        raise RuntimeError('place_in_view: could not fit the mesh into the image')
    uv_min, uv_max = uv.min(0), uv.max(0)
    shift = rng.uniform(lo - uv_min, hi - uv_max)  # pixels, at the mesh's mean depth
    mean_depth = depth + centred[:, 2].mean()
    for _ in range(30):
        candidate = trans + np.append(shift * mean_depth / focal, 0.0)
        uv = project(centred + candidate, K)
        if np.all(uv.min(0) >= lo) and np.all(uv.max(0) <= hi):
            return candidate - 0.5 * (vertices.min(0) + vertices.max(0))
        shift *= 0.5  # perspective moved a side past the border: come back towards the centre
    return trans - 0.5 * (vertices.min(0) + vertices.max(0))


def check_in_image(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N,) bool: which (N, 2) pixel positions lie inside a width x height image."""
    return ((uv[:, 0] >= -0.5) & (uv[:, 0] <= width - 0.5) & (uv[:, 1] >= -0.5)
            & (uv[:, 1] <= height - 0.5))
