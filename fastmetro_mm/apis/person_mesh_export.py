"""One person's mesh as a file (.obj or .glb), in the camera frame or centred on its root.

Two frames, both metres:

- ``'camera'``: the image camera's frame (``MeshPrediction.vertices_cam``), the camera at the
  origin. People of one image keep their places relative to each other, but they sit at the
  depth the image camera implies: with the default focal length (5000 px per 256 image pixels,
  a 2.9 degree field of view) that is tens of metres (e.g. ~39 m for a 10000 px camera), far
  from where a 3D tool opens its view.
- ``'root'``: the mesh on its root (pelvis for the body, wrist for the hand;
  ``MeshPrediction.vertices``), same axes; the camera, when written (.glb), sits at
  ``-cam_t``.

An .obj is in OpenCV axes (x right, y down, z forward) and says its frame in a comment at the
top; a .glb is in glTF axes (see :mod:`fastmetro_mm.apis.glb_export`) and says it in its scene
extras.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..mesh.image_camera import ImageCamera
from .export import save_obj
from .glb_export import save_glb
from .mesh_prediction import MeshPrediction

#: The frames a person's mesh can be written in.
MESH_FRAMES = ('camera', 'root')
#: The mesh file formats, by suffix.
MESH_SUFFIXES = ('.obj', '.glb')


def save_person_mesh(path: Union[str, Path], person: MeshPrediction, faces: np.ndarray,
                     frame: str = 'camera', image_size: Optional[tuple] = None,
                     colour: Optional[np.ndarray] = None, overwrite: bool = False) -> Path:
    """Writes one person's mesh as .obj or .glb (by the suffix of ``path``).

    Args:
        path: output file ending in .obj or .glb; missing folders are made.
        person: the person's prediction.
        faces: (F, 3) triangles of the model's mesh (:func:`mesh_faces`).
        frame: 'camera' or 'root' (see the module docstring).
        image_size: (width, height) of the image; with it a .glb holds the image camera.
        colour: (3,) RGB in [0, 1] of the whole mesh (.glb); None: the first person colour.
        overwrite: replace an existing file instead of refusing.

    Returns:
        The written path.

    Raises:
        ValueError: an unknown ``frame`` or suffix.
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if frame not in MESH_FRAMES:
        raise ValueError(f'save_person_mesh: frame must be one of {MESH_FRAMES}, got {frame!r}')
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise ValueError(f'save_person_mesh: the file must end in one of {MESH_SUFFIXES}, got '
                         f'{path}')
    vertices = person.vertices_cam if frame == 'camera' else person.vertices
    if suffix == '.obj':
        return save_obj(path, vertices, faces, overwrite=overwrite, header=_obj_header(
            person, frame))
    camera = None
    if image_size is not None:
        fx, fy, cx, cy = person.intrinsics_key()
        camera = ImageCamera(fx, (cx, cy), (int(image_size[0]), int(image_size[1])),
                             None if fy == fx else fy)
    colours = None
    if colour is not None:
        colours = np.broadcast_to(np.asarray(colour, dtype=np.float64), (len(vertices), 3))
    position = None if frame == 'camera' else -np.asarray(person.cam_t, dtype=np.float64)
    return save_glb(path, vertices, faces, vertex_colours=colours, camera=camera,
                    camera_position=position,
                    frame='camera' if frame == 'camera' else 'root-centred', overwrite=overwrite)


def _obj_header(person: MeshPrediction, frame: str) -> str:
    """The comment lines naming an .obj's frame, axes and camera."""
    fx, fy, cx, cy = person.intrinsics_key()
    tx, ty, tz = (float(v) for v in person.cam_t)
    where = ('frame: camera (the image camera at the origin)' if frame == 'camera' else
             'frame: root-centred (the mesh root at the origin; the image camera at -cam_t)')
    return '\n'.join([
        'fastmetro_mm mesh, metres, OpenCV camera axes (x right, y down, z forward)', where,
        f'camera intrinsics fx={fx:.6g} fy={fy:.6g} cx={cx:.6g} cy={cy:.6g} (pixels)',
        f'cam_t={tx:.6g} {ty:.6g} {tz:.6g} (root -> camera frame)'])
