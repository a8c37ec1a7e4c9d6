"""Writing meshes as binary glTF (.glb): coloured meshes and the image's camera, one scene.

Frames and axes. FastMETRO's meshes live in the image camera's frame in OpenCV axes (x right,
y down, z forward, metres; ``MeshPrediction.vertices_cam``), or root-relative in the same axes
(``MeshPrediction.vertices``). glTF viewers expect y up and look down -z, so a .glb written
here holds every point as ``(x, -y, -z)`` (OpenCV axes turned 180 degrees about x): a person
stands upright in any viewer, and the camera node, a glTF perspective camera, looks at them
exactly as the photo did. The scene's ``extras`` name the frame (``frame``: 'camera' when the
camera sits at the origin; :func:`save_person_mesh` writes 'root-centred' for meshes on their
root with the camera at ``-cam_t``) and hold the full intrinsics (``intrinsics`` K,
``image_size``), which glTF's camera (a vertical field of view and an aspect ratio) cannot
hold: an off-centre principal point is lost in a viewer, not in the file.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from ..mesh.atomic_file import atomic_write
from ..mesh.image_camera import ImageCamera
from ..render.person_colours import person_colour

PathLike = Union[str, Path]
#: OpenCV camera axes -> glTF axes (y up, looking down -z): 180 degrees about x.
OPENCV_TO_GLTF = np.diag([1.0, -1.0, -1.0])


def save_glb(path: PathLike, vertices: np.ndarray, faces: np.ndarray,
             vertex_colours: Optional[np.ndarray] = None,
             camera: Optional[ImageCamera] = None,
             camera_position: Optional[np.ndarray] = None,
             frame: Optional[str] = None, overwrite: bool = False) -> Path:
    """Writes one or several triangle meshes, and optionally their camera, as a .glb file.

    Args:
        path: output file, ending in .glb; missing folders are made.
        vertices: (V, 3) one mesh or (P, V, 3) one per person, metres, OpenCV camera axes.
        faces: (F, 3) vertex indices (0-based), shared by all meshes.
        vertex_colours: (V, 3) / (P, V, 3) RGB in [0, 1] or uint8 (an alpha column is
            allowed); None: a plain material per person in the demos' person colours.
        camera: the image camera; written as a perspective camera node with its vertical
            field of view and aspect ratio, its K in the scene extras. None: no camera.
        camera_position: (3,) the camera's centre in the vertices' frame (OpenCV axes);
            None: the origin (vertices in the camera frame). For root-centred meshes
            (``MeshPrediction.vertices``) pass ``-cam_t``.
        frame: the frame's name written in the scene extras; None: 'camera' without
            ``camera_position``, else 'camera frame moved (the camera at camera_position)'.
        overwrite: replace an existing file instead of refusing.

    Returns:
        The written path.

    Raises:
        ValueError: a path not ending in .glb; arrays of other shapes; face indices out of
            range; colours of another shape or range.
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    import trimesh
    from trimesh.exchange.gltf import export_glb

    path = Path(path)
    if path.suffix.lower() != '.glb':
        raise ValueError(f'save_glb: the file must end in .glb, got {path}')
    if path.exists() and not overwrite:  # before the work, not only after it
        raise FileExistsError(f'{path} exists; pass overwrite=True to replace it')
    meshes = np.asarray(vertices, dtype=np.float64)
    meshes = meshes[None] if meshes.ndim == 2 else meshes
    faces = np.asarray(faces, dtype=np.int64)
    if meshes.ndim != 3 or meshes.shape[2] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f'save_glb {path}: expected vertices (V, 3) or (P, V, 3) and faces '
                         f'(F, 3), got {np.shape(vertices)} and {faces.shape}')
    if faces.size and (faces.min() < 0 or faces.max() >= meshes.shape[1]):
        raise ValueError(f'save_glb {path}: face indices must lie in [0, {meshes.shape[1]})')
    colours = _colours(vertex_colours, meshes.shape[:2], path)
    origin = np.zeros(3) if camera_position is None else np.asarray(camera_position, float)
    if origin.shape != (3, ) or not np.all(np.isfinite(origin)):
        raise ValueError(f'save_glb {path}: camera_position must be 3 finite numbers, got '
                         f'{camera_position!r}')

    scene = trimesh.Scene()
    for index, mesh_vertices in enumerate(meshes):
        mesh = trimesh.Trimesh(mesh_vertices @ OPENCV_TO_GLTF, faces, process=False)
        if colours is None:
            material = trimesh.visual.material.PBRMaterial(
                name=f'person{index}', baseColorFactor=np.append(person_colour(index), 1.0),
                metallicFactor=0.0, roughnessFactor=0.8, doubleSided=True)
            mesh.visual = trimesh.visual.TextureVisuals(material=material)
        else:
            mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=colours[index])
        scene.add_geometry(mesh, geom_name=f'person{index}', node_name=f'person{index}')
    if frame is None:
        frame = ('camera' if camera_position is None else
                 'camera frame moved (the camera at camera_position)')
    extras: Dict[str, Any] = dict(frame=frame,
                                  axes='glTF: x right, y up, z towards the viewer (OpenCV '
                                  'camera axes turned 180 degrees about x), metres')
    if camera is not None:
        extras.update(intrinsics=camera.intrinsics.tolist(),
                      image_size=list(camera.image_size),
                      camera_position=(origin @ OPENCV_TO_GLTF).tolist())
    data = export_glb(scene, tree_postprocessor=lambda tree: _finish_tree(tree, extras, camera,
                                                                          origin))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, overwrite=overwrite) as stream:
        stream.write(data)
    return path


