"""Weak-perspective camera of METRO / FastMETRO and its conversions.

The network predicts ``cam = (s, tx, ty)`` per instance and projects 3D points as
``x = s * (X[..., :2] + t)``, giving coordinates in the square crop normalised to [-1, 1]
(-1 = left/top edge of the crop, +1 = right/bottom edge). The crop covers the bounding box
``center +- scale / 2`` in image pixels, as MMPose's top-down affine transform defines it when
no rotation is applied. All functions are plain differentiable tensor expressions;
:func:`crop_to_image` and :func:`image_to_crop`, the one place where crop and image
coordinates meet, take numpy arrays as well.
"""
from __future__ import annotations

from typing import Optional, Tuple, TypeVar, Union

import numpy as np
import torch
from torch import Tensor

#: A torch tensor or a numpy array; the crop conversions return the type they are given.
Points = TypeVar('Points', Tensor, np.ndarray)


def _check_cam(cam: Tensor, batch: Optional[int], fn: str) -> None:
    if (cam.dim() != 2 or cam.shape[-1] != 3
            or (batch is not None and cam.shape[0] != batch)):
        raise ValueError(f"{fn}: cam must have shape ({batch or 'B'}, 3) = (s, tx, ty), got "
                         f'{tuple(cam.shape)}')


def weak_perspective_project(points: Tensor, cam: Tensor) -> Tensor:
    """Project 3D points with a weak-perspective camera.

    Args:
        points: (B, K, 3) points (metres, root-relative).
        cam: (B, 3) camera ``(s, tx, ty)``.

    Returns:
        (B, K, 2) ``s * (X[..., :2] + (tx, ty))`` in crop coordinates [-1, 1].
    """
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError('weak_perspective_project: points must have shape (B, K, 3), got '
                         f'{tuple(points.shape)}')
    _check_cam(cam, points.shape[0], 'weak_perspective_project')
    scale = cam[:, None, :1]  # (B, 1, 1)
    trans = cam[:, None, 1:]  # (B, 1, 2)
    return scale * (points[..., :2] + trans)


def _crop_box(points: Points, center: Points, scale: Points, input_size: Optional[Points],
              fn: str) -> Tuple[Points, Points, Optional[Points]]:
    """Checks the crop box's shapes; returns center, half size and input size, broadcastable.

    Returns:
        ``center`` (..., 1, 2), ``half`` (..., 1, 2) or (..., 1, 1) for a square box, and
        ``input_size`` (1, 2) or None, so that each broadcasts against (..., K, 2) points.
    """
    if isinstance(points, np.ndarray):  # numpy callers may hand in tuples or lists
        center, scale = np.asarray(center), np.asarray(scale)
        input_size = None if input_size is None else np.asarray(input_size)
    if points.ndim < 2 or points.shape[-1] != 2:
        raise ValueError(f'{fn}: points must have shape (..., K, 2), got '
                         f'{tuple(points.shape)}')
    batched = tuple(points.shape[:-2]) + (2, )
    if tuple(center.shape) not in (batched, (2, )):
        raise ValueError(f'{fn}: center must have shape {batched} or (2,) (box centre in '
                         f'pixels), got {tuple(center.shape)}')
    per_box = tuple(center.shape[:-1])
    if tuple(scale.shape) == per_box:  # one side per box: a square box
        half = 0.5 * scale[..., None, None]
    elif tuple(scale.shape) == tuple(center.shape):
        half = 0.5 * scale[..., None, :]
    else:
        raise ValueError(f'{fn}: scale must have shape {per_box} or {tuple(center.shape)} '
                         f'(box size in pixels), got {tuple(scale.shape)}')
    if input_size is not None and tuple(input_size.shape) != (2, ):
        raise ValueError(f'{fn}: input_size must be the model input (w, h), got '
                         f'{tuple(input_size.shape)}')
    return center[..., None, :], half, input_size


def crop_to_image(points: Points, center: Points, scale: Points,
                  input_size: Optional[Points] = None) -> Points:
    """Map crop coordinates to image pixels (torch or numpy, differentiable).

    The crop covers the box ``center +- scale / 2`` of the image (MMPose's top-down affine
    without rotation). Crop coordinates are normalised to [-1, 1] (what the weak-perspective
    camera projects to), or, with ``input_size``, model-input pixels in [0, w] x [0, h] (what
    MMPose's ``TopdownAffine`` gives as ``transformed_keypoints``).

    Args:
        points: (..., K, 2) crop coordinates, e.g. (B, K, 2).
        center: (..., 2) box centre (x, y) in image pixels (MMPose ``bbox_center`` /
            ``input_center``), or (2,) for one box shared by all.
        scale: box width and height in pixels (MMPose ``bbox_scale`` / ``input_scale``) of
            the same shape as ``center``, or without its last axis for a square box.
        input_size: (2,) model input (w, h) when ``points`` are in its pixels; None when they
            are normalised.

    Returns:
        (..., K, 2) image pixels: ``center + points * scale / 2`` (normalised), or
        ``points / input_size * scale + center - scale / 2`` (input pixels).
    """
    center, half, input_size = _crop_box(points, center, scale, input_size, 'crop_to_image')
    if input_size is None:
        return center + points * half
    # Kept in MMPose's order of operations, so results match its own crop-to-image step.
    return points / input_size * (2 * half) + center - half


def image_to_crop(points: Points, center: Points, scale: Points,
                  input_size: Optional[Points] = None) -> Points:
    """Map image pixels to crop coordinates (the inverse of :func:`crop_to_image`).

    Args:
        points: (..., K, 2) image pixels.
        center: (..., 2) or (2,) box centre in pixels.
        scale: box size in pixels, shaped like ``center`` or without its last axis (square).
        input_size: (2,) model input (w, h) to get its pixels; None: normalised coordinates.

    Returns:
        (..., K, 2) ``(points - center) / (scale / 2)``, in [-1, 1] inside the box; or
        ``(points - center + scale / 2) / scale * input_size`` in model-input pixels.
    """
    center, half, input_size = _crop_box(points, center, scale, input_size, 'image_to_crop')
    if input_size is None:
        return (points - center) / half
    return (points - center + half) / (2 * half) * input_size


def weak_perspective_to_translation(cam: Tensor, focal_length: Union[float, Tensor],
                                    img_size: Union[float, Tensor]) -> Tensor:
    """Perspective camera translation that reproduces a weak-perspective camera.

    A mesh at depth ``tz = 2 f / (img_size * s)`` seen by a pinhole camera with focal length
    ``f`` (pixels) on an ``img_size`` square image has the same projected size as under the
    weak-perspective scale ``s``. This is the batched torch form for a crop centred on the
    principal point; :func:`fastmetro_mm.mesh.image_camera.crop_cam_to_translation` places a
    crop anywhere in a larger image (what rendering onto the original image needs).

    Args:
        cam: (B, 3) camera ``(s, tx, ty)``; ``s`` must be non-zero.
        focal_length: Focal length in pixels, a float or (B,) tensor.
        img_size: Side of the square image in pixels, a float or (B,) tensor.

    Returns:
        (B, 3) translation ``(tx, ty, 2 f / (img_size * s))``.
    """
    _check_cam(cam, None, 'weak_perspective_to_translation')
    depth = 2.0 * focal_length / (img_size * cam[:, 0])  # (B,)
    return torch.stack([cam[:, 1], cam[:, 2], depth], dim=-1)
