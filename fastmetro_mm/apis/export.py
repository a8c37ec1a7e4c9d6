"""Writing predictions: per-person meshes (.obj) and all numbers (.npz or .json)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np

from .mesh_prediction import MeshPrediction

PathLike = Union[str, Path]


def save_obj(path: PathLike, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Writes one triangle mesh as Wavefront .obj (through trimesh, vertex order kept).

    Args:
        path: output file, ending in .obj.
        vertices: (V, 3) vertices.
        faces: (F, 3) vertex indices (0-based).

    Returns:
        The written path.
    """
    import trimesh

    path = Path(path)
    if path.suffix.lower() != '.obj':
        raise ValueError(f'save_obj: the file must end in .obj, got {path}')
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f'save_obj: expected vertices (V, 3) and faces (F, 3), got '
                         f'{vertices.shape} and {faces.shape}')
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f'save_obj: face indices must lie in [0, {len(vertices)})')
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(trimesh.exchange.obj.export_obj(mesh, include_normals=False,
                                                    include_texture=False))
    return path


def predictions_to_arrays(frames: Sequence[Sequence[MeshPrediction]],
                          names: Sequence[str]) -> Dict[str, np.ndarray]:
    """Stacks the people of several images into flat arrays (one row per person).

    Args:
        frames: per image, its :class:`MeshPrediction` list.
        names: per image, its name (file name or frame index).

    Returns:
        dict: ``image`` (P,) names, ``person`` (P,) index within the image, and each
        :meth:`MeshPrediction.to_dict` field stacked to (P, ...).
    """
    if len(frames) != len(names):
        raise ValueError(f'predictions_to_arrays: {len(frames)} images, {len(names)} names')
    rows: List[Dict[str, np.ndarray]] = []
    image, person = [], []
    for name, people in zip(names, frames):
        for index, pred in enumerate(people):
            rows.append(pred.to_dict())
            image.append(str(name))
            person.append(index)
    out: Dict[str, np.ndarray] = dict(image=np.asarray(image, dtype=str),
                                      person=np.asarray(person, dtype=np.int64))
    keys = sorted(set().union(*rows)) if rows else []
    for key in keys:
        missing = [i for i, row in enumerate(rows) if key not in row]
        if missing:
            raise ValueError(f'predictions_to_arrays: field {key} is missing for rows '
                             f'{missing}; every person must have the same fields')
        out[key] = np.stack([np.asarray(row[key]) for row in rows])
    return out


def save_predictions(path: PathLike, frames: Sequence[Sequence[MeshPrediction]],
                     names: Sequence[str]) -> Path:
    """Writes every number of every person: .npz (arrays) or .json (nested lists).

    Args:
        path: output file ending in .npz or .json.
        frames: per image, its :class:`MeshPrediction` list.
        names: per image, its name.

    Returns:
        The written path.
    """
    path = Path(path)
    arrays = predictions_to_arrays(frames, names)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == '.npz':
        np.savez_compressed(path, **arrays)
    elif path.suffix.lower() == '.json':
        people = [{key: value[i].tolist() for key, value in arrays.items()}
                  for i in range(len(arrays['image']))]
        path.write_text(json.dumps(dict(people=people)))
    else:
        raise ValueError(f'save_predictions: the file must end in .npz or .json, got {path}')
    return path
