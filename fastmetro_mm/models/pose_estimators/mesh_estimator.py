"""Top-down mesh estimator: MMPose's top-down estimator with 3D results kept as they are.

MMPose's ``TopdownPoseEstimator.add_pred_to_datasample`` rescales every ``keypoints``
coordinate from the input crop to the image. A mesh head's results are mostly 3D (vertices,
3D keypoints and camera in metres / crop units) and must stay untouched; only the 2D
``keypoints`` move to image pixels, with the same crop-to-image mapping MMPose uses.
"""
from __future__ import annotations

from itertools import zip_longest
from typing import Callable, Dict, Optional

import numpy as np
from mmpose.models.pose_estimators.topdown import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import InstanceList, PixelDataList, SampleList
from torch import Tensor

from fastmetro_mm.mesh.camera import crop_to_image

_CROP_KEYS = ('input_center', 'input_scale', 'input_size')


@MODELS.register_module()
class TopdownMeshEstimator(TopdownPoseEstimator):
    """Top-down estimator for mesh heads such as :class:`MeshHead`.

    Arguments are those of :class:`mmpose.models.TopdownPoseEstimator`.

    Each sample's ``pred_instances`` gets the head's fields unchanged except ``keypoints``
    (1, K, 2), mapped from crop to image pixels; ``keypoints_visible`` (the scores, as MMPose
    does), and ``bboxes`` / ``bbox_scores`` copied from ``gt_instances`` when present.
    ``test_cfg.output_keypoint_indices`` selects joints in every ``keypoint*`` field,
    ``keypoints_3d`` included. Other 3D fields pass through unchanged, e.g. ``vertices``,
    ``cam`` and, from a head with the SMPL parameter regressor, ``smpl_pose``
    (1, 24, 3, 3), ``smpl_betas`` (1, 10) and ``smpl_vertices`` (1, V, 3).

    ``exported_network``, when set (``fastmetro_mm.deployment.use_onnxruntime``), replaces
    backbone, neck and the head's forward in :meth:`predict`: a callable from the (B, 3, H, W)
    normalised crops to the head's forward dict. Preprocessing and the head's post-processing
    stay the same.
    """

    exported_network: Optional[Callable[[Tensor], Dict[str, Tensor]]] = None

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """MMPose's top-down ``predict``, or the same through ``exported_network``."""
        if self.exported_network is None:
            return super().predict(inputs, data_samples)
        if self.test_cfg.get('flip_test', False):
            raise ValueError('TopdownMeshEstimator: flip_test is not supported with an '
                             'exported network; set test_cfg.flip_test=False')
        out = self.exported_network(inputs)
        preds = self.head.predict_from_outputs(out, data_samples, test_cfg=self.test_cfg)
        return self.add_pred_to_datasample(preds, None, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances: InstanceList,
                               batch_pred_fields: Optional[PixelDataList],
                               batch_data_samples: SampleList) -> SampleList:
        """Writes each sample's predictions into ``data_sample.pred_instances``.

        Args:
            batch_pred_instances: B InstanceData from the head (numpy fields).
            batch_pred_fields: optional B PixelData (kept as they are).
            batch_data_samples: the B input samples; their metainfo holds
                ``input_center``, ``input_scale`` and ``input_size``.

        Returns:
            The same data samples, with ``pred_instances`` (and ``pred_fields``) set.
        """
        if len(batch_pred_instances) != len(batch_data_samples):
            raise ValueError(f'TopdownMeshEstimator: {len(batch_pred_instances)} predictions '
                             f'for {len(batch_data_samples)} data samples')
        indices = self.test_cfg.get('output_keypoint_indices', None)
        for index, (pred_instances, pred_fields, data_sample) in enumerate(
                zip_longest(batch_pred_instances, batch_pred_fields or [],
                            batch_data_samples)):
            meta = data_sample.metainfo
            missing = [key for key in _CROP_KEYS if key not in meta]
            if missing:
                raise KeyError(f'TopdownMeshEstimator: data sample {index} metainfo lacks '
                               f'{missing}; the top-down pipeline (GetBBoxCenterScale + '
                               'TopdownAffine + PackPoseInputs) sets them')
            center, scale, size = (np.asarray(meta[key], dtype=np.float32).reshape(-1)
                                   for key in _CROP_KEYS)
            if 'keypoints' in pred_instances:
                keypoints = np.asarray(pred_instances.keypoints, dtype=np.float32)
                pred_instances.keypoints = crop_to_image(keypoints, center[:2], scale[:2],
                                                         input_size=size[:2])
                if 'keypoint_scores' not in pred_instances:
                    pred_instances.keypoint_scores = np.ones(keypoints.shape[:-1],
                                                             dtype=np.float32)
                if 'keypoints_visible' not in pred_instances:
                    pred_instances.keypoints_visible = pred_instances.keypoint_scores
            if indices is not None:
                for key, value in list(pred_instances.all_items()):
                    if key.startswith('keypoint'):
                        pred_instances.set_field(value[:, indices], key)
            gt_instances = data_sample.get('gt_instances', None)
            if gt_instances is not None:
                for key in ('bboxes', 'bbox_scores'):
                    if key in gt_instances:
                        pred_instances.set_field(gt_instances.get(key), key)
            data_sample.pred_instances = pred_instances
            if pred_fields is not None:
                data_sample.pred_fields = pred_fields
        return batch_data_samples
