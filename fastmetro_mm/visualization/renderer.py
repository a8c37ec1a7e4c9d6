"""Offscreen mesh rendering over the original image (pyrender with OSMesa or EGL).

Meshes are given in the image's camera frame (OpenCV axes: x right, y down, z forward, metres),
as :func:`fastmetro_mm.mesh.image_camera.crop_cam_to_translation` places them; the
camera is an :class:`ImageCamera`. All people of an image are drawn in one scene, so the
z-buffer orders them by depth (a nearer person hides a farther one where they overlap).

Offscreen OpenGL: importing this module selects OSMesa for PyOpenGL unless
``PYOPENGL_PLATFORM`` is already set (``egl`` on a GPU machine). This must happen before
PyOpenGL is first imported anywhere in the process.
"""
from __future__ import annotations

import os

os.environ.setdefault('PYOPENGL_PLATFORM', 'osmesa')

from dataclasses import dataclass  # noqa: E402
from typing import Optional, Sequence, Tuple  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from fastmetro_mm.mesh.image_camera import ImageCamera  # noqa: E402

#: What to install when no offscreen OpenGL context can be made.
GL_HELP = ('offscreen OpenGL is not available. Install OSMesa (Debian/Ubuntu: '
           "'apt-get install libosmesa6') and use PYOPENGL_PLATFORM=osmesa (the default here), "
           "or, on a machine with a GPU driver, install EGL ('apt-get install libegl1') and set "
           'PYOPENGL_PLATFORM=egl before Python starts')

#: Distinct light colours (RGB in [0, 1]) for the people of an image, in order.
PERSON_COLOURS = np.array([
    [0.65, 0.74, 0.86],  # light blue (the colour METRO / FastMETRO render with)
    [0.93, 0.62, 0.62],  # pink
    [0.62, 0.86, 0.62],  # green
    [0.95, 0.82, 0.50],  # sand
    [0.78, 0.65, 0.90],  # lilac
    [0.55, 0.85, 0.85],  # cyan
])


def person_colour(index: int) -> np.ndarray:
    """(3,) RGB colour of the ``index``-th person (the palette repeats)."""
    return PERSON_COLOURS[index % len(PERSON_COLOURS)]


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
        light_intensity: intensity of the directional light that shines from the camera.
        ambient: grey ambient light level.

    Raises:
        RuntimeError: naming libosmesa6 / libegl1 when no offscreen GL context can be made.
    """

    def __init__(self, faces: np.ndarray, light_intensity: float = 2.0,
                 ambient: float = 0.35) -> None:
        faces = np.asarray(faces)
        if faces.ndim != 2 or faces.shape[1] != 3:
            raise ValueError(f'MeshRenderer: faces must have shape (F, 3), got {faces.shape}')
        try:
            import pyrender
            self._renderer = pyrender.OffscreenRenderer(64, 64)
        except Exception as exc:  # ImportError, OSError, GL errors: all mean "no offscreen GL"
            platform = os.environ.get('PYOPENGL_PLATFORM')
            raise RuntimeError(f'MeshRenderer: {GL_HELP} (PYOPENGL_PLATFORM={platform!r}; '
                               f'{type(exc).__name__}: {exc})') from exc
        self._pyrender = pyrender
        self.faces = np.ascontiguousarray(faces, dtype=np.uint32)
        self.num_vertices = int(self.faces.max()) + 1
        num_faces = len(self.faces)
        # Vertex normal = sum of adjacent area-weighted face normals: one sparse product.
        rows = self.faces.reshape(-1).astype(np.int64)
        cols = np.repeat(np.arange(num_faces), 3)
        self._face_to_vertex = scipy.sparse.csr_matrix(
            (np.ones(3 * num_faces), (rows, cols)), shape=(self.num_vertices, num_faces))
        self.light_intensity = float(light_intensity)
        self.ambient = float(ambient)

    # ------------------------------------------------------------------------------------
    def vertex_normals(self, vertices: np.ndarray) -> np.ndarray:
        """(V, 3) unit normals of (V, 3) vertices."""
        tri = vertices[self.faces]
        face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normals = self._face_to_vertex @ face_normals
        return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)

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

    def render(self,
               vertices: np.ndarray,
               camera: ImageCamera,
               background: Optional[np.ndarray] = None,
               colours: Optional[Sequence[np.ndarray]] = None,
               vertex_colours: Optional[np.ndarray] = None,
               alpha: float = 1.0) -> RenderResult:
        """Renders P meshes over a background image.

        Args:
            vertices: (P, V, 3) or (V, 3) vertices in the camera frame (OpenCV axes, metres).
            camera: the pinhole camera; its ``image_size`` is the output size.
            background: (H, W, 3) uint8 RGB of the camera's size; None gives black.
            colours: P (3,) RGB base colours in [0, 1]; default :data:`PERSON_COLOURS`.
            vertex_colours: (P, V, 3) or (V, 3) per-vertex RGB in [0, 1] instead of
                ``colours`` (e.g. attention maps).
            alpha: opacity of the meshes over the background, in (0, 1].

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

        pyrender = self._pyrender
        scene = pyrender.Scene(bg_color=np.zeros(4), ambient_light=np.full(3, self.ambient))
        flip = np.array([1.0, -1.0, -1.0])  # OpenCV camera frame -> OpenGL's (y up, -z ahead)
        for index, mesh in enumerate(vertices):
            gl_vertices = (mesh * flip).astype(np.float32)
            if vertex_colours is not None:
                colour_0 = np.concatenate([vertex_colours[index],
                                           np.ones((len(mesh), 1))], axis=1)
                base = np.ones(4)
            else:
                colour_0 = None
                rgb = person_colour(index) if colours is None else np.asarray(colours[index])
                base = np.append(rgb, 1.0)
            primitive = pyrender.Primitive(
                positions=gl_vertices,
                normals=self.vertex_normals(gl_vertices).astype(np.float32),
                indices=self.faces,
                color_0=None if colour_0 is None else colour_0.astype(np.float32),
                material=pyrender.MetallicRoughnessMaterial(
                    baseColorFactor=base, metallicFactor=0.0, roughnessFactor=0.6,
                    alphaMode='OPAQUE'))
            scene.add(pyrender.Mesh([primitive]))
        depths = vertices[..., 2]
        cx, cy = camera.principal_point
        # pyrender's window coordinates put pixel centres at +0.5.
        gl_camera = pyrender.IntrinsicsCamera(
            fx=camera.focal_length, fy=camera.focal_length, cx=cx + 0.5, cy=cy + 0.5,
            znear=float(0.5 * depths.min()), zfar=float(2.0 * depths.max()))
        scene.add(gl_camera, pose=np.eye(4))
        # A light from above the camera, tilted 20 degrees down onto the scene.
        light_pose = np.eye(4)
        light_pose[:3, :3] = Rotation.from_euler('x', -20, degrees=True).as_matrix()
        scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=self.light_intensity),
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
