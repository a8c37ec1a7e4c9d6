"""Mesh recovery on images: build a model, crop people, run it, place meshes in the image.

Preprocessing is the config's own test pipeline (``test_dataloader.dataset.pipeline``), run
through MMEngine's ``Compose`` and ``pseudo_collate`` exactly as
``mmpose.apis.inference_topdown`` does, so a crop at inference is cut like a crop at test
time. People of several images go through the model together, ``batch_size`` crops at a time.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpose.apis import init_model as init_pose_model
from mmpose.structures.bbox import bbox_xywh2xyxy

from fastmetro_mm.engine.checkpoint_lookup import is_complete_checkpoint
from fastmetro_mm.engine.checkpoint_match import load_matching_checkpoint
from fastmetro_mm.mesh.image_camera import ImageCamera, crop_cam_to_translation
from .detection import detect_people
from .mesh_prediction import MeshPrediction
from .stage_profile import profile_model, stage

ImageLike = Union[str, Path, np.ndarray]
_ATTENTION_KEYS = ('decoder_self_attention', 'decoder_cross_attention')
#: Where init_model's network runs (see its ``backend``).
BACKENDS = ('pytorch', 'onnxruntime')


def init_model(config: Union[str, Path, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[Dict[str, Any]] = None,
               strict: bool = True, backend: str = 'pytorch',
               onnx_file: Optional[Union[str, Path]] = None) -> nn.Module:
    """Builds a FastMETRO estimator from a config and loads its checkpoint.

    MMPose's ``init_model`` (backbone pre-training switched off, SyncBN reverted, the
    dataset meta from the checkpoint or config, eval mode) with this plugin imported, except
    that a checkpoint which does not fit the model is refused (MMPose loads whatever matches
    and leaves the rest random).

    Args:
        config: config file or :class:`Config`; its ``custom_imports`` import fastmetro_mm.
        checkpoint: checkpoint file (an MMEngine checkpoint, a plain state dict, or one
            converted by ``tools/model_converters/fastmetro_official_to_mmpose.py``); None keeps
            random weights.
        device: torch device, e.g. 'cpu' or 'cuda:0'.
        cfg_options: config overrides, e.g. ``{'model.head.body_model.model_path': ...}``.
        strict: refuse a checkpoint with keys missing, unexpected or of other shapes than
            the model's; False loads the matching part (with a warning) on purpose.
        backend: 'pytorch', or 'onnxruntime': backbone, neck and head network (with the SMPL
            regressor) run from ``onnx_file`` in ONNX Runtime (CPU); the test pipeline,
            normalisation and post-processing stay those of the PyTorch model, so the
            results are the same (within 1e-4). The checkpoint may then be None: the
            network's weights are in the file.
        onnx_file: with 'onnxruntime', the file ``tools/deployment/export_onnx.py`` wrote
            from this config.

    Returns:
        The estimator; ``model.cfg`` is the config used.

    Raises:
        fastmetro_mm.engine.CheckpointMismatchError: ``strict`` and a checkpoint that does not
            fit (another model size, a body checkpoint for a hand config, ...), naming the
            first mismatching keys and their counts.
    """
    if backend not in BACKENDS:
        raise ValueError(f'init_model: backend must be one of {BACKENDS}, got {backend!r}')
    if (backend == 'onnxruntime') != (onnx_file is not None):
        raise ValueError(f"init_model: backend={backend!r} with onnx_file={onnx_file!r}; an "
                         "ONNX file goes with backend='onnxruntime' and only with it")
    # Importing this module imported fastmetro_mm, so the plugin is registered even for a
    # config without custom_imports.
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    if 'test_dataloader' not in config:
        raise KeyError('init_model: the config has no test_dataloader; its '
                       'dataset.pipeline is the preprocessing of inference')
    if checkpoint is not None:
        _check_checkpoint_file(str(checkpoint))
    model = init_pose_model(config, None, device=device, cfg_options=cfg_options)
    if checkpoint is not None:
        loaded = load_matching_checkpoint(model, str(checkpoint), strict=strict,
                                          source='init_model',
                                          how_to_allow='strict=False (the demos\' '
                                          '--allow-partial-load)',
                                          logger=MMLogger.get_current_instance())
        # As MMPose's init_model: the checkpoint's dataset meta comes before the config's.
        meta = loaded.get('meta') or {}
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    if backend == 'onnxruntime':
        from fastmetro_mm.deployment import use_onnxruntime
        use_onnxruntime(model, onnx_file)
    return model


def _check_checkpoint_file(checkpoint: str) -> None:
    """A local checkpoint that is not a whole torch file is named before torch.load fails."""
    if '://' in checkpoint:
        return  # a URL: mmengine downloads it
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f'init_model: checkpoint file not found: {checkpoint}')
    with open(checkpoint, 'rb') as stream:
        if stream.read(1) == b'\x80':
            return  # torch's legacy (pickle) format, before torch 1.6
    if not is_complete_checkpoint(checkpoint):
        raise ValueError(f'init_model: {checkpoint} is not a readable torch checkpoint (not a '
                         'torch.save file, or truncated: its zip directory is missing)')


def _load_image(image: ImageLike, index: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR image from a path or an array.

    A file is decoded as 8-bit BGR whatever it stores (grey, RGBA, 16 bits); a file that does
    not decode is an error naming it, a JPEG without its end marker (truncated: the missing
    part decodes grey) a warning naming it.
    """
    if isinstance(image, (str, Path)):
        if not Path(image).is_file():
            raise FileNotFoundError(f'inference_mesh: image {index} not found: {image}')
        array = mmcv.imread(str(image), channel_order='bgr')
        if array is None:
            raise ValueError(f'inference_mesh: image {index} ({image}) cannot be decoded: not '
                             'an image file OpenCV reads, or damaged')
        if _is_truncated_jpeg(Path(image)):
            warnings.warn(f'inference_mesh: image {index} ({image}) is a truncated JPEG (no '
                          'end-of-image marker); its missing part decodes as grey and the '
                          'meshes of people there are meaningless', UserWarning, stacklevel=3)
        return array
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f'inference_mesh: image {index} must be a path or an (H, W, 3) uint8 '
                         f'BGR array, got {array.dtype} {array.shape}')
    return array