def _colours(colours: Optional[np.ndarray], shape: Sequence[int],
             path: Path) -> Optional[np.ndarray]:
    """(P, V, 4) uint8 RGBA from (V, 3|4) or (P, V, 3|4) colours in [0, 1] or uint8."""
    if colours is None:
        return None
    array = np.asarray(colours)
    array = array[None] if array.ndim == 2 else array
    people, count = shape
    if array.ndim != 3 or array.shape[:2] not in ((people, count), (1, count)) \
            or array.shape[2] not in (3, 4):
        raise ValueError(f'save_glb {path}: vertex_colours must have shape ({count}, 3|4) or '
                         f'({people}, {count}, 3|4), got {np.shape(colours)}')
    if array.dtype != np.uint8:
        array = array.astype(np.float64)
        if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
            raise ValueError(f'save_glb {path}: float vertex_colours must lie in [0, 1], got '
                             f'[{array.min()}, {array.max()}]')
        array = np.round(array * 255).astype(np.uint8)
    if array.shape[2] == 3:
        array = np.concatenate([array, np.full(array.shape[:2] + (1, ), 255, np.uint8)], 2)
    return np.broadcast_to(array, (people, count, 4))


def _finish_tree(tree: Dict[str, Any], extras: Dict[str, Any], camera: Optional[ImageCamera],
                 origin: np.ndarray) -> None:
    """Adds the scene extras and, given a camera, a glTF perspective camera and its node (at
    ``origin``) to an exported tree.

    glTF's camera shows the image with ``tan(yfov / 2) = (H / 2) / f_y`` and
    ``aspectRatio * tan(yfov / 2) = (W / 2) / f_x``.
    """
    tree['scenes'][tree.get('scene', 0)]['extras'] = extras
    if camera is None:
        return
    fx, fy = camera.focal_lengths
    width, height = camera.image_size
    yfov = 2.0 * math.atan(0.5 * height / fy)
    tree['cameras'] = [dict(name='image_camera', type='perspective', perspective=dict(
        yfov=yfov, aspectRatio=(width * fy) / (height * fx), znear=0.01))]
    nodes = tree.setdefault('nodes', [])
    nodes.append(dict(name='image_camera', camera=0,
                      translation=(origin @ OPENCV_TO_GLTF).tolist()))
    root = tree['scenes'][tree.get('scene', 0)]['nodes'][0]
    nodes[root].setdefault('children', []).append(len(nodes) - 1)
