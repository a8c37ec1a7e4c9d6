"""Scene pieces for ``make_synthetic.py``: poses, cameras, lights, backgrounds, rendering.

Coordinates: the camera frame is OpenCV's (x right, y down, z forward), as SPIN and FreiHAND
store 3D joints. Intrinsics ``K`` follow the convention that pixel ``(i, j)`` has its centre at
integer coordinates, so ``K @ X / Z`` gives the pixel position an annotation tool would click.
SMPL's model frame is y up, the body facing +z and its left on +x.

Importing this module selects OSMesa for PyOpenGL unless ``PYOPENGL_PLATFORM`` is already set
(e.g. to ``egl``); the choice must happen before pyrender is imported.
"""
from __future__ import annotations

import colorsys
import os

os.environ.setdefault('PYOPENGL_PLATFORM', 'osmesa')

from typing import Sequence, Tuple  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

GL_HELP = ('offscreen OpenGL is not available; install OSMesa (Debian/Ubuntu: '
           "'apt-get install libosmesa6', then PYOPENGL_PLATFORM=osmesa, this tool's default) "
           'or use EGL with a GPU driver (PYOPENGL_PLATFORM=egl)')

# Per-joint axis-angle component ranges (radians) for SMPL's 23 body joints in SMPL's joint
# frames (x: body's left, y: up, z: forward at rest). Knee flexion is +x (shin swings back),
# hip flexion -x (thigh swings forward), left-elbow flexion -y and right-elbow +y (forearm
# swings forward from the T-pose), lowering the left arm -z and the right arm +z.
_BODY_LIMITS = {
    'L_Hip': ((-1.0, 0.3), (-0.35, 0.35), (-0.1, 0.55)),
    'R_Hip': ((-1.0, 0.3), (-0.35, 0.35), (-0.55, 0.1)),
    'Spine1': ((-0.1, 0.35), (-0.2, 0.2), (-0.15, 0.15)),
    'L_Knee': ((0.0, 1.7), (-0.05, 0.05), (-0.05, 0.05)),
    'R_Knee': ((0.0, 1.7), (-0.05, 0.05), (-0.05, 0.05)),
    'Spine2': ((-0.1, 0.3), (-0.2, 0.2), (-0.1, 0.1)),
    'L_Ankle': ((-0.35, 0.4), (-0.2, 0.2), (-0.15, 0.15)),
    'R_Ankle': ((-0.35, 0.4), (-0.2, 0.2), (-0.15, 0.15)),
    'Spine3': ((-0.1, 0.2), (-0.15, 0.15), (-0.1, 0.1)),
    'L_Foot': ((-0.2, 0.2), (-0.05, 0.05), (-0.05, 0.05)),
    'R_Foot': ((-0.2, 0.2), (-0.05, 0.05), (-0.05, 0.05)),
    'Neck': ((-0.25, 0.4), (-0.4, 0.4), (-0.2, 0.2)),
    'L_Collar': ((-0.1, 0.1), (-0.15, 0.15), (-0.2, 0.1)),
    'R_Collar': ((-0.1, 0.1), (-0.15, 0.15), (-0.1, 0.2)),
    'Head': ((-0.3, 0.4), (-0.5, 0.5), (-0.2, 0.2)),
    'L_Shoulder': ((-0.5, 0.5), (-1.0, 0.5), (-1.35, 0.6)),
    'R_Shoulder': ((-0.5, 0.5), (-0.5, 1.0), (-0.6, 1.35)),
    'L_Elbow': ((-0.1, 0.1), (-2.2, 0.0), (-0.1, 0.1)),
    'R_Elbow': ((-0.1, 0.1), (0.0, 2.2), (-0.1, 0.1)),
    'L_Wrist': ((-0.5, 0.5), (-0.3, 0.3), (-0.6, 0.6)),
    'R_Wrist': ((-0.5, 0.5), (-0.3, 0.3), (-0.6, 0.6)),
    'L_Hand': ((-0.2, 0.2), (-0.1, 0.1), (-0.2, 0.2)),
    'R_Hand': ((-0.2, 0.2), (-0.1, 0.1), (-0.2, 0.2)),
}


