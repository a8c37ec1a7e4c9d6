"""Mesh recovery on images: build a model, crop people, run it, place meshes in the image.

Preprocessing is the config's own test pipeline (``test_dataloader.dataset.pipeline``), run
through MMEngine's ``Compose`` and ``pseudo_collate`` exactly as
``mmpose.apis.inference_topdown`` does, so a crop at inference is cut like a crop at test
time. People of several images go through the model together, ``batch_size`` crops at a time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.apis import init_model as init_pose_model
from mmpose.structures.bbox import bbox_xywh2xyxy

from fastmetro_mm.mesh.image_camera import ImageCamera, crop_cam_to_translation
from .detection import detect_people
from .mesh_prediction import MeshPrediction

ImageLike = Union[str, Path, np.ndarray]
_ATTENTION_KEYS = ('decoder_self_attention', 'decoder_cross_attention')


def init_model(config: Union[str, Path, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[Dict[str, Any]] = None) -> nn.Module:
    """Builds a FastMETRO estimator from a config and loads its checkpoint.

    MMPose's ``init_model`` (backbone pre-training switched off, SyncBN reverted, the
    dataset meta from the checkpoint or config, eval mode) with this plugin imported.

    Args:
        config: config file or :class:`Config`; its ``custom_imports`` import fastmetro_mm.
        checkpoint: checkpoint file (an MMEngine checkpoint, a plain state dict, or one
            converted by ``tools/model_converters/fastmetro_official_to_mmpose.py``); None keeps
            random weights.
        device: torch device, e.g. 'cpu' or 'cuda:0'.
        cfg_options: config overrides, e.g. ``{'model.head.body_model.model_path': ...}``.

    Returns:
        The estimator; ``model.cfg`` is the config used.
    """
    # Importing this module imported fastmetro_mm, so the plugin is registered even for a
    # config without custom_imports.
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    if 'test_dataloader' not in config:
        raise KeyError('init_model: the config has no test_dataloader; its '
                       'dataset.pipeline is the preprocessing of inference')
    return init_pose_model(config, checkpoint, device=device, cfg_options=cfg_options)


def _load_image(image: ImageLike, index: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR image from a path or an array."""
    if isinstance(image, (str, Path)):
        if not Path(image).is_file():
            raise FileNotFoundError(f'inference_mesh: image {index} not found: {image}')
        return mmcv.imread(str(image), channel_order='bgr')
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f'inference_mesh: image {index} must be a path or an (H, W, 3) uint8 '
                         f'BGR array, got {array.dtype} {array.shape}')
    return array


def _boxes(bboxes: Optional[Any], index: int, bbox_format: str) -> np.ndarray:
    """(N, 5) float32 boxes x1, y1, x2, y2, score from (N, 4) or (N, 5) input."""
    boxes = np.asarray(bboxes, dtype=np.float32)
    if boxes.size == 0:
        return np.zeros((0, 5), np.float32)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f'inference_mesh: boxes of image {index} must have shape (N, 4) or '
                         f'(N, 5) (with scores), got {boxes.shape}')
    if boxes.shape[1] == 4:
        boxes = np.concatenate([boxes, np.ones((len(boxes), 1), np.float32)], axis=1)
    if bbox_format == 'xywh':
        boxes[:, :4] = bbox_xywh2xyxy(boxes[:, :4])
    elif bbox_format != 'xyxy':
        raise ValueError(f"inference_mesh: bbox_format must be 'xyxy' or 'xywh', got "
                         f'{bbox_format!r}')
    if np.any(boxes[:, 2] <= boxes[:, 0]) or np.any(boxes[:, 3] <= boxes[:, 1]):
        raise ValueError(f'inference_mesh: image {index} has empty boxes (x2 <= x1 or y2 <= '
                         f'y1): {boxes[:, :4].tolist()}')
    return boxes


