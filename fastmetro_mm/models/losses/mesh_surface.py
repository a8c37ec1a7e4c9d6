"""The mesh surface quantities of the released edge-length and normal losses.

Faces of the regularised mesh level (from a file or a hierarchy), their unique edges, edge
lengths and the |cos| between predicted face edges and GT face normals.
"""
from __future__ import annotations

from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

#: Length added under the square root of an edge length: the derivative of sqrt is
#: unbounded at 0, and a collapsed predicted edge must not produce an infinite gradient.
_EDGE_EPS = 1e-8


def read_faces_file(path: str) -> np.ndarray:
    """(F, 3) int64 triangles from a ``.npy`` array or an ``.npz`` holding ``faces``."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f'MeshLoss faces_file {path}: cannot be read as .npy / .npz '
                         f'({error})') from error
    if isinstance(data, np.lib.npyio.NpzFile):
        if 'faces' not in data.files:
            raise KeyError(f'MeshLoss faces_file {path}: no faces array; it holds {data.files}')
        data = data['faces']
    if data.ndim != 2 or data.shape[1] != 3 or not np.issubdtype(data.dtype, np.integer):
        raise ValueError(f'MeshLoss faces_file {path}: expected (F, 3) integer triangles, '
                         f'got {data.dtype} {data.shape}')
    return data.astype(np.int64)


def edges_from_faces(faces: Union[np.ndarray, Tensor], unique: bool = True) -> Tensor:
    """(F, 3) triangles -> (E, 2) long edges.

    Args:
        faces: (F, 3) triangles.
        unique: each undirected edge once, lower index first (the released body loss);
            False: the three edges 0-1, 0-2, 1-2 of every face, so an edge shared by two
            faces counts twice and a border edge once (the released hand loss).
    """
    faces = torch.as_tensor(np.asarray(faces), dtype=torch.long)
    if faces.dim() != 2 or faces.shape[1] != 3:
        raise ValueError(f'MeshLoss faces must have shape (F, 3), got {tuple(faces.shape)}')
    if not unique:
        return torch.cat([faces[:, [0, 1]], faces[:, [0, 2]], faces[:, [1, 2]]])
    pairs = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    pairs = torch.sort(pairs, dim=1).values
    return torch.unique(pairs, dim=0)


def edge_lengths(vertices: Tensor, edges: Tensor) -> Tensor:
    """(B, V, 3), (E, 2) -> (B, E, 1) lengths."""
    delta = vertices[:, edges[:, 0]] - vertices[:, edges[:, 1]]
    return torch.sqrt((delta**2).sum(-1, keepdim=True) + _EDGE_EPS)


def edge_normal_cosines(vertices: Tensor, gt_vertices: Tensor, faces: Tensor) -> Tensor:
    """|cos| between each predicted face edge and the GT face normal.

    Args:
        vertices: (B, V, 3) predicted mesh.
        gt_vertices: (B, V, 3) GT mesh.
        faces: (F, 3) long triangles.

    Returns:
        (B, F, 3): edges 0-1, 0-2, 1-2 of each face; 0 when the predicted face lies flat
        against the GT one (all its edges perpendicular to the GT normal), whichever way the
        face is oriented.
    """
    corner = [vertices[:, faces[:, i]] for i in range(3)]  # 3 x (B, F, 3)
    gt_corner = [gt_vertices[:, faces[:, i]] for i in range(3)]
    gt_normal = F.normalize(torch.cross(gt_corner[1] - gt_corner[0],
                                        gt_corner[2] - gt_corner[0], dim=-1), dim=-1)
    return torch.stack([
        (F.normalize(corner[b] - corner[a], dim=-1) * gt_normal).sum(-1).abs()
        for a, b in ((0, 1), (0, 2), (1, 2))
    ], dim=-1)