def body_pose_limits(joint_names: Tuple[str, ...]) -> np.ndarray:
    """Axis-angle ranges of SMPL's body joints.

    Args:
        joint_names: SMPL's 24 joint names (``SMPL_24.names``), root first.

    Returns:
        (23, 3, 2) lower and upper bound per joint 1..23 and axis component.
    """
    missing = [n for n in joint_names[1:] if n not in _BODY_LIMITS]
    if missing:
        raise KeyError(f'synthetic_scene: no pose limits for SMPL joints {missing}')
    return np.array([_BODY_LIMITS[n] for n in joint_names[1:]], dtype=np.float64)


def sample_body_pose(rng: np.random.Generator, limits: np.ndarray) -> np.ndarray:
    """Body joint rotations drawn uniformly inside ``limits``.

    Args:
        rng: Random generator.
        limits: (23, 3, 2) from :func:`body_pose_limits`.

    Returns:
        (69,) axis-angle of joints 1..23.
    """
    low, high = limits[..., 0], limits[..., 1]
    return (low + (high - low) * rng.random(low.shape)).reshape(-1)


def sample_pose_prototypes(rng: np.random.Generator, limits: np.ndarray,
                           count: int) -> np.ndarray:
    """``count`` body poses drawn like :func:`sample_body_pose`, to sample near.

    Returns:
        (count, 69) axis-angle of joints 1..23.
    """
    return np.stack([sample_body_pose(rng, limits) for _ in range(count)])


def sample_pose_near_prototype(rng: np.random.Generator, prototypes: np.ndarray,
                               limits: np.ndarray, jitter: float) -> np.ndarray:
    """One of ``prototypes``, chosen uniformly, with every joint angle moved by up to
    ``jitter`` times its range and clipped to ``limits``.

    A few distinct poses seen from many viewpoints, instead of independent joint angles: a
    network trained from random weights for minutes on a CPU can learn to tell such poses
    apart, where it does not learn independent angles in that time (README, quickstart).

    Args:
        rng: Random generator.
        prototypes: (P, 69) from :func:`sample_pose_prototypes`.
        limits: (23, 3, 2) from :func:`body_pose_limits`.
        jitter: Largest change of each angle as a fraction of its range.

    Returns:
        (69,) axis-angle of joints 1..23.
    """
    low, high = limits[..., 0].reshape(-1), limits[..., 1].reshape(-1)
    pose = prototypes[rng.integers(len(prototypes))]
    pose = pose + jitter * (high - low) * rng.uniform(-1.0, 1.0, size=pose.shape)
    return np.clip(pose, low, high)


def sample_body_orientation(rng: np.random.Generator, max_yaw: float = np.pi) -> np.ndarray:
    """An upright body turned by up to ``max_yaw`` from facing the camera, seen from a camera
    a little above or below.

    Args:
        rng: Random generator.
        max_yaw: largest turn about the body's vertical axis, radians; pi: any direction.

    Returns:
        (3,) axis-angle of the global orientation in the camera frame.
    """
    yaw = rng.uniform(-max_yaw, max_yaw)
    pitch = rng.uniform(-0.3, 0.3)  # camera elevation
    roll = rng.uniform(-0.12, 0.12)
    # Yaw about the body's vertical first, then tilt about the camera's horizontal axis
    # (elevation, seen as foreshortening) and roll in the image plane; last, the model frame
    # (y up, facing +z) goes to the camera frame (y down, z away): a half turn about x, so at
    # yaw 0 the body faces the camera.
    body = Rotation.from_euler('x', np.pi) * Rotation.from_euler('yzx', [yaw, roll, pitch])
    return body.as_rotvec()


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """(3,) axis-angle of a rotation uniform on SO(3) (from a unit quaternion)."""
    quat = rng.normal(size=4)
    return Rotation.from_quat(quat / np.linalg.norm(quat)).as_rotvec()


