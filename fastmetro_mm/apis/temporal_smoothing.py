"""Per-person temporal smoothing of mesh predictions with One Euro filters.

Each track (one person across frames) gets its own filters (see
:mod:`fastmetro_mm.mesh.one_euro_filter`), run causally, so a video can be smoothed while it
streams. Timestamps are ``frame_index / fps``: a person missed for a few frames is filtered
across the gap as the time it is.

What is filtered, and how:

- body: ``vertices`` (V, 3) and ``keypoints_3d`` (K, 3) (root-relative, metres),
  ``smpl_betas`` (10,), and ``smpl_pose`` (J, 3, 3) rotation matrices. The 9 entries of each
  matrix are filtered like any other numbers and the result is projected back onto the
  rotations with an SVD (``U diag(1, 1, det(U V^T)) V^T``, the rotation nearest in the
  Frobenius norm); a rotation's entries move slowly and smoothly for the small per-frame
  changes of a video, so this stays close to filtering on the rotation manifold without its
  cost. The joints are filtered beside the vertices (not re-regressed), so they agree with
  the smoothed mesh up to the filters' small differences.
- placement: the original-image translation ``cam_t`` (3,) and the crop camera ``cam``
  (s, tx, ty), with their own parameters: depth is tens of metres for the default focal
  length and moves at a different speed from a limb, so one ``beta`` does not suit both.
- derived: ``vertices_cam``, ``keypoints_3d_cam`` and their 2D projections are recomputed from
  the smoothed values with the frame's camera; ``bbox`` stays the observed box.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from ..mesh.image_camera import ImageCamera
from ..mesh.one_euro_filter import OneEuroFilter
from .mesh_prediction import MeshPrediction

_BODY_FIELDS = ('vertices', 'keypoints_3d', 'smpl_betas', 'smpl_pose')
_PLACEMENT_FIELDS = ('cam_t', 'cam')


@dataclass(frozen=True)
class SmoothingParams:
    """One Euro parameters of :class:`TemporalSmoother`.

    The defaults are the least smoothing that divided the jitter by >= 3 at <= 2 % higher
    MPJPE on synthetic 30 fps videos (``tools/analysis/smoothing_sweep.py``, docs/video.md).
    ``beta`` is per unit of speed, so it depends on the units: metres here.

    Attributes:
        min_cutoff: cutoff (Hz) at rest of the body fields; lower = smoother, more lag.
        beta: speed coefficient of the body fields (per m/s of a vertex or joint).
        d_cutoff: cutoff (Hz) of the speed estimates.
        translation_min_cutoff: cutoff (Hz) at rest of ``cam_t`` and ``cam``.
        translation_beta: their speed coefficient (per m/s of the translation).
    """

    min_cutoff: float = 1.0
    beta: float = 10.0
    d_cutoff: float = 1.0
    translation_min_cutoff: float = 2.0
    translation_beta: float = 0.2

    def __post_init__(self) -> None:
        for name in ('min_cutoff', 'd_cutoff', 'translation_min_cutoff'):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f'SmoothingParams: {name} must be a finite number > 0, got '
                                 f'{value}')
        for name in ('beta', 'translation_beta'):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f'SmoothingParams: {name} must be a finite number >= 0, got '
                                 f'{value}')

    @classmethod
    def from_option(cls, option: Union[None, bool, Mapping[str, float], 'SmoothingParams']
                    ) -> Optional['SmoothingParams']:
        """Parameters from a user option: None/False (off), True (defaults), a dict or these.

        Raises:
            ValueError: a dict key that is no parameter, naming it and the known ones.
        """
        if option is None or option is False:
            return None
        if option is True:
            return cls()
        if isinstance(option, cls):
            return option
        if isinstance(option, Mapping):
            known = {item.name for item in dataclasses.fields(cls)}
            unknown = sorted(set(option) - known)
            if unknown:
                raise ValueError(f'smoothing: unknown parameters {unknown}; known: '
                                 f'{sorted(known)}')
            return cls(**{key: float(value) for key, value in option.items()})
        raise TypeError(f'smoothing must be None, True, a dict or SmoothingParams, got '
                        f'{type(option).__name__}')


def nearest_rotation(matrices: np.ndarray) -> np.ndarray:
    """The rotation nearest (Frobenius norm) to each 3 x 3 matrix.

    Args:
        matrices: (..., 3, 3).

    Returns:
        (..., 3, 3) orthonormal matrices with determinant +1.
    """
    u, _, vt = np.linalg.svd(np.asarray(matrices, dtype=np.float64))
    # flipping the axis of the smallest singular value turns a reflection into a rotation
    sign = np.where(np.linalg.det(u @ vt) < 0, -1.0, 1.0)
    u[..., :, 2] *= sign[..., None]
    return u @ vt


class _TrackFilters:
    """The filters of one person: one :class:`OneEuroFilter` per field."""

    def __init__(self, fps: float, params: SmoothingParams) -> None:
        body = dict(min_cutoff=params.min_cutoff, beta=params.beta, d_cutoff=params.d_cutoff)
        placement = dict(min_cutoff=params.translation_min_cutoff,
                         beta=params.translation_beta, d_cutoff=params.d_cutoff)
        self.filters = {name: OneEuroFilter(fps, **body) for name in _BODY_FIELDS}
        self.filters.update({name: OneEuroFilter(fps, **placement)
                             for name in _PLACEMENT_FIELDS})

    def __call__(self, prediction: MeshPrediction, time: float) -> Dict[str, np.ndarray]:
        smoothed = {}
        for name, smoother in self.filters.items():
            value = getattr(prediction, name)
            if value is None:
                continue
            out = smoother(value, time)
            if name == 'smpl_pose' and out.shape[-2:] == (3, 3):
                out = nearest_rotation(out)
            smoothed[name] = out.astype(np.asarray(value).dtype)
        return smoothed


class TemporalSmoother:
    """Smooths the predictions of every tracked person of a video, frame by frame.

    Args:
        fps: frame rate of the video (Hz).
        params: filter parameters; None: :class:`SmoothingParams` defaults.

    Example:
        >>> smoother = TemporalSmoother(fps=30)
        >>> smoothed = smoother(people, track_ids, frame_index, camera)
    """

    def __init__(self, fps: float, params: Optional[SmoothingParams] = None) -> None:
        if not np.isfinite(fps) or fps <= 0:
            raise ValueError(f'TemporalSmoother: fps must be a finite number > 0, got {fps}')
        self.fps = float(fps)
        self.params = params or SmoothingParams()
        self._tracks: Dict[int, _TrackFilters] = {}

    def forget(self, keep: Sequence[int]) -> None:
        """Drops the filters of every track not in ``keep`` (tracks that ended)."""
        keep_set = {int(track_id) for track_id in keep}
        self._tracks = {key: value for key, value in self._tracks.items() if key in keep_set}

    def __call__(self, predictions: Sequence[MeshPrediction], track_ids: Sequence[int],
                 frame_index: int, camera: ImageCamera) -> List[MeshPrediction]:
        """Smooths the people of one frame.

        Args:
            predictions: the frame's people.
            track_ids: (N,) their track ids (distinct).
            frame_index: the frame's index (its time is ``frame_index / fps``), larger than
                that of the frames before.
            camera: the frame's image camera, to re-project the smoothed meshes.

        Returns:
            New predictions (the same type as given) with smoothed fields, in input order.
        """
        ids = [int(track_id) for track_id in track_ids]
        if len(ids) != len(predictions):
            raise ValueError(f'TemporalSmoother: {len(ids)} track ids for {len(predictions)} '
                             f'people in frame {frame_index}')
        if len(set(ids)) != len(ids):
            raise ValueError(f'TemporalSmoother: frame {frame_index} has the same track id '
                             f'twice: {ids}')
        time = frame_index / self.fps
        out = []
        for prediction, track_id in zip(predictions, ids):
            filters = self._tracks.setdefault(track_id, _TrackFilters(self.fps, self.params))
            smoothed = filters(prediction, time)
            out.append(_with_placement(prediction, smoothed, camera))
        return out


def _with_placement(prediction: MeshPrediction, smoothed: Dict[str, Any],
                    camera: ImageCamera) -> MeshPrediction:
    """``prediction`` with the smoothed fields and the camera-frame fields recomputed."""
    cam_t = smoothed.get('cam_t', prediction.cam_t)
    vertices = smoothed.get('vertices', prediction.vertices)
    joints = smoothed.get('keypoints_3d', prediction.keypoints_3d)
    vertices_cam = (vertices + cam_t).astype(np.float32)
    joints_cam = (joints + cam_t).astype(np.float32)
    return dataclasses.replace(
        prediction, **smoothed, vertices_cam=vertices_cam, keypoints_3d_cam=joints_cam,
        vertices_2d=camera.project(vertices_cam).astype(np.float32),
        keypoints_2d=camera.project(joints_cam).astype(np.float32))
