"""``PackMeshInputs``: MMPose's ``PackPoseInputs`` with the mesh ground truth added.

The packed ``gt_instances`` hold exactly what ``MeshHead`` reads (leading instance axis
of 1): ``keypoints`` (1, K, 2) in crop pixels of the model input, ``keypoints_visible``
(1, K), ``joints_3d`` (1, K, 3) metres, ``joints_3d_visible`` (1, K), ``smpl_pose`` (1, P)
axis-angle (P = 72 for SMPL, 48 for MANO), ``smpl_betas`` (1, b), and int64 ``has_smpl``,
``has_joints_3d``, ``gender`` (1,), and, when the sample holds a GT mesh (FreiHAND's
``*_verts.json`` with ``load_vertices=True``), ``vertices`` (1, V, 3) metres, which
``MeshMetric`` prefers to posing the body model. A sample without some ground truth
(inference on a bare image and bbox) gets zeros for it with ``has_*`` = 0 and zero visibility:
nothing is invented.

The data sample's metainfo gets, beside MMPose's keys, the video keys a sample may hold
(EMDB's: ``seq_name``, ``frame_index``, ``fps``, ``cam_intrinsics``) and ``gender`` as the
body model's name ('neutral', 'male', 'female'; ``gt_instances.gender`` keeps the code).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmpose.datasets.transforms import PackPoseInputs
from mmpose.registry import TRANSFORMS

from fastmetro_mm.mesh.gender import Gender

_NAME = 'PackMeshInputs'


def _array(results: Dict, key: str, dtype: type, shape: Tuple[Optional[int], ...]) -> np.ndarray:
    """``results[key]`` as ``dtype`` with a checked shape (None = any size)."""
    value = np.asarray(results[key], dtype=dtype)
    if value.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(value.shape, shape)):
        readable = tuple('*' if s is None else s for s in shape)
        raise ValueError(f'{_NAME}: results["{key}"] has shape {value.shape}, expected '
                         f'{readable}')
    return value


def _visibility(results: Dict, key: str, num_joints: int) -> np.ndarray:
    """(1, K) float32 visibility; MMPose's (1, K, 1) form is accepted too."""
    value = np.asarray(results[key], dtype=np.float32)
    if value.ndim == 3 and value.shape[-1] == 1:
        value = value[..., 0]
    if value.shape != (1, num_joints):
        raise ValueError(f'{_NAME}: results["{key}"] has shape {value.shape}, expected '
                         f'(1, {num_joints})')
    return value


def _flag(results: Dict, key: str) -> np.ndarray:
    """(1,) int64 flag or code (has_smpl, has_joints_3d, gender)."""
    value = np.asarray(results[key]).reshape(-1)
    if value.dtype.kind not in 'biuf':
        raise TypeError(f'{_NAME}: results["{key}"] must be numeric (gender: 0 neutral, '
                        f'1 male, 2 female), got {results[key]!r}')
    value = value.astype(np.int64)
    if value.shape != (1, ):
        raise ValueError(f'{_NAME}: results["{key}"] must hold one value, got shape '
                         f'{np.shape(results[key])}')
    return value