def _is_truncated_jpeg(path: Path) -> bool:
    """A JPEG file whose last 4 kB hold no end-of-image marker (FF D9)."""
    with path.open('rb') as stream:
        if stream.read(3) != b'\xff\xd8\xff':
            return False  # not a JPEG
        stream.seek(0, 2)
        stream.seek(max(0, stream.tell() - 4096))
        return b'\xff\xd9' not in stream.read()


def whole_image_box(image: np.ndarray) -> np.ndarray:
    """(1, 4) box x1, y1, x2, y2 around a whole (H, W, 3) image: the default person box."""
    height, width = image.shape[:2]
    return np.array([[0.0, 0.0, width, height]], np.float32)


def _boxes(bboxes: Optional[Any], index: int, bbox_format: str,
           image_size: Tuple[int, int]) -> np.ndarray:
    """(N, 5) float32 boxes x1, y1, x2, y2, score from (N, 4) or (N, 5) input."""
    try:
        boxes = np.asarray(bboxes, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f'inference_mesh: boxes of image {index} are not a numeric (N, 4) '
                         f'or (N, 5) array: {bboxes!r} ({err})') from None
    if boxes.size == 0:
        return np.zeros((0, 5), np.float32)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f'inference_mesh: boxes of image {index} must have shape (N, 4) or '
                         f'(N, 5) (with scores), got {boxes.shape}')
    if not np.isfinite(boxes).all():
        raise ValueError(f'inference_mesh: image {index} has boxes with NaN or infinite '
                         f'values: {boxes.tolist()}')
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
    width, height = image_size
    outside = ((boxes[:, 2] <= 0) | (boxes[:, 3] <= 0) | (boxes[:, 0] >= width)
               | (boxes[:, 1] >= height))
    if np.any(outside):
        raise ValueError(f'inference_mesh: image {index} ({width} x {height} pixels) has boxes '
                         f'entirely outside it (xyxy): {boxes[outside, :4].tolist()}')
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
                   return_attention: bool = False,
                   camera_intrinsics: Optional[Any] = None
                   ) -> Union[List[MeshPrediction], List[List[MeshPrediction]]]:
    """Recovers the mesh of every person in one image or a list of images.

    Args:
        model: from :func:`init_model`.
        images: an image path or (H, W, 3) uint8 BGR array (``cv2.imread`` order), or a list
            of them (e.g. video frames).
        bboxes: person boxes, (N, 4) or (N, 5) with scores, for one image; a list of such for
            a list of images. None: run ``detector``, or without one take the whole image as
            one person's box (a photo of one person filling the frame).
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
        camera_intrinsics: the user's camera instead of ``focal_length``: a focal length, four
            numbers ``(fx, fy, cx, cy)`` or a (3, 3) matrix K (pixels, pixel centres at
            integers), the same for every image; the translations, the 2D projections and
            so the overlays follow it (see :meth:`ImageCamera.from_intrinsics`).

    Returns:
        One image: a list of :class:`MeshPrediction`, one per box, in box order. A list of
        images: a list of such lists.

    Raises:
        FileNotFoundError: an image path that does not exist.
        ValueError: boxes of the wrong shape, with NaN, empty or entirely outside their
            image; an image file that does not decode; both ``focal_length`` and
            ``camera_intrinsics``, or intrinsics that are no pinhole camera.

    Warns:
        UserWarning: a truncated JPEG (decoded, its missing part grey), naming the file.
    """
    single = isinstance(images, (str, Path)) or (isinstance(images, np.ndarray)
                                                 and images.ndim in (2, 3))
    image_list = [images] if single else list(images)
    if focal_length is not None and camera_intrinsics is not None:
        raise ValueError(f'inference_mesh: give focal_length ({focal_length}) or '
                         'camera_intrinsics, not both')
    if camera_intrinsics is None and focal_length is not None:
        camera_intrinsics = focal_length
    if camera_intrinsics is not None:  # checked before any work
        ImageCamera.from_intrinsics(camera_intrinsics, 1, 1)
    if bboxes is None:
        box_list = [None] * len(image_list)
    else:
        box_list = [bboxes] if single else list(bboxes)
        if len(box_list) != len(image_list):
            raise ValueError(f'inference_mesh: {len(box_list)} box arrays for '
                             f'{len(image_list)} images')
    if batch_size < 1:
        raise ValueError(f'inference_mesh: batch_size must be >= 1, got {batch_size}')

    with stage('reading'):
        loaded = [_load_image(image, i) for i, image in enumerate(image_list)]
    if bboxes is None and detector is not None:
        with stage('detector'):
            box_list = [detect_people(detector, img, det_cat_id, bbox_thr, nms_thr)
                        for img in loaded]
    elif bboxes is None:
        box_list = [whole_image_box(img) for img in loaded]
    box_list = [_boxes(boxes, i, bbox_format, (img.shape[1], img.shape[0]))
                for i, (boxes, img) in enumerate(zip(box_list, loaded))]

    init_default_scope(model.cfg.get('default_scope', 'mmpose'))
    pipeline = Compose(model.cfg.test_dataloader.dataset.pipeline)
    meta = dict(getattr(model, 'dataset_meta', None) or {})
    owners = [(i, j) for i, boxes in enumerate(box_list) for j in range(len(boxes))]
    samples = []
    test_cfg = model.test_cfg
    previous = test_cfg.get('output_attention', False)
    test_cfg['output_attention'] = return_attention
    # With a stage profile active (the demos' --profile) the model's parts are timed by
    # hooks, the rest of test_step (normalisation, post-processing) as 'post-processing'.
    try:
        with profile_model(model):
            for start in range(0, len(owners), batch_size):
                with stage('crop and pipeline'):
                    data_list = []
                    for i, j in owners[start:start + batch_size]:
                        info = dict(img=loaded[i], bbox=box_list[i][j:j + 1, :4].copy(),
                                    bbox_score=box_list[i][j:j + 1, 4].copy(), **meta)
                        data_list.append(pipeline(info))
                    batch = pseudo_collate(data_list)
                with stage('post-processing'):
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
    with stage('post-processing'):
        for (i, j), sample in zip(owners, samples):
            height, width = loaded[i].shape[:2]
            camera = (ImageCamera.for_image(width, height) if camera_intrinsics is None else
                      ImageCamera.from_intrinsics(camera_intrinsics, width, height))
            results[i].append(_to_prediction(sample, box_list[i][j], camera, i))
    return results[0] if single else results


def _to_prediction(sample: Any, box: np.ndarray, camera: ImageCamera,
                   image_index: int = 0) -> MeshPrediction:
    """One estimator output (PoseDataSample) as a :class:`MeshPrediction`.

    A non-positive weak-perspective scale (a barely trained camera head can predict one) puts
    the mesh at or behind the camera: no image camera can show it. The root-relative vertices
    and joints are still the model's answer and are kept; the camera-frame placement and the
    2D projections become NaN, with a warning, and the renderers leave that person out.
    """
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
    if cam[0] > 0:
        cam_t = crop_cam_to_translation(cam[None], center[None], scale[None], camera)[0]
    else:
        warnings.warn(
            f'inference_mesh: image {image_index}, box {box[:4].round(1).tolist()}: the '
            f'predicted weak-perspective scale is {cam[0]:.4g} <= 0, a mesh at or behind the '
            'camera; its camera-frame vertices and 2D projections are NaN (root-relative '
            'vertices and joints kept) and it is not drawn')
        cam_t = np.full(3, np.nan)
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
        cam_t=cam_t.astype(np.float32), focal_length=camera.focal_lengths[0],
        focal_length_y=camera.focal_lengths[1],
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
