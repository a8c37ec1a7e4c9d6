"""Offscreen mesh rendering over an image (pyrender with OSMesa or EGL).

Meshes are given in the image's camera frame (OpenCV axes: x right, y down, z forward, metres),
as :func:`fastmetro_mm.mesh.image_camera.crop_cam_to_translation` or the synthetic dataset
place them; the camera is an :class:`ImageCamera` (pixel centres at integer coordinates). All
meshes of an image are drawn in one scene, so the z-buffer orders them by depth (a nearer
person hides a farther one where they overlap).

The same renderer draws the overlays of :mod:`fastmetro_mm.visualization` and the images of
the synthetic datasets (:mod:`fastmetro_mm.synthetic`), which differ only in their light and
material.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from fastmetro_mm.mesh.image_camera import ImageCamera

from .lighting import OVERLAY_LIGHTING, Lighting
from .offscreen_gl import open_offscreen_renderer
from .person_colours import person_colour
from .vertex_normals import vertex_normals

#: OpenCV camera frame -> OpenGL's (y up, looking down -z).
_CV_TO_GL = np.array([1.0, -1.0, -1.0])


@dataclass
class RenderResult:
    """One rendered view.

    Attributes:
        image: (H, W, 3) uint8 RGB, the meshes over the background.
        mask: (H, W) bool, pixels covered by any mesh.
        depth: (H, W) float32 camera depth of the nearest mesh, 0 where none.
    """

    image: np.ndarray
    mask: np.ndarray
    depth: np.ndarray


class MeshRenderer:
    """Renders triangle meshes with one topology under a pinhole camera, offscreen.

    Args:
        faces: (F, 3) vertex indices, wound counter-clockwise seen from outside.
        lighting: the light of every render unless :meth:`render` is given another.
        roughness: roughness of the (non-metallic) material, in [0, 1].
        clip_planes: (near, far) camera depths in metres between which meshes are drawn; None:
            fitted to each render's meshes (half the nearest and twice the farthest vertex
            depth), for the most depth-buffer precision. The synthetic datasets fix them:
            where two surfaces nearly touch, the precision decides the odd pixel, and their
            images must stay the same bit for bit.

    Raises:
        RuntimeError: naming libosmesa6 / libegl1 when no offscreen GL context can be made.
    """

    def __init__(self, faces: np.ndarray, lighting: Lighting = OVERLAY_LIGHTING,
                 roughness: float = 0.6,
                 clip_planes: Optional[Tuple[float, float]] = None) -> None:
        faces = np.asarray(faces)
        if faces.ndim != 2 or faces.shape[1] != 3:
            raise ValueError(f'MeshRenderer: faces must have shape (F, 3), got {faces.shape}')
        if not 0.0 <= roughness <= 1.0:
            raise ValueError(f'MeshRenderer: roughness must be in [0, 1], got {roughness}')
        if clip_planes is not None and not 0.0 < clip_planes[0] < clip_planes[1]:
            raise ValueError(f'MeshRenderer: clip_planes must be (near, far) with '
                             f'0 < near < far, got {clip_planes}')
        self._pyrender, self._renderer = open_offscreen_renderer('MeshRenderer')
        self.faces = np.ascontiguousarray(faces, dtype=np.uint32)
        self.num_vertices = int(self.faces.max()) + 1
        self.lighting = lighting
        self.roughness = float(roughness)
        self.clip_planes = clip_planes

    # ------------------------------------------------------------------------------------
    def vertex_normals(self, vertices: np.ndarray) -> np.ndarray:
        """(V, 3) unit normals of (V, 3) vertices."""
        return vertex_normals(vertices, self.faces)

    def _check_vertices(self, vertices: np.ndarray) -> np.ndarray:
        vertices = np.asarray(vertices, dtype=np.float64)
        if vertices.ndim == 2:
            vertices = vertices[None]
        if vertices.ndim != 3 or vertices.shape[1:] != (self.num_vertices, 3):
            raise ValueError(f'MeshRenderer: vertices must have shape (P, {self.num_vertices}, '
                             f'3) (camera frame, metres), got {vertices.shape}')
        if vertices.shape[0] and np.any(vertices[..., 2] <= 0):
            raise ValueError('MeshRenderer: some vertices are at or behind the camera (z <= 0)')
        return vertices

    def _primitive(self, vertices: np.ndarray, base: np.ndarray,
                   colour_0: Optional[np.ndarray]):
        """A pyrender primitive of one (V, 3) OpenCV-frame mesh with a (4,) base colour and
        optional (V, 4) vertex colours."""
        pyrender = self._pyrender
        gl_vertices = (vertices * _CV_TO_GL).astype(np.float32)
        return pyrender.Primitive(
            positions=gl_vertices,
            normals=self.vertex_normals(gl_vertices).astype(np.float32),
            indices=self.faces,
            color_0=None if colour_0 is None else colour_0.astype(np.float32),
            material=pyrender.MetallicRoughnessMaterial(
                baseColorFactor=base, metallicFactor=0.0, roughnessFactor=self.roughness,
                alphaMode='OPAQUE'))

    def render(self,
               vertices: np.ndarray,
               camera: ImageCamera,
               background: Optional[np.ndarray] = None,
               colours: Optional[Sequence[np.ndarray]] = None,
               vertex_colours: Optional[np.ndarray] = None,
               alpha: float = 1.0,
               lighting: Optional[Lighting] = None) -> RenderResult:
        """Renders P meshes over a background image.

        Args:
            vertices: (P, V, 3) or (V, 3) vertices in the camera frame (OpenCV axes, metres).
            camera: the pinhole camera; its ``image_size`` is the output size.
            background: (H, W, 3) uint8 RGB of the camera's size; None gives black.
            colours: P (3,) RGB base colours in [0, 1]; default :data:`PERSON_COLOURS`.
            vertex_colours: (P, V, 3) or (V, 3) per-vertex RGB in [0, 1] instead of
                ``colours`` (e.g. attention maps, clothes-like body parts).
            alpha: opacity of the meshes over the background, in (0, 1].
            lighting: the light of this view; None: the renderer's.

        Returns:
            The rendered :class:`RenderResult`.
        """
        vertices = self._check_vertices(vertices)
        width, height = camera.image_size
        if background is None:
            background = np.zeros((height, width, 3), np.uint8)
        background = np.asarray(background)
        if background.shape != (height, width, 3):
            raise ValueError(f'MeshRenderer: background must have shape ({height}, {width}, 3) '
                             f'(the camera image size), got {background.shape}')
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f'MeshRenderer: alpha must be in (0, 1], got {alpha}')
        if vertex_colours is not None:
            vertex_colours = np.asarray(vertex_colours, dtype=np.float64)
            if vertex_colours.ndim == 2:
                vertex_colours = vertex_colours[None]
            if vertex_colours.shape != vertices.shape:
                raise ValueError(f'MeshRenderer: vertex_colours must have shape '
                                 f'{vertices.shape}, got {vertex_colours.shape}')
        if colours is not None and len(colours) != len(vertices):
            raise ValueError(f'MeshRenderer: {len(colours)} colours for {len(vertices)} meshes')
        if len(vertices) == 0:
            return RenderResult(background.astype(np.uint8).copy(),
                                np.zeros((height, width), bool),
                                np.zeros((height, width), np.float32))
        lighting = self.lighting if lighting is None else lighting

        pyrender = self._pyrender
        scene = pyrender.Scene(bg_color=np.zeros(4), ambient_light=np.full(3, lighting.ambient))
        for index, mesh in enumerate(vertices):
            if vertex_colours is not None:  # per-vertex colours times a white material
                colour_0 = np.concatenate([vertex_colours[index], np.ones((len(mesh), 1))],
                                          axis=1)
                base = np.ones(4)
            else:
                colour_0 = None
                rgb = person_colour(index) if colours is None else np.asarray(colours[index])
                base = np.append(rgb, 1.0)
            scene.add(pyrender.Mesh([self._primitive(mesh, base, colour_0)]))
        if self.clip_planes is None:
            depths = vertices[..., 2]
            near, far = 0.5 * depths.min(), 2.0 * depths.max()
        else:
            near, far = self.clip_planes
        cx, cy = camera.principal_point
        fx, fy = camera.focal_lengths
        # pyrender's window coordinates put pixel centres at +0.5.
        gl_camera = pyrender.IntrinsicsCamera(
            fx=fx, fy=fy, cx=cx + 0.5, cy=cy + 0.5,
            znear=float(near), zfar=float(far))
        scene.add(gl_camera, pose=np.eye(4))
        light_pose = np.eye(4)
        light_pose[:3, :3] = lighting.rotation
        scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=lighting.intensity),
                  pose=light_pose)
        renderer = self._renderer
        renderer.viewport_width, renderer.viewport_height = width, height
        rgb, depth = renderer.render(scene)
        mask = depth > 0
        blended = background.astype(np.float32)
        blended[mask] = alpha * rgb[mask] + (1.0 - alpha) * blended[mask]
        return RenderResult(np.clip(np.round(blended), 0, 255).astype(np.uint8), mask,
                            depth.astype(np.float32))

    def render_side_view(self,
                         vertices: np.ndarray,
                         camera: ImageCamera,
                         angle: float = 90.0,
                         background_colour: Tuple[int, int, int] = (255, 255, 255),
                         colours: Optional[Sequence[np.ndarray]] = None) -> RenderResult:
        """Renders each mesh turned in place about the vertical axis through its centre.

        Each person turns about their own centre rather than the group's: people at very
        different depths would otherwise be thrown far apart sideways (their depth gap becomes
        a sideways gap), out of the picture.

        Args:
            vertices: (P, V, 3) or (V, 3) camera-frame vertices.
            camera: the image's camera (the side view has the same size and focal length).
            angle: degrees of the turn; 90 shows each person from the image's right side.
            background_colour: RGB of the plain background.
            colours: as :meth:`render`.

        Returns:
            The rendered :class:`RenderResult` of the turned meshes.
        """
        vertices = self._check_vertices(vertices)
        width, height = camera.image_size
        background = np.empty((height, width, 3), np.uint8)
        background[:] = np.asarray(background_colour, dtype=np.uint8)
        if len(vertices) == 0:
            return self.render(vertices, camera, background)
        pivot = vertices.mean(axis=1, keepdims=True)  # (P, 1, 3)
        turn = Rotation.from_euler('y', angle, degrees=True).as_matrix()
        turned = (vertices - pivot) @ turn.T + pivot
        return self.render(turned, camera, background, colours=colours)

    def close(self) -> None:
        """Releases the GL context."""
        self._renderer.delete()

    def __enter__(self) -> 'MeshRenderer':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
