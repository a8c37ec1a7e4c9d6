"""``MeshDataset``: the base of the mesh dataset readers, one sample per person crop.

A reader subclasses :class:`MeshDataset` and implements :meth:`MeshDataset.load_data_list`
with :func:`make_mesh_sample`, which checks one person's annotation and returns it in the form
the mesh transforms (``fastmetro_mm.datasets.transforms``) read. Every sample holds (leading
instance axis of 1; K = the dataset meta's ``num_keypoints``):

- ``img_path`` (or ``img`` for image TSVs), ``img_id``, ``id``, ``category_id``;
- ``bbox`` (1, 4) xyxy pixels, ``bbox_center`` (1, 2) and ``bbox_scale`` (1, 2) pixels (the
  bbox's exact centre and size, i.e. what ``GetBBoxCenterScale(padding=1.0)`` computes from
  it), ``bbox_score`` (1,);
- ``keypoints`` (1, K, 2) image pixels and ``keypoints_visible`` (1, K);
- ``joints_3d`` (1, K, 3) metres, ``joints_3d_visible`` (1, K), ``has_joints_3d`` (1,);
- ``smpl_pose`` (1, 72) (hands: ``mano_pose`` (1, 48)) axis-angle, ``smpl_betas`` (1, 10),
  ``has_smpl`` (1,);
- ``gender`` (1,): 0 neutral / unknown, 1 male, 2 female.

Ground truth that a source lacks is zeros with its flag (``has_*``) or visibility 0, never
invented. NaN or infinite values in ground truth marked available raise, naming the file,
the sample and the key; NaN coordinates of a joint whose confidence is 0 become 0.
"""
from __future__ import annotations

from copy import deepcopy
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from ..mesh.gender import Gender
from .metainfo import J24_BODY_METAINFO
from .sample_seeding import PerSampleRandomness

#: Dataset meta keys copied into every sample for the pipeline (as MMPose's datasets do).
META_KEYS_FOR_PIPELINE = ('dataset_name', 'upper_body_ids', 'lower_body_ids', 'flip_pairs',
                          'dataset_keypoint_weights', 'flip_indices', 'skeleton_links')


def checked_array(value: Any, shape: Sequence[int], where: str) -> np.ndarray:
    """``value`` as a finite float32 array of exactly ``shape``.

    Args:
        value: array-like annotation.
        shape: the expected shape.
        where: text naming the file, sample and key, for the error message.

    Returns:
        float32 array of ``shape``.
    """
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{where}: not a numeric array ({err})') from None
    if array.shape != tuple(shape):
        raise ValueError(f'{where}: has shape {array.shape}, expected {tuple(shape)}')
    if not np.isfinite(array).all():
        raise ValueError(f'{where}: contains NaN or infinite values')
    return array


def checked_joints(value: Any, shape: Sequence[int], where: str) -> np.ndarray:
    """Joints with a confidence last, as :func:`checked_array`; coordinates of a joint whose
    confidence is 0 may be NaN (datasets mark missing joints so) and become 0."""
    try:
        array = np.array(value, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{where}: not a numeric array ({err})') from None
    if array.shape == tuple(shape):
        unconfident = array[:, -1] == 0
        coordinates = array[unconfident, :-1]
        array[unconfident, :-1] = np.where(np.isfinite(coordinates), coordinates, 0.0)
    return checked_array(array, shape, where)


def square_bbox(center: np.ndarray, size: float) -> np.ndarray:
    """(4,) xyxy square of side ``size`` pixels around ``center`` (2,)."""
    half = 0.5 * size
    return np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half],
                    dtype=np.float32)


