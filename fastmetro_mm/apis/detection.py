"""Person boxes from an MMDetection detector (optional dependency, imported on use).

MMPose's top-down demos do the same: the detector's test pipeline is adapted to run under
MMPose's default scope (``mmpose.utils.adapt_mmdet_pipeline``), boxes of one category are kept
above a score threshold, and overlapping boxes are suppressed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch.nn as nn

MMDET_HELP = ("person detection needs MMDetection ('pip install mmdet>=3.0', installed with "
              'this project\'s stack); or pass the person boxes yourself (bboxes=...)')


def init_person_detector(config: Union[str, Path], checkpoint: Optional[str] = None,
                         device: str = 'cpu') -> nn.Module:
    """Builds an MMDetection detector for :func:`detect_people`.

    Args:
        config: MMDetection config file (e.g. an RTMDet or Faster R-CNN COCO config).
        checkpoint: its checkpoint file or URL; None keeps random weights (tests only).
        device: torch device.

    Returns:
        The detector, in eval mode, with its test pipeline adapted to MMPose's scope.
    """
    try:
        from mmdet.apis import init_detector
    except ImportError as exc:
        raise ImportError(f'init_person_detector: {MMDET_HELP} ({exc})') from exc
    from mmengine.config import Config
    from mmpose.utils import adapt_mmdet_pipeline

    cfg = Config.fromfile(str(config)) if not isinstance(config, Config) else config
    if checkpoint is None and cfg.model.get('backbone', {}).get('init_cfg') is not None:
        cfg.model.backbone.init_cfg = None  # random weights: do not download pretraining
    detector = init_detector(cfg, checkpoint, device=device)
    detector.cfg = adapt_mmdet_pipeline(detector.cfg)
    return detector


def detect_people(detector: nn.Module, image: Union[str, np.ndarray], category_id: int = 0,
                  score_thr: float = 0.5, nms_thr: float = 0.3) -> np.ndarray:
    """Person boxes of one image.

    Args:
        detector: from :func:`init_person_detector` (or mmdet's ``init_detector`` followed by
            ``mmpose.utils.adapt_mmdet_pipeline``).
        image: image path or (H, W, 3) BGR array.
        category_id: label of the person class (0 in COCO).
        score_thr: minimum detection score.
        nms_thr: IoU above which the lower-scoring of two boxes is dropped.

    Returns:
        (N, 5) boxes x1, y1, x2, y2, score, highest score first, clipped to the image.
    """
    try:
        from mmdet.apis import inference_detector
    except ImportError as exc:
        raise ImportError(f'detect_people: {MMDET_HELP} ({exc})') from exc
    from mmengine.registry import init_default_scope
    from mmpose.evaluation.functional import nms

    if not isinstance(image, np.ndarray):
        import mmcv
        image = mmcv.imread(str(image), channel_order='bgr')
    scope = detector.cfg.get('default_scope', 'mmdet')
    init_default_scope(scope)
    try:
        result = inference_detector(detector, image)
    finally:
        init_default_scope('mmpose')
    instances = result.pred_instances.cpu().numpy()
    keep = (instances.labels == category_id) & (instances.scores > score_thr)
    boxes = np.concatenate([instances.bboxes[keep], instances.scores[keep, None]], axis=1)
    # Detectors that pad their input (RTMDet, YOLOX) may return boxes reaching into the pad.
    height, width = image.shape[:2]
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
    boxes = boxes[np.argsort(-boxes[:, 4], kind='stable')]
    if len(boxes) > 1:
        boxes = boxes[nms(boxes, nms_thr)]
    return boxes.astype(np.float32).reshape(-1, 5)