@TRANSFORMS.register_module()
class PackMeshInputs(PackPoseInputs):
    """Packs a mesh sample into ``inputs`` and a ``PoseDataSample``.

    MMPose's ``instance_mapping_table`` is extended with the mesh keys, so every stock key
    (bboxes, bbox_scales, ...) is still packed. ``gt_instances.keypoints`` are the crop-pixel
    ``transformed_keypoints`` of MeshTopdownAffine (the contract of ``MeshHead``), not the
    image-pixel ``keypoints``. A hand sample's ``mano_pose`` is packed as ``smpl_pose``.

    Args:
        joint_indices: joints to keep from the 2D and 3D joints, e.g. ``J24_TO_J14`` to pack
            the 14 evaluation joints of a 24-joint body dataset; None keeps all.
        num_joints: K for a sample without any joints; checked against samples that have
            them. Needed only when ``joint_indices`` is None.
        pose_dim: axis-angle pose length (72 SMPL, 48 MANO); poses of another length raise.
        num_betas: shape coefficients packed for a sample without ``smpl_betas``.
        meta_keys: as PackPoseInputs.
        pack_transformed: as PackPoseInputs.
    """

    instance_mapping_table = dict(
        PackPoseInputs.instance_mapping_table,
        joints_3d='joints_3d',
        joints_3d_visible='joints_3d_visible',
        smpl_pose='smpl_pose',
        smpl_betas='smpl_betas',
        has_smpl='has_smpl',
        has_joints_3d='has_joints_3d',
        gender='gender',
        vertices='vertices',
    )

    def __init__(self,
                 joint_indices: Optional[Sequence[int]] = None,
                 num_joints: Optional[int] = None,
                 pose_dim: int = 72,
                 num_betas: int = 10,
                 meta_keys: Sequence[str] = ('id', 'img_id', 'img_path', 'category_id',
                                             'crowd_index', 'ori_shape', 'img_shape',
                                             'input_size', 'input_center', 'input_scale',
                                             'flip', 'flip_direction', 'flip_indices',
                                             'raw_ann_info', 'dataset_name', 'seq_name',
                                             'frame_index', 'fps', 'cam_intrinsics',
                                             'gender'),
                 pack_transformed: bool = False) -> None:
        super().__init__(meta_keys=tuple(meta_keys), pack_transformed=pack_transformed)
        if pose_dim <= 0 or pose_dim % 3:
            raise ValueError(f'{_NAME}: pose_dim must be a positive multiple of 3, got '
                             f'{pose_dim}')
        self.joint_indices = None if joint_indices is None else [int(i) for i in joint_indices]
        if self.joint_indices is not None and num_joints is not None \
                and num_joints != len(self.joint_indices):
            raise ValueError(f'{_NAME}: num_joints={num_joints} but joint_indices selects '
                             f'{len(self.joint_indices)} joints')
        self.num_joints = num_joints
        self.pose_dim = pose_dim
        self.num_betas = num_betas

    # ------------------------------------------------------------------------------------
    def _select(self, joints: np.ndarray, key: str) -> np.ndarray:
        """Keeps ``joint_indices`` along the joint axis (axis 1) of a (1, K, ...) array."""
        if self.joint_indices is None:
            return joints
        if max(self.joint_indices) >= joints.shape[1]:
            raise ValueError(f'{_NAME}: joint_indices {self.joint_indices} reach past the '
                             f'{joints.shape[1]} joints of results["{key}"]')
        return joints[:, self.joint_indices]

    def _resolve_num_joints(self, results: Dict) -> int:
        if self.joint_indices is not None:
            return len(self.joint_indices)
        for key in ('transformed_keypoints', 'joints_3d'):
            if results.get(key) is not None:
                found = np.shape(results[key])[1]
                if self.num_joints is not None and found != self.num_joints:
                    raise ValueError(f'{_NAME}: results["{key}"] has {found} joints, '
                                     f'num_joints={self.num_joints}')
                return found
        if self.num_joints is None:
            raise ValueError(f'{_NAME}: the sample has no joints; set num_joints (or '
                             'joint_indices) so that empty ground truth can be packed')
        return self.num_joints

    def _keypoints_2d(self, results: Dict, num_joints: int) -> Dict[str, np.ndarray]:
        if results.get('keypoints') is not None and results.get('transformed_keypoints') is None:
            raise KeyError(f'{_NAME}: the sample has image-pixel keypoints but no '
                           'transformed_keypoints; run MeshTopdownAffine before packing')
        if results.get('transformed_keypoints') is None:
            return dict(keypoints=np.zeros((1, num_joints, 2), np.float32),
                        keypoints_visible=np.zeros((1, num_joints), np.float32))
        if results.get('keypoints_visible') is None:
            raise KeyError(f'{_NAME}: the sample has keypoints but no keypoints_visible')
        keypoints = _array(results, 'transformed_keypoints', np.float32, (1, None, None))
        visible = _visibility(results, 'keypoints_visible', keypoints.shape[1])
        keypoints = self._select(keypoints[..., :2], 'transformed_keypoints')
        return dict(keypoints=keypoints,
                    keypoints_visible=self._select(visible, 'keypoints_visible'))

    def _joints_3d(self, results: Dict, num_joints: int) -> Dict[str, np.ndarray]:
        if results.get('joints_3d') is None:
            if results.get('has_joints_3d') is not None and _flag(results, 'has_joints_3d')[0]:
                raise KeyError(f'{_NAME}: has_joints_3d is set but the sample has no joints_3d')
            return dict(joints_3d=np.zeros((1, num_joints, 3), np.float32),
                        joints_3d_visible=np.zeros((1, num_joints), np.float32),
                        has_joints_3d=np.zeros(1, np.int64))
        for key in ('joints_3d_visible', 'has_joints_3d'):
            if results.get(key) is None:
                raise KeyError(f'{_NAME}: the sample has joints_3d but no {key}')
        joints = _array(results, 'joints_3d', np.float32, (1, None, 3))
        visible = _visibility(results, 'joints_3d_visible', joints.shape[1])
        return dict(joints_3d=self._select(joints, 'joints_3d'),
                    joints_3d_visible=self._select(visible, 'joints_3d_visible'),
                    has_joints_3d=_flag(results, 'has_joints_3d'))

    def _body_model(self, results: Dict) -> Dict[str, np.ndarray]:
        present = [k for k in ('smpl_pose', 'mano_pose') if results.get(k) is not None]
        if len(present) > 1:
            raise KeyError(f'{_NAME}: the sample has both smpl_pose and mano_pose')
        if not present:
            if results.get('has_smpl') is not None and _flag(results, 'has_smpl')[0]:
                raise KeyError(f'{_NAME}: has_smpl is set but the sample has no smpl_pose / '
                               'mano_pose')
            betas = (np.zeros((1, self.num_betas), np.float32)
                     if results.get('smpl_betas') is None
                     else _array(results, 'smpl_betas', np.float32, (1, None)))
            return dict(smpl_pose=np.zeros((1, self.pose_dim), np.float32), smpl_betas=betas,
                        has_smpl=np.zeros(1, np.int64))
        for key in ('smpl_betas', 'has_smpl'):
            if results.get(key) is None:
                raise KeyError(f'{_NAME}: the sample has {present[0]} but no {key}')
        return dict(smpl_pose=_array(results, present[0], np.float32, (1, self.pose_dim)),
                    smpl_betas=_array(results, 'smpl_betas', np.float32, (1, None)),
                    has_smpl=_flag(results, 'has_smpl'))

    def transform(self, results: Dict) -> Dict:
        """Packs the sample; see the class docstring.

        Args:
            results: the pipeline's sample dict (after MeshTopdownAffine).

        Returns:
            ``dict(inputs=(C, H, W) tensor, data_samples=PoseDataSample)``.
        """
        num_joints = self._resolve_num_joints(results)
        packed = dict(results)
        packed.update(self._keypoints_2d(results, num_joints))
        packed.update(self._joints_3d(results, num_joints))
        packed.update(self._body_model(results))
        packed['gender'] = (np.zeros(1, np.int64) if results.get('gender') is None
                            else _flag(results, 'gender'))
        packed.pop('mano_pose', None)
        if results.get('vertices') is not None:
            packed['vertices'] = _array(results, 'vertices', np.float32, (1, None, 3))
        if packed['keypoints'].shape[1] != packed['joints_3d'].shape[1]:
            raise ValueError(f'{_NAME}: {packed["keypoints"].shape[1]} 2D joints but '
                             f'{packed["joints_3d"].shape[1]} 3D joints; the head needs the '
                             'same K for both (set joint_indices)')
        result = super().transform(packed)
        if 'gender' in self.meta_keys:
            code = int(packed['gender'][0])
            result['data_samples'].set_metainfo(
                dict(gender=Gender.parse(code, f'{_NAME}: results["gender"]').model_name))
        return result

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(joint_indices={self.joint_indices}, '
                f'num_joints={self.num_joints}, pose_dim={self.pose_dim}, '
                f'num_betas={self.num_betas}, meta_keys={self.meta_keys}, '
                f'pack_transformed={self.pack_transformed})')