def make_mesh_sample(*,
                     where: str,
                     index: int,
                     bbox: np.ndarray,
                     num_joints: int,
                     keypoints: Optional[np.ndarray] = None,
                     joints_3d: Optional[np.ndarray] = None,
                     pose: Optional[np.ndarray] = None,
                     betas: Optional[np.ndarray] = None,
                     gender: Gender = Gender.NEUTRAL,
                     pose_key: str = 'smpl_pose',
                     pose_dim: int = 72,
                     num_betas: int = 10,
                     img_path: Optional[str] = None,
                     img_id: Optional[int] = None,
                     extra: Optional[Dict[str, Any]] = None,
                     keep_unconfident_joints_3d: bool = False) -> Dict[str, Any]:
    """Checks one person's annotation and returns it as a mesh sample.

    Args:
        where: text naming the annotation file, for error messages.
        index: the person's index in the file (named in errors; also the sample ``id``).
        bbox: (4,) xyxy pixels.
        num_joints: K of the dataset meta.
        keypoints: (K, 3) image pixels x, y and confidence, or None when the source has no 2D
            joints (then zeros, visibility 0).
        joints_3d: (K, 4) metres x, y, z and confidence, or None when unavailable (then zeros,
            ``has_joints_3d`` 0). A person whose confidences are all 0 has no 3D joints,
            unless ``keep_unconfident_joints_3d``.
        pose: (pose_dim,) axis-angle, or None when unavailable (then zeros, ``has_smpl`` 0).
        betas: (num_betas,) shape, required with ``pose``.
        gender: the person's gender (:meth:`Gender.parse` reads an annotation's spelling).
        pose_key: ``'smpl_pose'`` for bodies, ``'mano_pose'`` for hands.
        pose_dim: 72 for SMPL, 48 for MANO.
        num_betas: number of shape coefficients.
        img_path: image file (None when the reader fills ``img`` itself).
        img_id: image id (defaults to ``index``).
        extra: more keys copied into the sample.
        keep_unconfident_joints_3d: keep ``has_joints_3d`` 1 when every 3D confidence is 0,
            as the released METRO TSV reader does (the sample then adds 0 to the 3D loss
            but counts in its average).

    Returns:
        The sample dict described in the module docstring.
    """
    label = f'{where}, sample {index}'
    bbox = checked_array(bbox, (4, ), f'{label}, bbox')
    if not (bbox[2] > bbox[0] and bbox[3] > bbox[1]):
        raise ValueError(f'{label}, bbox: empty box {bbox.tolist()} (xyxy pixels)')
    sample: Dict[str, Any] = dict(
        id=index,
        img_id=index if img_id is None else img_id,
        img_path=img_path,
        category_id=1,
        bbox=bbox[None],
        bbox_center=(0.5 * (bbox[:2] + bbox[2:]))[None],
        bbox_scale=(bbox[2:] - bbox[:2])[None],
        bbox_score=np.ones(1, np.float32),
        gender=np.array([int(gender)], np.int64),  # the Gender code: 0 / 1 / 2
    )

    if keypoints is None:
        sample['keypoints'] = np.zeros((1, num_joints, 2), np.float32)
        sample['keypoints_visible'] = np.zeros((1, num_joints), np.float32)
    else:
        keypoints = checked_joints(keypoints, (num_joints, 3), f'{label}, 2D joints')
        sample['keypoints'] = keypoints[None, :, :2]
        sample['keypoints_visible'] = keypoints[None, :, 2]
    sample['num_keypoints'] = int(np.count_nonzero(sample['keypoints_visible']))

    if joints_3d is not None:
        joints_3d = checked_joints(joints_3d, (num_joints, 4), f'{label}, 3D joints')
        if not np.any(joints_3d[:, 3] > 0) and not keep_unconfident_joints_3d:
            joints_3d = None
    if joints_3d is None:
        sample['joints_3d'] = np.zeros((1, num_joints, 3), np.float32)
        sample['joints_3d_visible'] = np.zeros((1, num_joints), np.float32)
        sample['has_joints_3d'] = np.zeros(1, np.int64)
    else:
        sample['joints_3d'] = joints_3d[None, :, :3]
        sample['joints_3d_visible'] = joints_3d[None, :, 3]
        sample['has_joints_3d'] = np.ones(1, np.int64)

    if pose is None:
        sample[pose_key] = np.zeros((1, pose_dim), np.float32)
        sample['smpl_betas'] = np.zeros((1, num_betas), np.float32)
        sample['has_smpl'] = np.zeros(1, np.int64)
    else:
        if betas is None:
            raise KeyError(f'{label}: has a pose but no betas (shape)')
        sample[pose_key] = checked_array(pose, (pose_dim, ), f'{label}, pose')[None]
        sample['smpl_betas'] = checked_array(betas, (num_betas, ), f'{label}, betas')[None]
        sample['has_smpl'] = np.ones(1, np.int64)
    if extra:
        sample.update(extra)
    return sample


