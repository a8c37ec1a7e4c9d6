"""Augmentation that keeps the image, 2D joints, 3D joints and body pose consistent.

MMPose 1.x's ``RandomFlip`` and ``RandomBBoxTransform`` move only 2D data. The transforms here
apply SPIN's augmentation (used by METRO and FastMETRO) to a top-down mesh sample: a horizontal
flip also mirrors the 3D joints and the SMPL pose; a crop rotation also rotates the 3D joints
and the global orientation; a colour jitter scales each channel. ``MeshTopdownAffine`` then cuts
the crop with MMPose's ``get_warp_matrix`` and leaves the keys MMPose's tools expect.

Sample keys (one instance, leading axis 1): ``img`` (H, W, 3), ``bbox`` (1, 4) xyxy,
``bbox_center`` / ``bbox_scale`` (1, 2) pixels, ``keypoints`` (1, K, 2) image pixels,
``keypoints_visible`` (1, K), ``joints_3d`` (1, K, 3) metres in the camera frame (x right,
y down), ``joints_3d_visible`` (1, K), ``smpl_pose`` (1, 72) or ``mano_pose`` (1, 48)
axis-angle, ``flip_indices`` (K,) from the dataset meta (or ``flip_pairs``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.image import imflip
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpose.datasets.transforms import TopdownAffine
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import flip_bbox, get_udp_warp_matrix, get_warp_matrix
from mmpose.structures.keypoint import flip_keypoints

from fastmetro_mm.mesh.joint_sets import SMPL_24
from .pose_geometry import (camera_z_rotation, flip_axis_angle_pose, flip_points,
                            rotate_global_orient, rotate_points)

#: Sample keys holding axis-angle poses whose first three values are the global orientation.
POSE_KEYS = ('smpl_pose', 'mano_pose')


def _flip_indices(results: Dict, num_joints: int) -> List[int]:
    """The dataset's left/right joint permutation of length ``num_joints``."""
    if results.get('flip_indices') is not None:
        indices = [int(i) for i in results['flip_indices']]
    elif results.get('flip_pairs') is not None:
        indices = list(range(num_joints))
        for left, right in results['flip_pairs']:
            indices[left], indices[right] = right, left
    else:
        raise KeyError('MeshRandomFlip: the sample has joints but neither flip_indices nor '
                       'flip_pairs (both come from the dataset meta)')
    if sorted(indices) != list(range(num_joints)):
        raise ValueError(f'MeshRandomFlip: flip indices {indices} are not a permutation of '
                         f'the {num_joints} joints of this sample')
    return indices


def _image_of(results: Dict, transform: str) -> np.ndarray:
    """``results['img']`` after checking it is one (H, W[, C]) array."""
    img = results.get('img')
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise TypeError(f'{transform}: results["img"] must be an (H, W[, C]) numpy image, got '
                        f'{type(img).__name__}')
    return img