def sample_betas(rng: np.random.Generator, num: int = 10, clip: float = 2.0) -> np.ndarray:
    """(num,) shape coefficients from N(0, 1), clipped to [-clip, clip]."""
    return np.clip(rng.normal(size=num), -clip, clip)


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


#: Background kinds of :func:`sample_background`, in the order its random draw picks them.
BACKGROUND_KINDS = ('solid', 'gradient', 'noise')


def sample_background(rng: np.random.Generator, width: int, height: int,
                      kinds: Sequence[str] = BACKGROUND_KINDS) -> np.ndarray:
    """A solid colour, a linear gradient or smooth colour noise with grain.

    Args:
        rng: Random generator.
        width, height: Image size.
        kinds: The kinds to draw from, uniformly (a subset of :data:`BACKGROUND_KINDS`).

    Returns:
        (height, width, 3) uint8 image.
    """
    unknown = sorted(set(kinds) - set(BACKGROUND_KINDS))
    if not kinds or unknown:
        raise ValueError(f'synthetic_scene: background kinds must be a non-empty subset of '
                         f'{BACKGROUND_KINDS}, got {tuple(kinds)}')
    kind = kinds[rng.integers(len(kinds))]
    if kind == 'solid':
        image = np.broadcast_to(rng.uniform(0, 255, size=3), (height, width, 3))
    elif kind == 'gradient':
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width]
        ramp = np.cos(angle) * xs / width + np.sin(angle) * ys / height
        ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-9)
        start, end = rng.uniform(0, 255, size=(2, 3))
        image = start + ramp[..., None] * (end - start)
    else:
        cells = rng.uniform(0, 255, size=(rng.integers(3, 9), rng.integers(3, 9), 3))
        image = _bilinear_resize(cells, height, width)
        image = image + rng.normal(0.0, rng.uniform(2, 12), size=image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _bilinear_resize(cells: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, C) grid stretched over (height, width, C) by bilinear interpolation.

    Separable (columns on the small grid first) so the full-size work is one blend.
    """
    def weights(num_cells: int, size: int) -> Tuple[np.ndarray, np.ndarray]:
        pos = np.linspace(0, num_cells - 1, size)
        start = np.minimum(np.floor(pos).astype(int), num_cells - 2)
        return start, pos - start

    x0, fx = weights(cells.shape[1], width)
    rows = cells[:, x0] * (1 - fx)[None, :, None] + cells[:, x0 + 1] * fx[None, :, None]
    y0, fy = weights(cells.shape[0], height)
    return rows[y0] * (1 - fy)[:, None, None] + rows[y0 + 1] * fy[:, None, None]


def sample_mesh_colour(rng: np.random.Generator, background: np.ndarray,
                       min_distance: float = 110.0) -> np.ndarray:
    """A base colour that stands out from the background's mean colour.

    Args:
        rng: Random generator.
        background: (H, W, 3) uint8 background.
        min_distance: Required RGB distance (0..255 scale) to the background mean.

    Returns:
        (3,) RGB in [0, 1].
    """
    mean = background.reshape(-1, 3).mean(0)
    colour = rng.uniform(0, 255, size=3)
    for _ in range(20):
        if np.linalg.norm(colour - mean) >= min_distance:
            break
        colour = rng.uniform(0, 255, size=3)
    else:
        colour = np.where(mean > 127.5, 25.0, 230.0)  # the far corner of the colour cube
    return colour / 255.0


#: Body parts of :func:`body_part_colours`: SMPL joints whose skinning dominates each part.
#: Left and right share a part (and so a colour), so a horizontal flip of the image keeps
#: colours and joint labels consistent.
BODY_PARTS = (
    ('torso', ('Pelvis', 'Spine1', 'Spine2', 'Spine3', 'L_Collar', 'R_Collar')),
    ('head', ('Neck', 'Head')),
    ('upper arms', ('L_Shoulder', 'R_Shoulder')),
    ('forearms and hands', ('L_Elbow', 'R_Elbow', 'L_Wrist', 'R_Wrist', 'L_Hand', 'R_Hand')),
    ('thighs', ('L_Hip', 'R_Hip')),
    ('shins and feet', ('L_Knee', 'R_Knee', 'L_Ankle', 'R_Ankle', 'L_Foot', 'R_Foot')),
)


def body_part_colours(skinning_weights: np.ndarray, joint_names: Sequence[str]) -> np.ndarray:
    """Per-vertex colours, one saturated hue per body part (like clothes), so that limbs can
    be told apart in the image.

    Args:
        skinning_weights: (V, J) linear blend skinning weights of the body model.
        joint_names: The J joint names (``SMPL_24.names``).

    Returns:
        (V, 3) RGB in [0, 1].
    """
    part_of_joint = {joint: part for part, (_, joints) in enumerate(BODY_PARTS)
                     for joint in joints}
    missing = [name for name in joint_names if name not in part_of_joint]
    if missing or len(joint_names) != skinning_weights.shape[1]:
        raise ValueError(f'synthetic_scene: body_part_colours needs the {len(part_of_joint)} '
                         f'SMPL joints, one per skinning-weight column; got {len(joint_names)} '
                         f'names for {skinning_weights.shape[1]} columns (no part for {missing})')
    hues = np.arange(len(BODY_PARTS)) / len(BODY_PARTS)
    palette = np.array([colorsys.hsv_to_rgb(hue, 0.85, 1.0) for hue in hues])
    parts = np.array([part_of_joint[name] for name in joint_names])
    return palette[parts[np.argmax(skinning_weights, axis=1)]]


class MeshRenderer:
    """Offscreen pyrender renderer for one triangle mesh under a pinhole camera.

    Args:
        width, height: Image size in pixels.
        faces: (F, 3) triangle vertex indices, wound outwards.
        num_vertices: Vertex count of the meshes to render.

    Raises:
        RuntimeError: naming libosmesa6 / PYOPENGL_PLATFORM when offscreen GL is unavailable.
    """

    def __init__(self, width: int, height: int, faces: np.ndarray, num_vertices: int) -> None:
        try:
            import pyrender
            self._renderer = pyrender.OffscreenRenderer(width, height)
        except Exception as exc:  # ImportError, OSError, GL errors: all mean "no offscreen GL"
            platform = os.environ.get('PYOPENGL_PLATFORM')
            raise RuntimeError(f'{GL_HELP} (PYOPENGL_PLATFORM={platform!r}; '
                               f'{type(exc).__name__}: {exc})') from exc
        self._pyrender = pyrender
        self.width, self.height = width, height
        self.faces = np.ascontiguousarray(faces, dtype=np.uint32)
        num_faces = len(faces)
        # Vertex normals = sum of the adjacent faces' area-weighted normals, as one sparse
        # product per render instead of a Python loop.
        rows = self.faces.reshape(-1).astype(np.int64)
        cols = np.repeat(np.arange(num_faces), 3)
        self._face_to_vertex = scipy.sparse.csr_matrix(
            (np.ones(3 * num_faces), (rows, cols)), shape=(num_vertices, num_faces))
        # One scene for all renders: only the mesh node is swapped; camera intrinsics, light
        # and ambient level are set per render.
        self._scene = pyrender.Scene(bg_color=np.zeros(4), ambient_light=np.zeros(3))
        self._camera = pyrender.IntrinsicsCamera(fx=1.0, fy=1.0, cx=0.0, cy=0.0, znear=0.05,
                                                 zfar=100.0)
        self._scene.add(self._camera, pose=np.eye(4))
        self._light = pyrender.DirectionalLight(color=np.ones(3), intensity=1.0)
        self._light_node = self._scene.add(self._light, pose=np.eye(4))

    def vertex_normals(self, vertices: np.ndarray) -> np.ndarray:
        """(V, 3) unit normals of (V, 3) vertices."""
        tri = vertices[self.faces]
        face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normals = self._face_to_vertex @ face_normals
        return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)

    def render(self, vertices: np.ndarray, K: np.ndarray, colour: np.ndarray,
               background: np.ndarray, light_rotvec: np.ndarray, light_intensity: float,
               ambient: float) -> Tuple[np.ndarray, np.ndarray]:
        """Render the mesh over a background.

        Args:
            vertices: (V, 3) vertices in the OpenCV camera frame, metres.
            K: (3, 3) intrinsics (pixel centres at integers).
            colour: (3,) base colour or (V, 3) per-vertex colours, in [0, 1].
            background: (H, W, 3) uint8.
            light_rotvec: (3,) axis-angle turning the camera's viewing direction into the
                directional light's direction.
            light_intensity: Directional light intensity.
            ambient: Grey ambient light level.

        Returns:
            image (H, W, 3) uint8 and mask (H, W) bool of the pixels the mesh covers.
        """
        pyrender = self._pyrender
        # OpenCV camera frame to OpenGL's (y up, looking down -z).
        gl_vertices = (vertices * np.array([1.0, -1.0, -1.0])).astype(np.float32)
        vertex_colours, base_colour = None, colour
        if colour.ndim == 2:  # per-vertex colours, multiplied by a white material
            vertex_colours = np.concatenate([colour, np.ones((len(colour), 1))], axis=1)
            vertex_colours, base_colour = vertex_colours.astype(np.float32), np.ones(3)
        primitive = pyrender.Primitive(
            positions=gl_vertices, normals=self.vertex_normals(gl_vertices).astype(np.float32),
            color_0=vertex_colours, indices=self.faces,
            material=pyrender.MetallicRoughnessMaterial(
                baseColorFactor=np.append(base_colour, 1.0), metallicFactor=0.0,
                roughnessFactor=0.7))
        mesh_node = self._scene.add(pyrender.Mesh([primitive]))
        # pyrender's window coordinates put pixel centres at +0.5.
        camera = self._camera
        camera.fx, camera.fy = float(K[0, 0]), float(K[1, 1])
        camera.cx, camera.cy = float(K[0, 2]) + 0.5, float(K[1, 2]) + 0.5
        light_pose = np.eye(4)
        light_pose[:3, :3] = Rotation.from_rotvec(light_rotvec).as_matrix()
        self._scene.set_pose(self._light_node, light_pose)
        self._light.intensity = light_intensity
        self._scene.ambient_light = np.full(3, ambient)
        try:
            rgb, depth = self._renderer.render(self._scene)
        finally:
            self._scene.remove_node(mesh_node)
        mask = depth > 0
        image = np.where(mask[..., None], rgb, background)
        return image.astype(np.uint8), mask

    def close(self) -> None:
        """Release the GL context."""
        self._renderer.delete()


def sample_light(rng: np.random.Generator) -> Tuple[np.ndarray, float, float]:
    """A directional light from the camera's side of the scene and an ambient level.

    Returns:
        light_rotvec (3,), intensity, ambient level.
    """
    # A tilt of up to ~55 degrees off the viewing direction keeps the lit side visible.
    tilt = Rotation.from_euler('xy', rng.uniform(-0.95, 0.95, size=2))
    return tilt.as_rotvec(), float(rng.uniform(2.0, 5.0)), float(rng.uniform(0.15, 0.45))


def check_in_image(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N,) bool: which (N, 2) pixel positions lie inside a width x height image."""
    return ((uv[:, 0] >= -0.5) & (uv[:, 0] <= width - 0.5) & (uv[:, 1] >= -0.5)
            & (uv[:, 1] <= height - 0.5))