class MeshDataset(PerSampleRandomness, BaseDataset):
    """Base of the mesh dataset readers (not registered: it reads no format).

    Follows MMPose's ``BaseCocoStyleDataset`` conventions: ``metainfo`` is parsed with MMPose's
    ``parse_pose_metainfo`` (default: the J24 body meta), ``data_list`` holds one dict per
    person crop (see the module docstring), ``get_data_info`` adds the meta keys the pipeline
    needs (``flip_indices``, ``flip_pairs``, ``dataset_name``, ...), ``prepare_data`` adds
    ``dataset``, and ``lazy_init=True`` defers reading the annotations until first use.

    Subclasses implement :meth:`load_data_list`. Once ``set_sample_seed`` was called
    (:class:`fastmetro_mm.engine.SampleSeedHook` does), a sample's augmentation is drawn from
    ``(seed, epoch, index)`` (:mod:`fastmetro_mm.datasets.sample_seeding`).

    Args:
        ann_file: annotation file, relative to ``data_root`` unless absolute.
        metainfo: MMPose meta (a dict, or ``dict(from_file=...)``); None uses ``METAINFO``.
        data_root: root folder of ``ann_file`` and ``data_prefix``.
        data_prefix: ``dict(img=folder)``, the folder image paths are relative to.
        filter_cfg: unused by the readers here; kept for MMEngine's interface.
        indices: keep only these samples (or the first N).
        serialize_data: serialize ``data_list`` so that workers share its memory.
        pipeline: transforms.
        test_mode: test phase (a failed sample raises instead of being refetched).
        lazy_init: load annotations on first use.
        max_refetch: refetch attempts when the pipeline returns None.
    """

    METAINFO: dict = dict(from_file=J24_BODY_METAINFO)

    def __init__(self,
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img=''),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, filter_cfg=filter_cfg, indices=indices,
                         serialize_data=serialize_data, pipeline=pipeline,
                         test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        """Parses MMPose pose meta (``from_file`` or inline), defaulting to ``METAINFO``."""
        if metainfo is None:
            metainfo = deepcopy(cls.METAINFO)
        if not isinstance(metainfo, dict):
            raise TypeError(f'{cls.__name__}: metainfo must be a dict, got '
                            f'{type(metainfo).__name__}')
        return parse_pose_metainfo(metainfo) if metainfo else metainfo

    @property
    def num_joints(self) -> int:
        """K, the number of joints in the dataset meta."""
        return int(self._metainfo['num_keypoints'])

    @force_full_init
    def prepare_data(self, idx: int) -> Any:
        """Runs the pipeline on sample ``idx``; ``dataset`` is added for mixing transforms."""
        data_info = self.get_data_info(idx)
        data_info['dataset'] = self
        return self.pipeline(data_info)

    def get_data_info(self, idx: int) -> dict:
        """Sample ``idx`` (a copy) with the dataset meta keys the pipeline needs."""
        data_info = super().get_data_info(idx)
        for key in META_KEYS_FOR_PIPELINE:
            if key in data_info:
                raise KeyError(f'{self.__class__.__name__}: sample {idx} already holds the '
                               f'meta key "{key}"')
            data_info[key] = deepcopy(self._metainfo[key])
        return data_info

    def load_data_list(self) -> List[dict]:
        """Reads the annotation file into one dict per person crop (subclasses)."""
        raise NotImplementedError(f'{self.__class__.__name__} must implement load_data_list; '
                                  'MeshDataset itself reads no format')