@torch.no_grad()
def inference_mesh(model: nn.Module,
                   images: Union[ImageLike, Sequence[ImageLike]],
                   bboxes: Optional[Any] = None,
                   detector: Optional[nn.Module] = None,
                   batch_size: int = 16,
                   bbox_format: str = 'xyxy',
                   det_cat_id: int = 0,
                   bbox_thr: float = 0.5,
                   nms_thr: float = 0.3,
                   focal_length: Optional[float] = None,
                   return_attention: bool = False
                   ) -> Union[List[MeshPrediction], List[List[MeshPrediction]]]:
    """Recovers the mesh of every person in one image or a list of images.

    Args:
        model: from :func:`init_model`.
        images: an image path or (H, W, 3) uint8 BGR array (``cv2.imread`` order), or a list
            of them (e.g. video frames).
        bboxes: person boxes, (N, 4) or (N, 5) with scores, for one image; a list of such for
            a list of images. None: run ``detector``.
        detector: an MMDetection detector from :func:`init_person_detector`, used when
            ``bboxes`` is None.
        batch_size: crops per forward pass (people of all images are batched together).
        bbox_format: 'xyxy' or 'xywh' for given boxes.
        det_cat_id: the detector's person label (0 in COCO).
        bbox_thr: minimum detection score.
        nms_thr: IoU threshold of the non-maximum suppression of detections.
        focal_length: focal length (pixels) of the image camera the meshes are placed in;
            None: ``5000 * max(H, W) / 256`` (see :class:`ImageCamera`).
        return_attention: keep each person's decoder attention maps and input crop.

    Returns:
        One image: a list of :class:`MeshPrediction`, one per box, in box order. A list of
        images: a list of such lists.

    Raises:
        ValueError: no ``bboxes`` and no ``detector``; boxes of the wrong shape.
    """
    single = isinstance(images, (str, Path)) or (isinstance(images, np.ndarray)
                                                 and images.ndim == 3)
    image_list = [images] if single else list(images)
    if bboxes is None:
        if detector is None:
            raise ValueError(
                'inference_mesh: give person boxes (bboxes=...) or a person detector '
                '(detector=fastmetro_mm.apis.init_person_detector(DET_CONFIG, DET_CHECKPOINT),'
                ' which needs mmdet)')
        box_list = [None] * len(image_list)
    else:
        box_list = [bboxes] if single else list(bboxes)
        if len(box_list) != len(image_list):
            raise ValueError(f'inference_mesh: {len(box_list)} box arrays for '
                             f'{len(image_list)} images')
    if batch_size < 1:
        raise ValueError(f'inference_mesh: batch_size must be >= 1, got {batch_size}')

    loaded = [_load_image(image, i) for i, image in enumerate(image_list)]
    if bboxes is None:
        box_list = [detect_people(detector, img, det_cat_id, bbox_thr, nms_thr)
                    for img in loaded]
    box_list = [_boxes(boxes, i, bbox_format) for i, boxes in enumerate(box_list)]

    init_default_scope(model.cfg.get('default_scope', 'mmpose'))
    pipeline = Compose(model.cfg.test_dataloader.dataset.pipeline)
    meta = dict(getattr(model, 'dataset_meta', None) or {})
    owners = [(i, j) for i, boxes in enumerate(box_list) for j in range(len(boxes))]
    samples = []
    test_cfg = model.test_cfg
    previous = test_cfg.get('output_attention', False)
    test_cfg['output_attention'] = return_attention
    try:
        for start in range(0, len(owners), batch_size):
            data_list = []
            for i, j in owners[start:start + batch_size]:
                info = dict(img=loaded[i], bbox=box_list[i][j:j + 1, :4].copy(),
                            bbox_score=box_list[i][j:j + 1, 4].copy(), **meta)
                data_list.append(pipeline(info))
            batch = pseudo_collate(data_list)
            outputs = model.test_step(batch)
            if return_attention:
                for sample, data in zip(outputs, data_list):
                    crop = data['inputs'].permute(1, 2, 0).cpu().numpy()
                    sample.set_field(np.ascontiguousarray(crop[..., ::-1]), 'crop',
                                     field_type='metainfo')  # BGR -> RGB
            samples.extend(outputs)
    finally:
        test_cfg['output_attention'] = previous

    results: List[List[MeshPrediction]] = [[] for _ in loaded]
    for (i, j), sample in zip(owners, samples):
        height, width = loaded[i].shape[:2]
        camera = ImageCamera.for_image(width, height, focal_length)
        results[i].append(_to_prediction(sample, box_list[i][j], camera))
    return results[0] if single else results


def _to_prediction(sample: Any, box: np.ndarray, camera: ImageCamera) -> MeshPrediction:
    """One estimator output (PoseDataSample) as a :class:`MeshPrediction`."""
    pred = sample.pred_instances
    for key in ('vertices', 'keypoints_3d', 'cam'):
        if key not in pred:
            raise KeyError(f'inference_mesh: the model output has no pred_instances.{key} '
                           f'(found {sorted(pred.keys())}); is it a TopdownMeshEstimator?')
    center = np.asarray(sample.metainfo['input_center'], np.float64).reshape(2)
    scale = np.asarray(sample.metainfo['input_scale'], np.float64).reshape(2)
    cam = np.asarray(pred.cam, np.float64).reshape(3)
    vertices = np.asarray(pred.vertices, np.float32)[0]
    joints = np.asarray(pred.keypoints_3d, np.float32)[0]
    cam_t = crop_cam_to_translation(cam[None], center[None], scale[None], camera)[0]
    vertices_cam = vertices + cam_t.astype(np.float32)
    joints_cam = joints + cam_t.astype(np.float32)
    extra: Dict[str, Any] = {}
    for key in ('smpl_pose', 'smpl_betas'):
        if key in pred:
            extra[key] = np.asarray(pred.get(key), np.float32)[0]  # drop the instance axis
    if _ATTENTION_KEYS[0] in pred:
        extra['attention'] = {key: np.asarray(pred.get(key))[0] for key in _ATTENTION_KEYS}
        extra['crop'] = sample.metainfo.get('crop')
    return MeshPrediction(
        bbox=box[:4].astype(np.float32), bbox_score=float(box[4]),
        crop_center=center.astype(np.float32), crop_scale=scale.astype(np.float32),
        cam=cam.astype(np.float32), vertices=vertices, keypoints_3d=joints,
        cam_t=cam_t.astype(np.float32), focal_length=camera.focal_length,
        principal_point=np.asarray(camera.principal_point, np.float32),
        vertices_cam=vertices_cam, keypoints_3d_cam=joints_cam,
        vertices_2d=camera.project(vertices_cam).astype(np.float32),
        keypoints_2d=camera.project(joints_cam).astype(np.float32), **extra)


def mesh_faces(model: nn.Module) -> np.ndarray:
    """(F, 3) int64 triangles of the model's output mesh (from its body model file)."""
    head = getattr(model, 'head', None)
    body_models = getattr(head, 'body_models', None)
    if not body_models:
        raise AttributeError('mesh_faces: the model has no head.body_models; expected a '
                             'TopdownMeshEstimator with a MeshHead')
    body_model = body_models[head.default_gender]
    return np.asarray(body_model.faces.cpu().numpy(), dtype=np.int64)
