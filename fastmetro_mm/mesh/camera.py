"""Weak-perspective camera of METRO / FastMETRO and its conversions.

The network predicts ``cam = (s, tx, ty)`` per instance and projects 3D points as
``x = s * (X[..., :2] + t)``, giving coordinates in the square crop normalised to [-1, 1]
(-1 = left/top edge of the crop, +1 = right/bottom edge). The crop covers the bounding box
``center +- scale / 2`` in image pixels, as MMPose's top-down affine transform defines it when
no rotation is applied. All functions are plain differentiable tensor expressions.
"""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor


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


def _bbox_half_size(scale: Tensor) -> Tensor:
    """(B,) or (B, 2) box size in pixels -> (B, 1, 2) half size."""
    if scale.dim() == 1:
        scale = scale[:, None].expand(-1, 2)
    return 0.5 * scale[:, None, :]


def _check_bbox(points: Tensor, center: Tensor, scale: Tensor, fn: str) -> None:
    if points.dim() != 3 or points.shape[-1] != 2:
        raise ValueError(f'{fn}: points must have shape (B, K, 2), got '
                         f'{tuple(points.shape)}')
    batch = points.shape[0]
    if tuple(center.shape) != (batch, 2):
        raise ValueError(f'{fn}: center must have shape ({batch}, 2), got '
                         f'{tuple(center.shape)}')
    if tuple(scale.shape) not in ((batch, ), (batch, 2)):
        raise ValueError(f'{fn}: scale must have shape ({batch},) or ({batch}, 2) (box size '
                         f'in pixels), got {tuple(scale.shape)}')


def crop_to_image(points: Tensor, center: Tensor, scale: Tensor) -> Tensor:
    """Map crop coordinates in [-1, 1] to image pixels.

    Args:
        points: (B, K, 2) crop coordinates.
        center: (B, 2) bounding-box centre (x, y) in image pixels (MMPose ``bbox_center``).
        scale: (B, 2) box width and height in pixels (MMPose ``bbox_scale``), or (B,) for a
            square box.

    Returns:
        (B, K, 2) ``center + points * scale / 2`` in image pixels.
    """
    _check_bbox(points, center, scale, 'crop_to_image')
    return center[:, None, :] + points * _bbox_half_size(scale)


def image_to_crop(points: Tensor, center: Tensor, scale: Tensor) -> Tensor:
    """Map image pixels to crop coordinates (the inverse of :func:`crop_to_image`).

    Args:
        points: (B, K, 2) image pixels.
        center: (B, 2) bounding-box centre in pixels.
        scale: (B, 2) or (B,) box size in pixels.

    Returns:
        (B, K, 2) ``(points - center) / (scale / 2)``; [-1, 1] inside the box.
    """
    _check_bbox(points, center, scale, 'image_to_crop')
    return (points - center[:, None, :]) / _bbox_half_size(scale)


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
