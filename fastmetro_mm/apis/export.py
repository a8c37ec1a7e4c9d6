"""Writing predictions: per-person meshes (.obj), all numbers (.npz or .json), pictures.

Every writer here is atomic (the file appears complete or not at all, through
:func:`fastmetro_mm.mesh.atomic_file.atomic_write`) and refuses to replace an existing file
unless ``overwrite=True``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional, Sequence, Union

import numpy as np

from ..mesh.atomic_file import atomic_write
from .mesh_prediction import MeshPrediction

PathLike = Union[str, Path]


def save_obj(path: PathLike, vertices: np.ndarray, faces: np.ndarray,
             overwrite: bool = False, header: Optional[str] = None) -> Path:
    """Writes one triangle mesh as Wavefront .obj (through trimesh, vertex order kept).

    Args:
        path: output file, ending in .obj; missing folders are made.
        vertices: (V, 3) vertices.
        faces: (F, 3) vertex indices (0-based).
        overwrite: replace an existing file instead of refusing.
        header: text written as '#' comment lines at the top (e.g. which frame the
            vertices are in).

    Returns:
        The written path.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
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
    text = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_texture=False)
    if header:
        text = ''.join(f'# {line}\n' for line in header.splitlines()) + text
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, overwrite=overwrite) as stream:
        stream.write(text.encode())
    return path


def save_image(path: PathLike, image: np.ndarray, overwrite: bool = False) -> Path:
    """Writes an RGB picture; the format follows the suffix (.png, .jpg, ...), as in OpenCV.

    Args:
        path: output file; missing folders are made.
        image: (H, W, 3) uint8 RGB.
        overwrite: replace an existing file instead of refusing.

    Returns:
        The written path.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    import cv2

    path = Path(path)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'save_image {path}: expected an (H, W, 3) uint8 RGB image, got '
                         f'{image.dtype} {image.shape}')
    try:
        ok, encoded = cv2.imencode(path.suffix, np.ascontiguousarray(image[..., ::-1]))
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f'save_image {path}: OpenCV cannot write images ending in '
                         f'{path.suffix!r}; use .png or .jpg')
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, overwrite=overwrite) as stream:
        stream.write(encoded.tobytes())
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
                     names: Sequence[str], overwrite: bool = False) -> Path:
    """Writes every number of every person: .npz (arrays) or .json (nested lists).

    Args:
        path: output file ending in .npz or .json; missing folders are made.
        frames: per image, its :class:`MeshPrediction` list.
        names: per image, its name.
        overwrite: replace an existing file instead of refusing.

    Returns:
        The written path.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ('.npz', '.json'):
        raise ValueError(f'save_predictions: the file must end in .npz or .json, got {path}')
    if path.exists() and not overwrite:  # before the work, not only after it
        raise FileExistsError(f'{path} exists; pass overwrite=True to replace it')
    arrays = predictions_to_arrays(frames, names)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, overwrite=overwrite) as stream:
        if suffix == '.npz':
            _write_npz(stream, arrays, path)
        else:
            people = [{key: value[i].tolist() for key, value in arrays.items()}
                      for i in range(len(arrays['image']))]
            stream.write(json.dumps(dict(people=people)).encode())
    return path


def _write_npz(stream: BinaryIO, arrays: Dict[str, np.ndarray], path: Path) -> None:
    """``np.savez_compressed`` into ``stream``; a field that would need a pickle is refused."""
    for key, value in arrays.items():
        if np.asanyarray(value).dtype.hasobject:
            # np.load of such a file needs allow_pickle=True, which a reader should not need.
            raise ValueError(f'save_predictions {path}: field {key} cannot be stored (an object '
                             'array would need a pickle)')
    np.savez_compressed(stream, **arrays)
