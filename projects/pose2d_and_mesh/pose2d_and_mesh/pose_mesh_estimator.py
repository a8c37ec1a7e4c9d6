"""``PoseMeshEstimator``: one backbone, a 2D pose head and a mesh head trained jointly.

MMPose's ``TopdownPoseEstimator`` holds one head. This estimator holds two, reading the same
backbone (and neck) features in one pass:

- ``pose_head``: any MMPose 2D head, e.g. ``HeatmapHead`` with the MSRA heatmap codec; it
  is built as MMPose's ``self.head``, where MMPose's tools look for the head;
- ``mesh_head``: ``MeshHead`` (or a head with its interface), ``self.mesh_head``.

Training sums the heads' loss terms, each multiplied by its head's weight, under prefixed
names (``pose2d_loss_kpt``, ``mesh_loss_vertices``, ...); other logged values (the heatmap
head's ``acc_pose``) are prefixed and left unweighted. Prediction writes both heads' results
into one ``pred_instances``:

- the 2D head's ``keypoints`` (1, K2d, 2) and ``keypoint_scores``: image pixels, as every
  MMPose 2D model does, so MMPose's 2D metrics and visualisers read them;
- the mesh head's ``vertices`` (1, V, 3), ``keypoints_3d`` (1, K, 3), ``cam`` (1, 3) as they
  are, and its projected joints as ``mesh_keypoints`` (1, K, 2), image pixels.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from fastmetro_mm.mesh.camera import crop_to_image
from fastmetro_mm.models.pose_estimators.mesh_estimator import TopdownMeshEstimator

#: Fields of the mesh head's predictions that move over unchanged.
MESH_FIELDS = ('vertices', 'keypoints_3d', 'cam')


@MODELS.register_module()
class PoseMeshEstimator(TopdownMeshEstimator):
    """Top-down estimator with a 2D pose head and a mesh head on one backbone.

    Args:
        backbone: backbone config.
        pose_head: 2D head config (e.g. ``HeatmapHead``).
        mesh_head: mesh head config (e.g. ``MeshHead``).
        neck: optional neck config.
        pose_loss_weight: factor of every loss term of the 2D head.
        mesh_loss_weight: factor of every loss term of the mesh head.
        train_cfg: passed to both heads' ``loss``.
        test_cfg: passed to both heads' ``predict``; ``flip_test`` is not supported (the
            mesh head has none).
        data_preprocessor: as TopdownPoseEstimator.
        init_cfg: as TopdownPoseEstimator.
        metainfo: as TopdownPoseEstimator.
    """

    def __init__(self,
                 backbone: ConfigType,
                 pose_head: ConfigType,
                 mesh_head: ConfigType,
                 neck: OptConfigType = None,
                 pose_loss_weight: float = 1.0,
                 mesh_loss_weight: float = 1.0,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 metainfo: Optional[dict] = None) -> None:
        # The 2D head is MMPose's `head` (so MMPose's tooling finds it where it looks);
        # the mesh head sits beside it.
        super().__init__(backbone=backbone, neck=neck, head=pose_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, metainfo=metainfo)
        if pose_loss_weight < 0 or mesh_loss_weight < 0:
            raise ValueError(f'PoseMeshEstimator: loss weights must be >= 0, got '
                             f'pose_loss_weight={pose_loss_weight}, '
                             f'mesh_loss_weight={mesh_loss_weight}')
        if self.test_cfg.get('flip_test', False):
            raise ValueError('PoseMeshEstimator: test_cfg.flip_test is not supported (the '
                             'mesh head has no flip averaging)')
        if self.test_cfg.get('output_keypoint_indices') is not None:
            raise ValueError('PoseMeshEstimator: test_cfg.output_keypoint_indices is not '
                             'supported (the heads predict different joint sets)')
        self.mesh_head = MODELS.build(mesh_head)
        self.mesh_head.test_cfg = self.test_cfg.copy()
        self.loss_weights = {'pose2d': float(pose_loss_weight),
                             'mesh': float(mesh_loss_weight)}

    def _heads(self) -> Tuple[Tuple[str, object], ...]:
        return (('pose2d', self.head), ('mesh', self.mesh_head))

    def _forward(self, inputs: Tensor, data_samples: Optional[SampleList] = None
                 ) -> Dict[str, object]:
        """Raw outputs of both heads: {'pose2d': heatmaps, 'mesh': the mesh head's dict}."""
        feats = self.extract_feat(inputs)
        return {name: head.forward(feats) for name, head in self._heads()}

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Weighted loss terms of both heads.

        Args:
            inputs: (B, C, H, W) images.
            data_samples: B samples with the ground truth of both heads (see
                PackPoseMeshInputs: heatmaps and keypoint_weights for the 2D head, the
                mesh fields for the mesh head).

        Returns:
            ``{head}_{name}`` for every value of each head's loss dict; names containing
            'loss' are multiplied by the head's weight (mmengine sums those).
        """
        feats = self.extract_feat(inputs)
        losses: Dict[str, Tensor] = {}
        for prefix, head in self._heads():
            weight = self.loss_weights[prefix]
            for name, value in head.loss(feats, data_samples, train_cfg=self.train_cfg).items():
                losses[f'{prefix}_{name}'] = value * weight if 'loss' in name else value
        return losses

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Both heads' predictions, merged per sample (see the module docstring).

        Args:
            inputs: (B, C, H, W) images.
            data_samples: the B input samples (metainfo with the crop geometry).

        Returns:
            The data samples with ``pred_instances`` set.
        """
        feats = self.extract_feat(inputs)
        pose_preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        pose_fields = None
        if isinstance(pose_preds, tuple):  # with test_cfg.output_heatmaps
            pose_preds, pose_fields = pose_preds
        mesh_preds = self.mesh_head.predict(feats, data_samples, test_cfg=self.test_cfg)
        if not len(pose_preds) == len(mesh_preds) == len(data_samples):
            raise ValueError(f'PoseMeshEstimator: {len(pose_preds)} 2D and {len(mesh_preds)} '
                             f'mesh predictions for {len(data_samples)} samples')
        for pose, mesh in zip(pose_preds, mesh_preds):
            for key in MESH_FIELDS:
                pose.set_field(mesh.get(key), key)
            pose.mesh_keypoints = mesh.keypoints  # crop pixels until mapped below
        results = self.add_pred_to_datasample(pose_preds, pose_fields, data_samples)
        for sample in results:
            meta = sample.metainfo
            center, scale, size = (np.asarray(meta[key], dtype=np.float32).reshape(-1)[:2]
                                   for key in ('input_center', 'input_scale', 'input_size'))
            sample.pred_instances.mesh_keypoints = crop_to_image(
                np.asarray(sample.pred_instances.mesh_keypoints, dtype=np.float32), center,
                scale, input_size=size)
        return results
