"""``PackPoseMeshInputs``: PackMeshInputs plus the 2D keypoints of MMPose's 2D metrics.

``PackMeshInputs`` packs ``gt_instances.keypoints`` as MeshHead reads them: the selected
K joints (e.g. J14) in input-crop pixels. MMPose's 2D metrics read the same key as image
pixels of every dataset joint (e.g. J24). Both cannot live under one name, so this packer
also keeps the image-pixel joints of the whole dataset set under their own names:

- ``gt_instances.pose2d_keypoints`` (1, K_all, 2) image pixels (after augmentation);
- ``gt_instances.pose2d_keypoints_visible`` (1, K_all).

``KeypointMetricAdapter`` hands them to an MMPose metric as ``keypoints`` /
``keypoints_visible``. The heatmap targets of ``GenerateTarget`` (``heatmaps``,
``keypoint_weights``) are packed by the parent class as MMPose does.
"""
from __future__ import annotations

from typing import Dict

import numpy as np
from mmpose.registry import TRANSFORMS

from fastmetro_mm.datasets.transforms.formatting import PackMeshInputs


@TRANSFORMS.register_module()
class PackPoseMeshInputs(PackMeshInputs):
    """Packs a sample for a 2D-pose plus mesh model; arguments as :class:`PackMeshInputs`."""

    instance_mapping_table = dict(
        PackMeshInputs.instance_mapping_table,
        pose2d_keypoints='pose2d_keypoints',
        pose2d_keypoints_visible='pose2d_keypoints_visible',
    )

    def transform(self, results: Dict) -> Dict:
        """Adds ``pose2d_keypoints`` / ``pose2d_keypoints_visible``, then packs.

        Args:
            results: the pipeline's sample dict, with image-pixel ``keypoints`` (1, K, 2+)
                and ``keypoints_visible`` (1, K) or (1, K, 1).

        Returns:
            ``dict(inputs=(C, H, W) tensor, data_samples=PoseDataSample)``.
        """
        for key in ('keypoints', 'keypoints_visible'):
            if results.get(key) is None:
                raise KeyError(f'PackPoseMeshInputs: the sample has no {key}; a 2D pose '
                               'head and its metric need the 2D joints')
        keypoints = np.asarray(results['keypoints'], dtype=np.float32)
        if keypoints.ndim != 3 or keypoints.shape[0] != 1 or keypoints.shape[2] < 2:
            raise ValueError(f'PackPoseMeshInputs: results["keypoints"] has shape '
                             f'{keypoints.shape}, expected (1, K, 2)')
        visible = np.asarray(results['keypoints_visible'], dtype=np.float32)
        visible = visible.reshape(1, -1)
        if visible.shape[1] != keypoints.shape[1]:
            raise ValueError(f'PackPoseMeshInputs: {keypoints.shape[1]} keypoints but '
                             f'keypoints_visible has shape '
                             f'{np.shape(results["keypoints_visible"])}')
        results = dict(results,
                       pose2d_keypoints=keypoints[..., :2],
                       pose2d_keypoints_visible=visible)
        return super().transform(results)