@TRANSFORMS.register_module()
class MeshRandomFlip(BaseTransform):
    """Horizontal flip of the image, 2D joints, 3D joints, bbox and SMPL pose.

    2D joints follow MMPose (``x -> w - 1 - x``, pairs swapped by the dataset's
    ``flip_indices``); 3D joints have x negated and pairs swapped; the SMPL pose is mirrored
    with SMPL's 24-joint permutation (SPIN's ``flip_pose``). An existing ``bbox_rotation`` is
    negated, since mirroring a rotated crop equals rotating the mirrored image the other way.
    Hands are not flipped (a mirrored right hand is a left hand, which a MANO right-hand model
    cannot express): a sample with ``mano_pose`` raises when a flip is drawn.

    Required keys: img, flip_indices or flip_pairs (when joints are present).
    Modified keys: img, bbox, bbox_center, keypoints, keypoints_visible, joints_3d,
    joints_3d_visible, smpl_pose, bbox_rotation (all optional but img).
    Added keys: flip, flip_direction.

    Args:
        prob: probability of flipping.
    """

    def __init__(self, prob: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'MeshRandomFlip: prob must be in [0, 1], got {prob}')
        self.prob = prob

    @cache_randomness
    def _draw(self) -> bool:
        """Whether to flip this sample."""
        return bool(np.random.rand() < self.prob)

    def transform(self, results: Dict) -> Dict:
        """Flips the sample with probability ``prob``; see the class docstring."""
        if not self._draw():
            results['flip'] = False
            results['flip_direction'] = None
            return results
        return self.flip(results)

    @staticmethod
    def flip(results: Dict) -> Dict:
        """Flips the sample unconditionally (the deterministic part of the transform)."""
        if results.get('mano_pose') is not None:
            raise ValueError('MeshRandomFlip: the sample has mano_pose; a flipped right hand '
                             'is a left hand, so hand pipelines must not use MeshRandomFlip')
        if results.get('vertices') is not None:
            # Mirroring a mesh needs its left/right vertex correspondence, which no sample has.
            raise ValueError('MeshRandomFlip: the sample has GT vertices, which cannot be '
                             'mirrored; load them for evaluation only (no flip)')
        img = _image_of(results, 'MeshRandomFlip')
        height, width = img.shape[:2]
        results['img'] = imflip(img, direction='horizontal')
        if results.get('bbox') is not None:
            results['bbox'] = flip_bbox(results['bbox'], image_size=(width, height),
                                        bbox_format='xyxy', direction='horizontal')
        if results.get('bbox_center') is not None:
            results['bbox_center'] = flip_bbox(results['bbox_center'],
                                               image_size=(width, height),
                                               bbox_format='center', direction='horizontal')
        if results.get('bbox_rotation') is not None:
            results['bbox_rotation'] = -np.asarray(results['bbox_rotation'])

        if results.get('keypoints') is not None:
            keypoints = results['keypoints']
            if results.get('keypoints_visible') is None:
                raise KeyError('MeshRandomFlip: keypoints without keypoints_visible')
            indices = _flip_indices(results, keypoints.shape[-2])
            results['keypoints'], results['keypoints_visible'] = flip_keypoints(
                keypoints, results['keypoints_visible'], image_size=(width, height),
                flip_indices=indices, direction='horizontal')

        if results.get('joints_3d') is not None:
            joints = results['joints_3d']
            indices = _flip_indices(results, joints.shape[-2])
            results['joints_3d'] = flip_points(joints, indices)
            if results.get('joints_3d_visible') is not None:
                results['joints_3d_visible'] = results['joints_3d_visible'].take(
                    indices, axis=joints.ndim - 2)

        if results.get('smpl_pose') is not None:
            results['smpl_pose'] = flip_axis_angle_pose(results['smpl_pose'],
                                                        SMPL_24.flip_permutation)
        results['flip'] = True
        results['flip_direction'] = 'horizontal'
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class MeshRandomScaleRotation(BaseTransform):
    """SPIN's random crop scale and in-plane rotation, applied to 2D and 3D alike.

    The scale factor ~ N(1, ``scale_factor``) clipped to 1 +- ``scale_factor`` multiplies
    ``bbox_scale`` (a factor above 1 crops more context, so the person looks smaller). The angle
    ~ N(0, ``rotate_factor``) degrees clipped to +-``rotate_max`` is used with probability
    ``rotate_prob`` (SPIN zeroes it with probability 0.6) and added to ``bbox_rotation``, which
    MeshTopdownAffine / TopdownAffine pass to ``get_warp_matrix``; the 3D joints and the global
    orientation of ``smpl_pose`` / ``mano_pose`` are rotated about the camera z axis by the
    matching rotation (:func:`camera_z_rotation`), as SPIN's ``rot_aa`` does.

    Defaults are the body's; the hand uses ``rotate_factor=90, rotate_max=180``.

    Required keys: bbox_scale.
    Modified keys: bbox_scale, joints_3d, vertices, smpl_pose, mano_pose (optional).
    Added keys: bbox_rotation (1,) degrees.

    Args:
        scale_factor: standard deviation and clip range of the scale factor around 1.
        rotate_factor: standard deviation of the angle, degrees.
        rotate_max: the angle is clipped to [-rotate_max, rotate_max] degrees.
        rotate_prob: probability that the drawn angle is used (otherwise 0).
    """

    def __init__(self,
                 scale_factor: float = 0.25,
                 rotate_factor: float = 30.0,
                 rotate_max: float = 60.0,
                 rotate_prob: float = 0.4) -> None:
        super().__init__()
        if not 0.0 <= scale_factor < 1.0:
            raise ValueError(f'MeshRandomScaleRotation: scale_factor must be in [0, 1), got '
                             f'{scale_factor}')
        if rotate_factor < 0 or rotate_max < 0 or not 0.0 <= rotate_prob <= 1.0:
            raise ValueError('MeshRandomScaleRotation: need rotate_factor >= 0, rotate_max >= 0 '
                             f'and rotate_prob in [0, 1], got {rotate_factor}, {rotate_max}, '
                             f'{rotate_prob}')
        self.scale_factor = scale_factor
        self.rotate_factor = rotate_factor
        self.rotate_max = rotate_max
        self.rotate_prob = rotate_prob

    @cache_randomness
    def _draw(self) -> Tuple[float, float]:
        """(scale factor, angle in degrees)."""
        scale = np.clip(1.0 + np.random.randn() * self.scale_factor, 1.0 - self.scale_factor,
                        1.0 + self.scale_factor)
        angle = np.clip(np.random.randn() * self.rotate_factor, -self.rotate_max,
                        self.rotate_max)
        if np.random.rand() >= self.rotate_prob:
            angle = 0.0
        return float(scale), float(angle)

    def transform(self, results: Dict) -> Dict:
        """Scales and rotates the sample by a random draw; see the class docstring."""
        scale, angle = self._draw()
        return self.scale_rotate(results, scale, angle)

    @staticmethod
    def scale_rotate(results: Dict, scale: float, angle: float) -> Dict:
        """Applies a given scale factor and rotation angle (degrees) to the sample."""
        if results.get('bbox_scale') is None:
            raise KeyError('MeshRandomScaleRotation: the sample has no bbox_scale; run '
                           'GetBBoxCenterScale first')
        results['bbox_scale'] = results['bbox_scale'] * np.float32(scale)
        num = results['bbox_scale'].shape[0]
        previous = results.get('bbox_rotation')
        previous = np.zeros(num, np.float32) if previous is None else np.asarray(previous)
        results['bbox_rotation'] = (previous + angle).astype(np.float32)
        if angle == 0.0:
            return results
        rotation = camera_z_rotation(angle)
        for key in ('joints_3d', 'vertices'):
            if results.get(key) is not None:
                results[key] = rotate_points(results[key], rotation)
        for key in POSE_KEYS:
            if results.get(key) is not None:
                results[key] = rotate_global_orient(results[key], rotation)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale_factor={self.scale_factor}, '
                f'rotate_factor={self.rotate_factor}, rotate_max={self.rotate_max}, '
                f'rotate_prob={self.rotate_prob})')


