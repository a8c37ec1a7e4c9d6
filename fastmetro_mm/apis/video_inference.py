"""Mesh recovery on video: per-frame inference, people tracked across frames, smoothing.

Frames go through :func:`inference_mesh` a batch at a time; then, frame by frame, the people
get track ids (from the boxes' tracker, :class:`IoUTracker`, or given with the boxes) and,
when asked, their meshes, joints, cameras and SMPL parameters are smoothed per track
(:class:`TemporalSmoother`). Everything after the network is causal, so
:func:`iter_inference_video` can run on a stream (a webcam) with a delay of one batch.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import (Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch.nn as nn

from ..mesh.image_camera import ImageCamera
from .inference import ImageLike, _load_image, inference_mesh
from .mesh_prediction import MeshPrediction
from .person_tracking import IoUTracker
from .temporal_smoothing import SmoothingParams, TemporalSmoother

#: Frames with boxes partly outside the image that are warned about one by one.
MAX_OUTSIDE_WARNINGS = 5

BoxesOption = Union[None, np.ndarray, Sequence[Any], Mapping[int, Any]]


@dataclass
class TrackedMeshPrediction(MeshPrediction):
    """A :class:`MeshPrediction` of a video frame with the id of the person's track.

    Attributes:
        track_id: the same integer for the same person in every frame (-1: not tracked).
    """

    track_id: int = -1


def boxes_partly_outside(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Which boxes reach beyond the image (a pixel's centre at integer coordinates).

    Args:
        boxes: (N, 4+) boxes x1, y1, x2, y2 in pixels.
        width: image width in pixels.
        height: image height in pixels.

    Returns:
        (N,) bool.
    """
    boxes = np.asarray(boxes, np.float64)
    if boxes.size == 0:
        return np.zeros(0, bool)
    boxes = boxes.reshape(-1, boxes.shape[-1])
    return ((boxes[:, 0] < -0.5) | (boxes[:, 1] < -0.5) | (boxes[:, 2] > width - 0.5)
            | (boxes[:, 3] > height - 0.5))


def iter_inference_video(model: nn.Module, frames: Iterable[ImageLike],
                         bboxes_per_frame: BoxesOption = None,
                         detector: Optional[nn.Module] = None,
                         track: bool = True,
                         smoothing: Union[None, bool, Mapping[str, float],
                                          SmoothingParams] = None,
                         fps: float = 30.0,
                         track_ids_per_frame: Optional[Union[Sequence[Any],
                                                             Mapping[int, Any]]] = None,
                         frames_per_batch: int = 8,
                         iou_threshold: float = 0.3,
                         max_age: int = 10,
                         **inference_kwargs: Any) -> Iterator[List[TrackedMeshPrediction]]:
    """Yields the people of each frame of a video, tracked and optionally smoothed.

    Args:
        model: from :func:`init_model`.
        frames: the frames in order: (H, W, 3) uint8 BGR arrays or image paths; any iterable
            (a list, a generator reading a video or a webcam).
        bboxes_per_frame: person boxes x1, y1, x2, y2 (pixels; a fifth column is a score): one
            2-D (N, 4) array-like used in every frame; a sequence with one 2-D (N_t, 4) entry
            per frame (a 3-D array or a list of arrays); or a mapping from frame index to its
            (N_t, 4) array (frames it lacks have no people). None: run ``detector`` (without
            one, ``inference_mesh`` takes the whole frame as the box).
        detector: an MMDetection person detector (:func:`init_person_detector`).
        track: give each person a track id with :class:`IoUTracker`. Ignored where
            ``track_ids_per_frame`` gives the ids.
        smoothing: None or False: none; True: :class:`SmoothingParams` defaults; a dict of
            its fields (e.g. ``dict(min_cutoff=1.0, beta=1.0)``) or one. Needs track ids.
        fps: the video's frame rate (the filters' time step).
        track_ids_per_frame: per frame (a sequence, or a mapping like ``bboxes_per_frame``)
            the (N_t,) track ids of its boxes, e.g. from :func:`read_bbox_file`.
        frames_per_batch: frames whose people go through the model together.
        iou_threshold: least IoU for the tracker to continue a track.
        max_age: frames a track may go unseen and keep its id.
        **inference_kwargs: passed to :func:`inference_mesh` (``batch_size``,
            ``focal_length``, ``bbox_thr``, ...).

    Yields:
        Per frame, a list of :class:`TrackedMeshPrediction` in box order.

    Raises:
        ValueError: smoothing without track ids; boxes or ids that do not fit the frames.

    Warns:
        UserWarning: a given box that lies (partly) outside its frame, naming frame and box
            (the first few frames one by one, then how many more).
    """
    params = SmoothingParams.from_option(smoothing)
    if params is not None and not track and track_ids_per_frame is None:
        raise ValueError('inference_video: smoothing works per tracked person; pass '
                         'track=True or track_ids_per_frame')
    if frames_per_batch < 1:
        raise ValueError(f'inference_video: frames_per_batch must be >= 1, got '
                         f'{frames_per_batch}')
    fixed = _fixed_boxes(bboxes_per_frame)
    if fixed is not None:
        bboxes_per_frame = fixed  # a list [[x1, y1, x2, y2], ...] too, not one per frame
    tracker = IoUTracker(iou_threshold, max_age) if track and track_ids_per_frame is None \
        else None
    smoother = None if params is None else TemporalSmoother(fps, params)
    outside: List[int] = []
    batch: List[Tuple[int, np.ndarray]] = []
    for index, frame in enumerate(frames):
        batch.append((index, _load_image(frame, index)))
        if len(batch) == frames_per_batch:
            yield from _run_batch(model, batch, bboxes_per_frame, detector, tracker, smoother,
                                  track_ids_per_frame, outside, inference_kwargs)
            batch = []
    if batch:
        yield from _run_batch(model, batch, bboxes_per_frame, detector, tracker, smoother,
                              track_ids_per_frame, outside, inference_kwargs)
    if len(outside) > MAX_OUTSIDE_WARNINGS:
        warnings.warn(f'inference_video: {len(outside) - MAX_OUTSIDE_WARNINGS} more frames '
                      f'(up to frame {outside[-1]}) have boxes partly outside the image',
                      UserWarning, stacklevel=2)


