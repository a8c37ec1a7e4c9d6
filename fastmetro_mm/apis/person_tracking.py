"""Following people across video frames by the overlap of their boxes.

Each track remembers its last box and a velocity (pixels per frame, from its last two
sightings). In a new frame every track's box is moved by its velocity to where the person
should be now, and boxes are assigned to tracks by maximum total IoU (Hungarian assignment,
``scipy.optimize.linear_sum_assignment``); a pair counts only with IoU >= ``iou_threshold``.
The velocity is what keeps two people apart when they cross: at the crossing their boxes
overlap each other as much as their own previous boxes, and only the predicted positions tell
who is who. A track that finds no box keeps its id for ``max_age`` frames (occlusion, a missed
detection); a box that finds no track starts a new track with the next unused id. Ids are
never reused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment


def box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair of boxes.

    Args:
        first: (N, 4) boxes x1, y1, x2, y2.
        second: (M, 4) boxes x1, y1, x2, y2.

    Returns:
        (N, M) IoU in [0, 1].
    """
    first = np.asarray(first, np.float64).reshape(-1, 4)
    second = np.asarray(second, np.float64).reshape(-1, 4)
    top_left = np.maximum(first[:, None, :2], second[None, :, :2])
    bottom_right = np.minimum(first[:, None, 2:], second[None, :, 2:])
    overlap = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_first = (first[:, 2:] - first[:, :2]).clip(0).prod(axis=1)
    area_second = (second[:, 2:] - second[:, :2]).clip(0).prod(axis=1)
    union = area_first[:, None] + area_second[None, :] - overlap
    return np.where(union > 0, overlap / np.maximum(union, 1e-12), 0.0)


@dataclass
class _Track:
    track_id: int
    box: np.ndarray          # (4,) last seen box
    velocity: np.ndarray     # (4,) box change per frame
    last_frame: int

    def predicted_box(self, frame_index: int) -> np.ndarray:
        return self.box + self.velocity * (frame_index - self.last_frame)


class IoUTracker:
    """Assigns stable integer ids to the person boxes of successive frames.

    Args:
        iou_threshold: least IoU between a box and a track's predicted box to continue it.
        max_age: frames a track may go unseen and still be continued (0: it must be seen in
            every frame).
        velocity_momentum: weight of the old velocity when a track is seen again (0 uses the
            last step only); smooths the prediction against box jitter.

    Example:
        >>> tracker = IoUTracker()
        >>> for index, boxes in enumerate(boxes_per_frame):   # each (N, 4)
        ...     ids = tracker.update(boxes, index)            # (N,) int64
    """

    def __init__(self, iou_threshold: float = 0.3, max_age: int = 10,
                 velocity_momentum: float = 0.5) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f'IoUTracker: iou_threshold must lie in (0, 1], got {iou_threshold}')
        if int(max_age) != max_age or max_age < 0:
            raise ValueError(f'IoUTracker: max_age must be an integer >= 0, got {max_age}')
        if not 0.0 <= velocity_momentum < 1.0:
            raise ValueError('IoUTracker: velocity_momentum must lie in [0, 1), got '
                             f'{velocity_momentum}')
        self.iou_threshold = float(iou_threshold)
        self.max_age = int(max_age)
        self.velocity_momentum = float(velocity_momentum)
        self._tracks: List[_Track] = []
        self._next_id = 0
        self._last_frame: Optional[int] = None

    @property
    def active_ids(self) -> List[int]:
        """Ids of the tracks that may still be continued."""
        return [track.track_id for track in self._tracks]

    def update(self, boxes: np.ndarray, frame_index: Optional[int] = None) -> np.ndarray:
        """Assigns the boxes of the next frame to tracks.

        Args:
            boxes: (N, 4) boxes x1, y1, x2, y2 in pixels (N may be 0); extra columns (a
                score) are ignored.
            frame_index: the frame's index, larger than the previous one; frames skipped
                count towards ``max_age``. None: the frame after the previous one.

        Returns:
            (N,) int64 track ids, in box order.
        """
        boxes = np.asarray(boxes, np.float64)
        if boxes.size == 0:
            boxes = np.zeros((0, 4))
        if boxes.ndim != 2 or boxes.shape[1] < 4:
            raise ValueError(f'IoUTracker.update: boxes must have shape (N, 4), got {boxes.shape}')
        boxes = boxes[:, :4]
        if frame_index is None:
            frame_index = 0 if self._last_frame is None else self._last_frame + 1
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise ValueError(f'IoUTracker.update: frame {frame_index} does not come after frame '
                             f'{self._last_frame}')
        self._last_frame = frame_index
        self._tracks = [track for track in self._tracks
                        if frame_index - track.last_frame <= self.max_age + 1]

        ids = np.full(len(boxes), -1, np.int64)
        if self._tracks and len(boxes):
            predicted = np.stack([track.predicted_box(frame_index) for track in self._tracks])
            iou = box_iou(boxes, predicted)
            rows, cols = linear_sum_assignment(iou, maximize=True)
            for row, col in zip(rows, cols):
                if iou[row, col] >= self.iou_threshold:
                    self._continue(self._tracks[col], boxes[row], frame_index)
                    ids[row] = self._tracks[col].track_id
        for row in np.flatnonzero(ids < 0):
            self._tracks.append(_Track(self._next_id, boxes[row].copy(), np.zeros(4),
                                       frame_index))
            ids[row] = self._next_id
            self._next_id += 1
        return ids

    def _continue(self, track: _Track, box: np.ndarray, frame_index: int) -> None:
        step = (box - track.box) / (frame_index - track.last_frame)
        momentum = self.velocity_momentum if np.any(track.velocity) else 0.0
        track.velocity = momentum * track.velocity + (1.0 - momentum) * step
        track.box = box.copy()
        track.last_frame = frame_index


def track_boxes(boxes_per_frame: Sequence[np.ndarray], iou_threshold: float = 0.3,
                max_age: int = 10) -> List[np.ndarray]:
    """Track ids for the boxes of a whole sequence of frames (see :class:`IoUTracker`).

    Args:
        boxes_per_frame: per frame, (N_t, 4) boxes x1, y1, x2, y2.
        iou_threshold: least IoU to continue a track.
        max_age: frames a track may go unseen.

    Returns:
        Per frame, (N_t,) int64 track ids.
    """
    tracker = IoUTracker(iou_threshold, max_age)
    return [tracker.update(boxes, index) for index, boxes in enumerate(boxes_per_frame)]