@TRANSFORMS.register_module()
class RandomChannelNoise(BaseTransform):
    """Multiplies each colour channel by its own factor ~ U[1 - f, 1 + f], clipped to [0, 255].

    A uint8 image stays uint8 (rounded); any other image becomes float32.

    Required keys: img. Modified keys: img.

    Args:
        noise_factor: f, half the width of the factor range (SPIN: 0.4).
    """

    def __init__(self, noise_factor: float = 0.4) -> None:
        super().__init__()
        if not 0.0 <= noise_factor <= 1.0:
            raise ValueError(f'RandomChannelNoise: noise_factor must be in [0, 1], got '
                             f'{noise_factor}')
        self.noise_factor = noise_factor

    @cache_randomness
    def _draw(self, channels: int) -> np.ndarray:
        """(channels,) multiplicative factors."""
        return np.random.uniform(1.0 - self.noise_factor, 1.0 + self.noise_factor, channels)

    def transform(self, results: Dict) -> Dict:
        """Scales the channels of ``results['img']`` by random factors."""
        img = _image_of(results, 'RandomChannelNoise')
        channels = img.shape[2] if img.ndim == 3 else 1
        factors = self._draw(channels).astype(np.float32)
        if img.dtype == np.uint8 and channels <= 4:
            # A per-channel lookup table gives the same values as the float path below,
            # several times faster on full-size images.
            levels = np.arange(256, dtype=np.float32)[:, None] * factors[None]
            table = np.rint(np.clip(levels, 0.0, 255.0)).astype(np.uint8)
            table = table.reshape(1, 256, channels) if channels > 1 else table.reshape(1, 256)
            # cv2 drops a trailing channel axis of 1; the reshape puts it back.
            results['img'] = cv2.LUT(img, table).reshape(img.shape)
            return results
        noisy = np.clip(img.astype(np.float32) * factors.reshape((1, 1, -1)[:img.ndim]), 0.0,
                        255.0)
        results['img'] = np.rint(noisy).astype(np.uint8) if img.dtype == np.uint8 else noisy
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(noise_factor={self.noise_factor})'


