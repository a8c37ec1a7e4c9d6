"""``KeypointMetricAdapter``: runs an MMPose metric on renamed ground-truth fields.

MMPose's 2D metrics (PCKAccuracy, EPE, AUC, ...) read ``gt_instances.keypoints`` and
``keypoints_visible``. In a mesh model those names hold the mesh head's joints in crop
pixels (see ``PackPoseMeshInputs``); this adapter gives the wrapped metric other fields under
those names, e.g. ``pose2d_keypoints`` (image pixels, all dataset joints). The wrapped metric
does all the work, including its result names and prefix.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS

DEFAULT_RENAME = {'keypoints': 'pose2d_keypoints',
                  'keypoints_visible': 'pose2d_keypoints_visible'}


@METRICS.register_module()
class KeypointMetricAdapter(BaseMetric):
    """Wraps a metric; each listed ``gt_instances`` field is read from another field.

    Args:
        metric: config of the wrapped metric, e.g. ``dict(type='PCKAccuracy', thr=0.05)``.
        gt_fields: wrapped metric's field name -> field it gets instead (default:
            keypoints <- pose2d_keypoints, keypoints_visible <- pose2d_keypoints_visible).
        collect_device: unused (the wrapped metric collects its own results).
        prefix: unused (the wrapped metric's prefix names the results).
    """

    def __init__(self,
                 metric: Mapping[str, Any],
                 gt_fields: Optional[Mapping[str, str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metric = METRICS.build(dict(metric))
        self.gt_fields = dict(DEFAULT_RENAME if gt_fields is None else gt_fields)

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self.metric.dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self.metric.dataset_meta = dataset_meta

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Renames the fields of each sample's ``gt_instances`` and runs the metric's process.

        Args:
            data_batch: the dataloader's batch (passed through).
            data_samples: the model's outputs as dicts.
        """
        renamed = []
        for index, sample in enumerate(data_samples):
            gt = dict(sample['gt_instances'])
            missing = [src for src in self.gt_fields.values() if src not in gt]
            if missing:
                raise KeyError(f'KeypointMetricAdapter: sample {index} gt_instances lacks '
                               f'{missing} (has {sorted(gt)}); pack them with '
                               'PackPoseMeshInputs')
            gt.update({name: gt[src] for name, src in self.gt_fields.items()})
            renamed.append(dict(sample, gt_instances=gt))
        self.metric.process(data_batch, renamed)

    def compute_metrics(self, results: List[Any]) -> Dict[str, float]:
        """Not used: :meth:`evaluate` hands the work to the wrapped metric."""
        return self.metric.compute_metrics(results)

    def evaluate(self, size: int) -> Dict[str, float]:
        """The wrapped metric's results over ``size`` samples."""
        return self.metric.evaluate(size)
