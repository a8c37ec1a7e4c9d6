"""From the weak-perspective camera of a crop to a pinhole camera of the original image.

FastMETRO predicts, per person, a weak-perspective camera ``(s, tx, ty)`` for its square crop:
a root-relative point ``X`` (metres, OpenCV axes: x right, y down, z forward) lands at crop
coordinates ``x_c = s * (X_xy + t)`` in [-1, 1]. The crop covers the box ``c +- S / 2`` of the
original image (``c`` = ``input_center``, ``S`` = ``input_scale`` of MMPose's top-down
affine), so in image pixels

    u = c + (S / 2) * s * (X_xy + t).                                          (1)

A pinhole camera with focal length ``f`` and principal point ``p`` puts the same point, moved
by a translation ``T``, at

    u = p + f * (X_xy + T_xy) / (X_z + T_z)  ~=  p + (f / T_z) * (X_xy + T_xy)  (|X_z| << T_z).

Matching the two for every ``X`` gives

    T_z  = 2 f / (s * S),
    T_xy = t + (c - p) * T_z / f = t + 2 (c - p) / (s * S).                    (2)

Every person of an image gets the same camera (``f``, ``p``), so people are placed at depths
in proportion to their apparent size and one z-buffer orders them. The residual of the
approximation is a relative scale error ``X_z / T_z`` per point: with a large focal length
(5000 px per 256 image pixels, as SPIN and METRO render their crops) a point 0.15 m in front
of or behind the root moves by ``X_z / T_z`` of its distance to the principal point: well
under 1 % (a pixel or two at the border of a large image), so the overlay shows what the
network predicted. Pixel
centres are at integer coordinates, as MMPose's affine warp (and ``cv2.warpAffine``) uses.

A user's camera may have non-square pixels (``f_x != f_y``) and any principal point. The crop
is square in pixels and has one scale ``s``, so eq. (2) cannot hold for both axes at once; it
is kept exactly for the root (which lands where the crop camera puts it) with the geometric
mean ``f = sqrt(f_x f_y)`` for the depth,

    T_z = 2 g / (s S),   T_x = (g t_x + (c_x - p_x) T_z) / f_x,   (g = sqrt(f_x f_y))
                         T_y = (g t_y + (c_y - p_y) T_z) / f_y,

and the rest of the mesh is off by the factor ``sqrt(f_x / f_y)`` (and its inverse) in its
distance from the root along x (y): 0.5 % for a 1 % pixel aspect.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .camera import crop_to_image, image_to_crop

#: Focal length (pixels) per 256 pixels of the larger image side: SPIN / METRO render their
#: 224 crops with 5000 px; scaling with the image keeps the field of view (about 2.9 degrees)
#: and so the approximation error of eq. (2) the same for any image size.
FOCAL_LENGTH_PER_256_PX = 5000.0

ArrayLike = Union[np.ndarray, float, Tuple[float, ...]]


@dataclass(frozen=True)
class ImageCamera:
    """A pinhole camera for an original image (no skew).

    Attributes:
        focal_length: focal length in pixels (along x when the pixels are not square).
        principal_point: (2,) principal point (x, y) in pixels, pixel centres at integers.
        image_size: (width, height) of the image in pixels.
        focal_length_y: focal length along y in pixels; None: square pixels (``focal_length``).
    """

    focal_length: float
    principal_point: Tuple[float, float]
    image_size: Tuple[int, int]
    focal_length_y: Optional[float] = None

    @property
    def focal_lengths(self) -> Tuple[float, float]:
        """``(f_x, f_y)`` in pixels."""
        fy = self.focal_length if self.focal_length_y is None else self.focal_length_y
        return float(self.focal_length), float(fy)

    @classmethod
    def from_intrinsics(cls, intrinsics: Union[float, Sequence[float], np.ndarray],
                        width: int, height: int) -> 'ImageCamera':
        """The camera of a ``width`` x ``height`` image from a user's intrinsics.

        Args:
            intrinsics: a focal length (pixels; principal point at the image centre), four
                numbers ``(f_x, f_y, c_x, c_y)``, or a (3, 3) matrix
                ``K = [[f_x, 0, c_x], [0, f_y, c_y], [0, 0, 1]]``; pixel centres at integers
                (OpenCV's calibration convention).

        Raises:
            ValueError: another shape, a skew, a last row other than (0, 0, 1), non-finite or
                non-positive focal lengths; each naming the value.
        """
        values = np.asarray(intrinsics, dtype=np.float64)
        if values.shape in ((), (1, )):
            return cls.for_image(width, height, float(values.reshape(())))
        if values.shape == (3, 3):
            if not np.all(np.isfinite(values)):
                raise ValueError(f'camera intrinsics K must be finite, got {values.tolist()}')
            if values[0, 1] != 0 or values[1, 0] != 0 or not np.allclose(values[2], [0, 0, 1]):
                raise ValueError('camera intrinsics K must be [[fx, 0, cx], [0, fy, cy], '
                                 f'[0, 0, 1]] (no skew), got {values.tolist()}')
            values = values[[0, 1, 0, 1], [0, 1, 2, 2]]
        if values.shape != (4, ):
            raise ValueError('camera intrinsics must be a focal length, (fx, fy, cx, cy) or a '
                             f'(3, 3) matrix K, got an array of shape {values.shape}')
        fx, fy, cx, cy = (float(v) for v in values)
        if not np.all(np.isfinite(values)) or fx <= 0 or fy <= 0:
            raise ValueError(f'camera intrinsics: focal lengths must be finite and positive, '
                             f'got fx={fx}, fy={fy}, cx={cx}, cy={cy}')
        if width <= 0 or height <= 0:
            raise ValueError(f'ImageCamera: image size must be positive, got {width} x {height}')
        return cls(fx, (cx, cy), (int(width), int(height)), None if fy == fx else fy)

    @classmethod
    def for_image(cls, width: int, height: int,
                  focal_length: Optional[float] = None) -> 'ImageCamera':
        """The camera of a ``width`` x ``height`` image with its principal point at the centre.

        ``focal_length`` None means ``5000 * max(width, height) / 256`` pixels.
        """
        if width <= 0 or height <= 0:
            raise ValueError(f'ImageCamera: image size must be positive, got {width} x {height}')
        if focal_length is None:
            focal_length = FOCAL_LENGTH_PER_256_PX * max(width, height) / 256.0
        if focal_length <= 0:
            raise ValueError(f'ImageCamera: focal_length must be positive, got {focal_length}')
        return cls(float(focal_length), ((width - 1) / 2.0, (height - 1) / 2.0),
                   (int(width), int(height)))

    @property
    def intrinsics(self) -> np.ndarray:
        """(3, 3) matrix K such that ``K @ X / X_z`` gives pixels."""
        fx, fy = self.focal_lengths
        cx, cy = self.principal_point
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points (z > 0) to (..., 2) image pixels."""
        points = np.asarray(points, dtype=np.float64)
        if points.shape[-1] != 3:
            raise ValueError(f'ImageCamera.project: points must end in 3, got {points.shape}')
        depth = points[..., 2:3]
        if np.any(depth <= 0):
            raise ValueError('ImageCamera.project: points at or behind the camera (z <= 0)')
        return (np.asarray(self.focal_lengths) * points[..., :2] / depth
                + np.asarray(self.principal_point))


def _crop_size(scale: np.ndarray, batch: int) -> np.ndarray:
    """(B,) side of the square crop from (B,) or (B, 2) box sizes."""
    scale = np.asarray(scale, dtype=np.float64)
    if scale.shape == (batch, ):
        return scale
    if scale.shape != (batch, 2):
        raise ValueError(f'crop scale must have shape ({batch},) or ({batch}, 2) (box size in '
                         f'pixels), got {scale.shape}')
    if not np.allclose(scale[:, 0], scale[:, 1], rtol=1e-4):
        raise ValueError(
            f'the crop box must be square for a weak-perspective camera with one scale, got '
            f'(w, h) = {scale.tolist()}; a square model input (e.g. 224 x 224) makes '
            'MeshTopdownAffine pad the box to a square')
    return scale[:, 0]


def crop_cam_to_translation(cam: np.ndarray, center: np.ndarray, scale: np.ndarray,
                            camera: ImageCamera) -> np.ndarray:
    """Translations that place root-relative meshes in the original image's camera, eq. (2).

    Args:
        cam: (B, 3) weak-perspective cameras ``(s, tx, ty)`` of the crops; ``s > 0``.
        center: (B, 2) crop centres in image pixels (``input_center``).
        scale: (B, 2) or (B,) crop sizes in image pixels (``input_scale``); square.
        camera: the image's pinhole camera.

    Returns:
        (B, 3) translations ``T``; a root-relative point ``X`` is at ``X + T`` in the camera
        frame.
    """
    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim != 2 or cam.shape[1] != 3:
        raise ValueError(f'crop_cam_to_translation: cam must have shape (B, 3), got {cam.shape}')
    batch = cam.shape[0]
    center = np.asarray(center, dtype=np.float64)
    if center.shape != (batch, 2):
        raise ValueError(f'crop_cam_to_translation: center must have shape ({batch}, 2), got '
                         f'{center.shape}')
    size = _crop_size(scale, batch)
    s = cam[:, 0]
    if np.any(s <= 0):
        raise ValueError(f'crop_cam_to_translation: weak-perspective scales must be positive, '
                         f'got {s.tolist()} (a mesh behind the camera cannot be rendered)')
    pixels_per_unit = 0.5 * s * size  # (B,) image pixels per metre at the mesh
    focal = np.asarray(camera.focal_lengths)  # (2,) fx, fy
    mean_focal = np.sqrt(focal.prod())
    depth = mean_focal / pixels_per_unit
    offset = (center - np.asarray(camera.principal_point)) * depth[:, None]
    return np.concatenate([(mean_focal * cam[:, 1:] + offset) / focal, depth[:, None]], axis=1)


def translation_to_crop_cam(translation: np.ndarray, center: np.ndarray, scale: np.ndarray,
                            camera: ImageCamera) -> np.ndarray:
    """The inverse of :func:`crop_cam_to_translation`: (B, 3) ``T`` -> (B, 3) ``(s, tx, ty)``.

    Useful to describe a mesh placed by a perspective camera (ground truth, another method)
    with the weak-perspective camera FastMETRO would predict for a given crop.
    """
    translation = np.asarray(translation, dtype=np.float64)
    if translation.ndim != 2 or translation.shape[1] != 3:
        raise ValueError('translation_to_crop_cam: translation must have shape (B, 3), got '
                         f'{translation.shape}')
    batch = translation.shape[0]
    size = _crop_size(scale, batch)
    if np.any(translation[:, 2] <= 0):
        raise ValueError('translation_to_crop_cam: depths T_z must be positive')
    focal = np.asarray(camera.focal_lengths)  # (2,) fx, fy
    mean_focal = np.sqrt(focal.prod())
    pixels_per_unit = mean_focal / translation[:, 2]
    s = 2.0 * pixels_per_unit / size
    offset = ((np.asarray(center, dtype=np.float64) - np.asarray(camera.principal_point))
              * translation[:, 2:3])
    return np.concatenate([s[:, None], (focal * translation[:, :2] - offset) / mean_focal],
                          axis=1)


def weak_perspective_to_image(points: np.ndarray, cam: np.ndarray, center: np.ndarray,
                              scale: np.ndarray) -> np.ndarray:
    """Eq. (1): (B, N, 3) root-relative points to (B, N, 2) image pixels, weak perspective.

    Args:
        points: (B, N, 3) root-relative points, metres.
        cam: (B, 3) ``(s, tx, ty)``.
        center: (B, 2) crop centres in pixels.
        scale: (B, 2) or (B,) square crop sizes in pixels.
    """
    points = np.asarray(points, dtype=np.float64)
    cam = np.asarray(cam, dtype=np.float64)
    size = _crop_size(scale, cam.shape[0])
    crop = cam[:, None, :1] * (points[..., :2] + cam[:, None, 1:])
    return crop_to_image(crop, np.asarray(center, dtype=np.float64), size)


def fit_crop_cam(points: np.ndarray, pixels: np.ndarray, center: np.ndarray,
                 scale: Union[np.ndarray, float], weights: Optional[np.ndarray] = None
                 ) -> np.ndarray:
    """Least-squares weak-perspective camera of one crop from 3D points and their pixels.

    Solves ``min sum w * || c + (S/2) s (X_xy + t) - u ||^2`` in closed form (linear in
    ``s`` and ``s * t``).

    Args:
        points: (N, 3) root-relative points.
        pixels: (N, 2) their image pixels.
        center: (2,) crop centre in pixels.
        scale: crop side in pixels.
        weights: optional (N,) non-negative weights.

    Returns:
        (3,) ``(s, tx, ty)``.
    """
    points = np.asarray(points, dtype=np.float64)
    pixels = np.asarray(pixels, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or pixels.shape != (points.shape[0], 2):
        raise ValueError(f'fit_crop_cam: expected points (N, 3) and pixels (N, 2), got '
                         f'{points.shape} and {pixels.shape}')
    size = float(np.asarray(scale, dtype=np.float64).reshape(-1)[0])
    crop = image_to_crop(pixels, np.asarray(center, dtype=np.float64), np.float64(size))
    w = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    # Unknowns (s, s tx, s ty): x-rows [X, 1, 0], y-rows [Y, 0, 1].
    rows = np.zeros((2 * len(points), 3))
    rows[0::2, 0], rows[0::2, 1] = points[:, 0], 1.0
    rows[1::2, 0], rows[1::2, 2] = points[:, 1], 1.0
    sqrt_w = np.repeat(np.sqrt(w), 2)
    solution, *_ = np.linalg.lstsq(rows * sqrt_w[:, None], crop.reshape(-1) * sqrt_w,
                                   rcond=None)
    s = solution[0]
    if s <= 0:
        raise ValueError('fit_crop_cam: the fitted scale is not positive; check the points')
    return np.array([s, solution[1] / s, solution[2] / s])