def inference_video(model: nn.Module, frames: Iterable[ImageLike],
                    bboxes_per_frame: BoxesOption = None,
                    detector: Optional[nn.Module] = None, track: bool = True,
                    smoothing: Union[None, bool, Mapping[str, float], SmoothingParams] = None,
                    **kwargs: Any) -> List[List[TrackedMeshPrediction]]:
    """All frames of :func:`iter_inference_video` as one list (same arguments).

    Example:
        >>> frames = [cv2.imread(f'frames/{i:06d}.jpg') for i in range(100)]
        >>> people = inference_video(model, frames, detector=detector, smoothing=True)
        >>> people[10][0].track_id, people[10][0].vertices_cam.shape   # (6890, 3)
    """
    return list(iter_inference_video(model, frames, bboxes_per_frame, detector, track,
                                     smoothing, **kwargs))


def _fixed_boxes(option: Any) -> Optional[np.ndarray]:
    """``option`` as (N, 4+) boxes when it is one 2-D set for every frame, else None."""
    if option is None or isinstance(option, Mapping):
        return None
    try:
        boxes = np.asarray(option, dtype=np.float64)
    except (TypeError, ValueError):
        return None  # ragged: one entry per frame
    return boxes if boxes.ndim == 2 else None


def _per_frame(option: Any, index: int, what: str) -> Any:
    """The entry of a per-frame option for frame ``index``."""
    if isinstance(option, Mapping):
        return option.get(index, np.zeros((0, 4) if what == 'boxes' else 0))
    if isinstance(option, np.ndarray) and option.ndim == 2 and what == 'boxes':
        return option  # one set of boxes for every frame
    if index >= len(option):
        raise ValueError(f'inference_video: {what} are given for {len(option)} frames, but the '
                         f'video has frame {index}; give one entry per frame or a mapping '
                         'from frame index')
    return option[index]


def _run_batch(model: nn.Module, batch: List[Tuple[int, np.ndarray]], bboxes_per_frame: Any,
               detector: Optional[nn.Module], tracker: Optional[IoUTracker],
               smoother: Optional[TemporalSmoother], track_ids_per_frame: Any,
               outside: List[int], inference_kwargs: Dict[str, Any]
               ) -> Iterator[List[TrackedMeshPrediction]]:
    images = [image for _, image in batch]
    boxes = None
    if bboxes_per_frame is not None:
        boxes = [_per_frame(bboxes_per_frame, index, 'boxes') for index, _ in batch]
        for (index, image), frame_boxes in zip(batch, boxes):
            _warn_outside(np.asarray(frame_boxes, np.float64), index, image, outside)
    results = inference_mesh(model, images, boxes, detector=detector, **inference_kwargs)
    for (index, image), people in zip(batch, results):
        if track_ids_per_frame is not None:
            ids = np.asarray(_per_frame(track_ids_per_frame, index, 'track ids'),
                             np.int64).reshape(-1)
            if len(ids) != len(people):
                raise ValueError(f'inference_video: frame {index} has {len(people)} boxes but '
                                 f'{len(ids)} track ids')
        elif tracker is not None:
            ids = tracker.update(np.stack([p.bbox for p in people]) if people
                                 else np.zeros((0, 4)), index)
        else:
            ids = np.full(len(people), -1, np.int64)
        if smoother is not None and people:
            camera = frame_camera(people[0], image.shape[1], image.shape[0])
            people = smoother(people, ids, index, camera)
        if smoother is not None and tracker is not None:
            smoother.forget(tracker.active_ids)
        yield [TrackedMeshPrediction(**vars(person), track_id=int(track_id))
               for person, track_id in zip(people, ids)]


def frame_camera(person: MeshPrediction, width: int, height: int) -> ImageCamera:
    """The camera ``inference_mesh`` placed a ``width`` x ``height`` frame's people in (the
    same for every person of a frame), from one of its predictions."""
    size = (int(width), int(height))
    principal_point = tuple(float(v) for v in person.principal_point)
    focal_y = getattr(person, 'focal_length_y', None)  # set for a user's non-square pixels
    if focal_y is None or focal_y == person.focal_length:
        return ImageCamera(float(person.focal_length), principal_point, size)
    return ImageCamera(float(person.focal_length), principal_point, size,
                       focal_length_y=float(focal_y))


def _warn_outside(boxes: np.ndarray, index: int, image: np.ndarray, outside: List[int]) -> None:
    if boxes.size == 0:
        return
    height, width = image.shape[:2]
    boxes = boxes.reshape(-1, boxes.shape[-1])
    flagged = boxes_partly_outside(boxes, width, height)
    if not flagged.any():
        return
    outside.append(index)
    if len(outside) <= MAX_OUTSIDE_WARNINGS:
        shown = [[round(float(v), 1) for v in box[:4]] for box in boxes[flagged]]
        warnings.warn(f'inference_video: frame {index} ({width} x {height} pixels) has boxes '
                      f'partly outside the image (x1, y1, x2, y2): {shown}; the crop is padded '
                      'there', UserWarning, stacklevel=4)