@TRANSFORMS.register_module()
class MeshTopdownAffine(TopdownAffine):
    """Cuts the (rotated) bbox crop out of the image as the model input.

    Same geometry and output keys as MMPose's ``TopdownAffine`` (``bbox_scale`` padded to the
    input aspect ratio, ``transformed_keypoints`` in crop pixels, ``input_size`` /
    ``input_center`` / ``input_scale``), so MMPose's codecs and tools keep working; unlike it, a
    sample without 2D joints gets no placeholder ``keypoints_visible`` of the wrong shape, so
    PackMeshInputs can tell missing ground truth from real.

    Required keys: img, bbox_center, bbox_scale; bbox_rotation, keypoints (optional).
    Modified keys: img, bbox_scale.
    Added keys: transformed_keypoints (with keypoints), input_size, input_center,
    input_scale.

    Args:
        input_size: model input (w, h); FastMETRO uses 224 x 224.
        use_udp: use MMPose's unbiased (UDP) warp instead of the standard one.
    """

    def __init__(self, input_size: Sequence[int] = (224, 224), use_udp: bool = False) -> None:
        super().__init__(input_size=tuple(int(v) for v in input_size), use_udp=use_udp)

    def warp_matrix(self, results: Dict) -> np.ndarray:
        """(2, 3) affine from image pixels to crop pixels for the sample's current bbox."""
        center = np.asarray(results['bbox_center'])
        scale = np.asarray(results['bbox_scale'])
        if center.shape != (1, 2) or scale.shape != (1, 2):
            raise ValueError(f'MeshTopdownAffine: expected bbox_center and bbox_scale of shape '
                             f'(1, 2), got {center.shape} and {scale.shape}')
        rotation = results.get('bbox_rotation')
        angle = 0.0 if rotation is None else float(np.asarray(rotation).reshape(-1)[0])
        width, height = self.input_size
        warp = get_udp_warp_matrix if self.use_udp else get_warp_matrix
        return warp(center[0], scale[0], angle, output_size=(width, height))

    def transform(self, results: Dict) -> Optional[Dict]:
        """Warps the image and the 2D joints; see the class docstring."""
        for key in ('bbox_center', 'bbox_scale'):
            if results.get(key) is None:
                raise KeyError(f'MeshTopdownAffine: the sample has no {key}; run '
                               'GetBBoxCenterScale first')
        width, height = self.input_size
        results['bbox_scale'] = self._fix_aspect_ratio(np.asarray(results['bbox_scale']),
                                                       aspect_ratio=width / height)
        warp_mat = self.warp_matrix(results)
        img = _image_of(results, 'MeshTopdownAffine')
        results['img'] = cv2.warpAffine(img, warp_mat, (width, height), flags=cv2.INTER_LINEAR)

        if results.get('keypoints') is not None:
            keypoints = np.asarray(results['keypoints'])
            moved = keypoints.copy()
            # In float64 numpy rather than cv2.transform, so crop coordinates are exact.
            moved[..., :2] = keypoints[..., :2] @ warp_mat[:, :2].T + warp_mat[:, 2]
            results['transformed_keypoints'] = moved

        results['input_size'] = (width, height)
        results['input_center'] = np.asarray(results['bbox_center'])[0]
        results['input_scale'] = np.asarray(results['bbox_scale'])[0]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(input_size={self.input_size}, '
                f'use_udp={self.use_udp})')
