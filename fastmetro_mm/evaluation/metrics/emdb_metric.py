"""EMDBMetric: EMDB's evaluation (MPJPE, PA-MPJPE, MVE, PA-MVE, MPJAE, MPJAE-PA, jitter).

The numbers EMDB's own evaluation code computes (formulas in :mod:`.emdb_protocol`), from
MMPose data samples, exact under any number of ranks: each rank keeps one record per frame
(sequence, frame index, per-frame errors, the predicted and GT joints), and everything that
needs a whole sequence (jitter, temporal smoothing) runs after the gather, frames ordered by
their index, so the frames of one sequence may be spread over the ranks in any way.

With ``temporal_smoothing`` the predictions are smoothed per sequence before any error is
taken, so the records keep the predicted mesh instead of errors: 6890 x 3 float32 vertices,
about 83 kB per frame (1.7 GB for 20,000 frames, on the rank that computes), against about
2 kB per frame (the predicted and GT joints, for jitter) without smoothing.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.structures import BaseDataElement
from mmpose.registry import METRICS

from ...mesh.body_model import BodyModel
from ...mesh.gender import Gender
from ...mesh.one_euro_filter import OneEuroFilter, smooth_sequence
from .emdb_protocol import (FRAME_ERROR_NAMES, axis_angle_to_matrix, frame_errors,
                            global_rotations, mean_and_std, nearest_rotations, sequence_jitter)
from .emdb_sequence_table import check_table_path, write_sequence_table
from .metric_inputs import get_field, instance_array

PREDICTION_SOURCES = ('auto', 'smpl', 'vertices')
SMOOTHING_KEYS = ('min_cutoff', 'beta', 'd_cutoff')
#: The errors every prediction has; the last two need predicted SMPL rotations.
POSITION_ERRORS = FRAME_ERROR_NAMES[:4]
#: Per-frame arrays the records keep (besides the errors) when smoothing is on.
SMOOTHED_KEYS = ('pred_joints', 'pred_vertices', 'pred_rotations')


@METRICS.register_module()
class EMDBMetric(BaseMetric):
    """EMDB's metrics over the frames of video sequences.

    Inputs per data sample (dicts as the Evaluator passes them, or data samples):
    ``seq_name`` (str), ``frame_index`` (int), ``gender`` (``'male'`` / ``'female'`` /
    ``'neutral'`` or a :class:`~fastmetro_mm.mesh.gender.Gender` code), optional ``fps``
    (default ``default_fps``); ``gt_instances`` with ``smpl_pose`` (1, 72) axis-angle whose
    global orientation is in the camera frame, ``smpl_betas`` (1, 10) and optional
    ``has_smpl`` (1,), which must be 1; ``pred_instances`` with ``smpl_pose`` (1, 24, 3, 3)
    rotation matrices (or (1, 72) axis-angle) and ``smpl_betas`` (1, 10) from a model with the
    SMPL regressor, and/or ``vertices`` (1, 6890, 3) in metres.

    GT: the 24 joints and 6890 vertices of the body model of the sample's gender (no
    translation). Predictions (``prediction_source``): ``'smpl'``: the body model of
    ``body_model['gender']`` posed by the predicted parameters, and their global rotations
    for MPJAE / MPJAE-PA; ``'vertices'``: the predicted mesh and its 24 SMPL joints
    regressed with the neutral model's ``J_regressor`` (no MPJAE); ``'auto'``: SMPL
    parameters where the sample has them (all samples must then agree). Jitter is taken on
    these predicted joints: with SMPL parameters the posed model's, without translation (its
    pelvis joint stays put, as in EMDB); vertex-only, those of the mesh as predicted (FastMETRO
    centres each mesh on its own regressed pelvis).

    Reported (``emdb/`` prefix): each error's mean over all frames and its standard deviation
    (``MPJPE``, ``MPJPE-std``, ... in mm and degrees), ``Jitter`` / ``Jitter-std`` (10 m/s^3;
    mean and spread over the sequences of at least 4 frames), ``num_frames``,
    ``num_sequences``, ``num_jitter_sequences``.

    Args:
        body_model: :class:`~fastmetro_mm.mesh.BodyModel` arguments: ``model_path`` (a folder,
            or a file named like ``SMPL_NEUTRAL.pkl`` standing for its folder, holding the
            genders the GT needs), ``gender`` of the predictions' body model (default
            ``'neutral'``), optionally ``num_betas``.
        prediction_source: ``'auto'``, ``'smpl'`` or ``'vertices'`` (see above).
        temporal_smoothing: None, or ``dict(min_cutoff=..., beta=..., d_cutoff=...)``: a
            One-Euro filter over each sequence's predicted vertices, joints and (with SMPL
            parameters) global rotations, in frame order with the real frame times, before
            the metrics (see the module docstring for its memory cost).
        default_fps: Frame rate of samples without ``fps`` (EMDB's videos run at 30).
        dump_file: Optional ``.json`` or ``.csv`` per-sequence table (frames, mean errors,
            ``Jitter``, ``Jitter-spread`` (EMDB's per-sequence std), ``Jitter-GT``: the GT
            joints' jitter in the same camera frame without translation), written atomically
            (each evaluation replaces it).
        collect_device, prefix, collect_dir: As for mmengine's ``BaseMetric``.
    """

    default_prefix: Optional[str] = 'emdb'

    def __init__(self,
                 body_model: Dict[str, Any],
                 prediction_source: str = 'auto',
                 temporal_smoothing: Optional[Dict[str, float]] = None,
                 default_fps: float = 30.0,
                 dump_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if not isinstance(body_model, dict) or 'model_path' not in body_model:
            raise ValueError('EMDBMetric: body_model must be a dict with model_path (the SMPL '
                             f'folder or file), got {body_model!r}')
        body_model = dict(body_model)
        if body_model.pop('model_type', 'smpl') != 'smpl':
            raise ValueError("EMDBMetric: EMDB is evaluated with SMPL; body_model.model_type "
                             "must be 'smpl'")
        self.pred_gender = Gender.parse(body_model.pop('gender', 'neutral'),
                                        'EMDBMetric body_model.gender').model_name
        self._model_args = body_model
        self._models: Dict[str, BodyModel] = {}
        self._model(self.pred_gender)  # a wrong path fails here, not after the test run
        if prediction_source not in PREDICTION_SOURCES:
            raise ValueError(f'EMDBMetric: prediction_source must be one of '
                             f'{PREDICTION_SOURCES}, got {prediction_source!r}')
        self.prediction_source = prediction_source
        self.smoothing = self._smoothing_args(temporal_smoothing)
        if not (isinstance(default_fps, (int, float)) and default_fps > 0):
            raise ValueError(f'EMDBMetric: default_fps must be a number > 0, got '
                             f'{default_fps!r}')
        self.default_fps = float(default_fps)
        if dump_file is not None:
            check_table_path(dump_file, 'EMDBMetric')
        self.dump_file = dump_file

    @staticmethod
    def _smoothing_args(cfg: Optional[Dict[str, float]]) -> Optional[Dict[str, float]]:
        if cfg is None:
            return None
        unknown = sorted(set(cfg) - set(SMOOTHING_KEYS)) if isinstance(cfg, dict) else None
        if unknown is None or unknown or not {'min_cutoff', 'beta'} <= set(cfg):
            raise ValueError('EMDBMetric: temporal_smoothing must be None or dict(min_cutoff=..., '
                             f'beta=..., d_cutoff=... (optional)), got {cfg!r}')
        settings = {k: float(v) for k, v in cfg.items()}
        OneEuroFilter(fps=30.0, **settings)  # bad values fail now, not after the test run
        return settings

    def _model(self, gender: str) -> BodyModel:
        """The float64 SMPL model of ``gender``, loaded on first use."""
        if gender not in self._models:
            self._models[gender] = BodyModel(model_type='smpl', gender=gender,
                                             dtype=torch.float64, **self._model_args).eval()
        return self._models[gender]

    # -- bodies ------------------------------------------------------------------------------
    def _pose(self, gender: str, pose: np.ndarray, betas: np.ndarray
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, 24, 3) joints, (N, V, 3) vertices and (N, 24, 3, 3) global rotations of the
        ``gender`` model posed by (N, 72) axis-angle or (N, 24, 3, 3) ``pose``, (N, b) betas."""
        model = self._model(gender)
        local = (pose if pose.shape[1:] == (24, 3, 3)
                 else axis_angle_to_matrix(pose.reshape(len(pose), 24, 3)))
        with torch.no_grad():
            out = model(torch.from_numpy(local), torch.from_numpy(betas))
        parents = model.layer.parents.tolist()
        return out.joints.numpy(), out.vertices.numpy(), global_rotations(local, parents)

    def _gt_bodies(self, records: List[Dict[str, Any]]
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """GT joints, vertices and global rotations of the records, posed gender by gender."""
        joints, vertices, rotations = [None] * 3
        for gender in sorted({r['gender'] for r in records}):
            rows = [i for i, r in enumerate(records) if r['gender'] == gender]
            j, v, rot = self._pose(gender, np.stack([records[i]['gt_pose'] for i in rows]),
                                   np.stack([records[i]['gt_betas'] for i in rows]))
            if joints is None:
                joints = np.empty((len(records), ) + j.shape[1:])
                vertices = np.empty((len(records), ) + v.shape[1:])
                rotations = np.empty((len(records), ) + rot.shape[1:])
            joints[rows], vertices[rows], rotations[rows] = j, v, rot
        return joints, vertices, rotations

    def _read_prediction(self, pred: Any) -> Dict[str, Any]:
        """``source`` and the prediction's arrays: ``pred_pose`` (24, 3, 3) rotations and
        ``pred_betas`` (b,) for SMPL parameters, else ``pred_vertices`` (V, 3)."""
        pose = instance_array(pred, 'smpl_pose', 'pred_instances')
        betas = instance_array(pred, 'smpl_betas', 'pred_instances')
        has_smpl = pose is not None and betas is not None
        source = self.prediction_source
        if source == 'auto':
            source = 'smpl' if has_smpl else 'vertices'
        if source == 'smpl':
            if not has_smpl:
                missing = [k for k, v in (('smpl_pose', pose), ('smpl_betas', betas))
                           if v is None]
                raise KeyError("EMDBMetric(prediction_source='smpl'): pred_instances needs "
                               f'smpl_pose (1, 24, 3, 3) and smpl_betas (1, 10); missing {missing}')
            if pose.shape not in ((24, 3, 3), (72, )):
                raise ValueError('EMDBMetric: pred_instances.smpl_pose must be (1, 24, 3, 3) '
                                 f'rotation matrices or (1, 72) axis-angle, got {pose.shape}')
            if pose.shape == (72, ):
                pose = axis_angle_to_matrix(pose.reshape(24, 3))
            return dict(source=source, pred_pose=pose, pred_betas=betas.reshape(-1))
        vertices = instance_array(pred, 'vertices', 'pred_instances')
        num_vertices = self._model('neutral').num_vertices
        if vertices is None:
            raise KeyError('EMDBMetric: pred_instances has neither smpl_pose + smpl_betas nor '
                           f'vertices (1, {num_vertices}, 3)')
        if vertices.shape != (num_vertices, 3):
            raise ValueError(f'EMDBMetric: pred_instances.vertices must be (1, {num_vertices}, '
                             f'3), got {(1, ) + vertices.shape}')
        return dict(source=source, pred_vertices=vertices)

    def _pose_predictions(self, records: List[Dict[str, Any]]) -> None:
        """Give each record ``pred_joints`` (24, 3), ``pred_vertices`` (V, 3) and
        ``pred_rotations`` (24, 3, 3) global rotations or None, posing the SMPL parameters of
        the batch in one pass."""
        smpl_rows = [i for i, r in enumerate(records) if r['source'] == 'smpl']
        if smpl_rows:
            joints, vertices, rotations = self._pose(
                self.pred_gender, np.stack([records[i].pop('pred_pose') for i in smpl_rows]),
                np.stack([records[i].pop('pred_betas') for i in smpl_rows]))
            for n, i in enumerate(smpl_rows):
                records[i].update(pred_joints=joints[n], pred_vertices=vertices[n],
                                  pred_rotations=rotations[n])
        regressor = self._model('neutral').j_regressor.numpy()  # (24, V)
        for record in records:
            if record['source'] == 'vertices':
                record['pred_joints'] = regressor @ record['pred_vertices']
                record['pred_rotations'] = None
            if self.smoothing is not None:  # float32 halves what smoothing keeps
                record['pred_vertices'] = record['pred_vertices'].astype(np.float32)

    # -- mmengine interface ------------------------------------------------------------------
    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Append one record per frame to ``self.results``.

        Args:
            data_batch: The loader's batch (unused).
            data_samples: B samples as described in the class docstring.
        """
        records = [self._record(ds) for ds in data_samples]
        self._pose_predictions(records)
        if self.smoothing is not None:
            self.results.extend(records)  # errors only after the sequence is smoothed
            return
        gt_joints, gt_vertices, gt_rotations = self._gt_bodies(records)
        errors = self._errors(records, gt_joints, gt_vertices, gt_rotations)
        for i, record in enumerate(records):
            record.update({name: float(values[i]) for name, values in errors.items()})
            record['gt_joints'] = gt_joints[i]
            for key in ('gt_pose', 'gt_betas', 'pred_vertices', 'pred_rotations'):
                del record[key]  # only needed for errors, which are now taken
        self.results.extend(records)

    def _record(self, data_sample: Any) -> Dict[str, Any]:
        """One frame's identity, GT parameters and prediction (as given: posed by
        :meth:`_pose_predictions`)."""
        record: Dict[str, Any] = {}
        for key in ('seq_name', 'frame_index', 'gender'):
            value = get_field(data_sample, key)
            if value is None:
                keys = (data_sample.all_keys() if isinstance(data_sample, BaseDataElement)
                        else data_sample.keys())
                raise KeyError(f'EMDBMetric: a data sample lacks {key!r} (needed: seq_name, '
                               f'frame_index, gender; got keys {sorted(keys)})')
            record[key] = value
        record['seq_name'] = str(record['seq_name'])
        record['frame_index'] = int(record['frame_index'])
        where = f"EMDBMetric: sample {record['seq_name']} frame {record['frame_index']}"
        record['gender'] = Gender.parse(record['gender'], f'{where}, gender').model_name
        fps = get_field(data_sample, 'fps')
        record['fps'] = self.default_fps if fps is None else float(fps)
        if not record['fps'] > 0:
            raise ValueError(f'{where}: fps must be > 0, got {fps!r}')

        gt = get_field(data_sample, 'gt_instances')
        has_smpl = instance_array(gt, 'has_smpl', 'gt_instances') if gt is not None else None
        if has_smpl is not None and not bool(np.asarray(has_smpl).reshape(-1)[0]):
            raise ValueError(f'{where}: gt_instances.has_smpl is 0; every EMDB frame needs '
                             'its SMPL fit')
        for key, size in (('smpl_pose', 72), ('smpl_betas', None)):
            value = instance_array(gt, key, 'gt_instances') if gt is not None else None
            if value is None or value.ndim != 1 or (size is not None and value.size != size):
                raise KeyError(f'{where}: gt_instances.{key} must be (1, {size or "b"}), got '
                               f'{None if value is None else (1, ) + value.shape}')
            record['gt_' + key[5:]] = value
        pred = get_field(data_sample, 'pred_instances')
        if pred is None:
            raise KeyError(f'{where}: the data sample has no pred_instances')
        record.update(self._read_prediction(pred))
        return record

    def _errors(self, records: List[Dict[str, Any]], gt_joints: np.ndarray,
                gt_vertices: np.ndarray, gt_rotations: np.ndarray) -> Dict[str, np.ndarray]:
        """Per-frame errors of the records; NaN angles for vertex-only predictions."""
        with_rotations = [r['pred_rotations'] is not None for r in records]
        pred_rotations = (np.stack([r['pred_rotations'] for r in records])
                          if all(with_rotations) else None)
        errors = frame_errors(np.stack([r['pred_joints'] for r in records]), gt_joints,
                              np.stack([r['pred_vertices'] for r in records]).astype(np.float64),
                              gt_vertices, pred_rotations, gt_rotations)
        if pred_rotations is None:
            # A batch mixing sources is reported by compute_metrics; keep its angles NaN.
            errors.update({name: np.full(len(records), np.nan)
                           for name in FRAME_ERROR_NAMES[4:]})
        return errors

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str, float]:
        """EMDB's averages over the gathered frame records of every rank.

        Args:
            results: One record per frame, in any order.

        Returns:
            The metrics named in the class docstring.
        """
        logger = MMLogger.get_current_instance()
        sequences = self._sequences(results)
        sources = {r['source'] for r in results}
        if len(sources) > 1:
            raise ValueError(f'EMDBMetric: the predictions mix SMPL parameters and vertex-only '
                             f'outputs ({sorted(sources)}); set prediction_source to '
                             "'smpl' or 'vertices'")
        names = FRAME_ERROR_NAMES if sources == {'smpl'} else POSITION_ERRORS
        rows, jitters = [], []
        for name, frames in sequences.items():
            fps = frames[0]['fps']
            if self.smoothing is not None:
                self._smooth(frames, fps)
                gt_joints, gt_vertices, gt_rotations = self._gt_bodies(frames)
                errors = self._errors(frames, gt_joints, gt_vertices, gt_rotations)
                for i, frame in enumerate(frames):
                    frame.update({k: float(v[i]) for k, v in errors.items()})
                    frame['gt_joints'] = gt_joints[i]
            row: Dict[str, Any] = {'seq_name': name, 'frames': len(frames)}
            row.update({n: float(np.mean([f[n] for f in frames])) for n in names})
            if len(frames) >= 4:
                jitter, spread = sequence_jitter(np.stack([f['pred_joints'] for f in frames]),
                                                 fps)
                gt_jitter = sequence_jitter(np.stack([f['gt_joints'] for f in frames]), fps)[0]
                jitters.append(jitter)
            else:
                logger.warning(f'EMDBMetric: sequence {name} has {len(frames)} evaluated '
                               'frames; jitter needs 4, so it is left out of Jitter')
                jitter = spread = gt_jitter = math.nan
            row.update({'Jitter': jitter, 'Jitter-spread': spread, 'Jitter-GT': gt_jitter})
            rows.append(row)

        metrics: Dict[str, float] = {}
        all_frames = [f for frames in sequences.values() for f in frames]
        for name in names:
            metrics[name], metrics[f'{name}-std'] = mean_and_std([f[name] for f in all_frames])
        if jitters:
            metrics['Jitter'], metrics['Jitter-std'] = mean_and_std(jitters)
        else:
            logger.warning('EMDBMetric: no sequence has 4 evaluated frames; Jitter is not '
                           'reported')
        metrics.update(num_frames=len(all_frames), num_sequences=len(sequences),
                       num_jitter_sequences=len(jitters))
        if self.dump_file is not None:
            write_sequence_table(self.dump_file, rows, metrics)
            logger.info(f'EMDBMetric: wrote the table of {len(rows)} sequences to '
                        f'{self.dump_file}')
        return metrics

    @staticmethod
    def _sequences(results: List[Dict[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
        """Records grouped by sequence (sorted by name), each in frame order, checked."""
        if not results:
            raise ValueError('EMDBMetric: no frames were evaluated')
        grouped: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
        for record in results:
            # A copy: smoothing replaces predictions, and the gathered records stay as given.
            grouped[record['seq_name']].append(dict(record))
        sequences = {}
        for name in sorted(grouped):
            frames = sorted(grouped[name], key=lambda r: r['frame_index'])
            indices = [f['frame_index'] for f in frames]
            repeated = sorted({i for i in indices if indices.count(i) > 1})
            if repeated:
                raise ValueError(f'EMDBMetric: sequence {name} has frames {repeated[:10]} more '
                                 'than once')
            rates = {f['fps'] for f in frames}
            if len(rates) > 1:
                raise ValueError(f'EMDBMetric: sequence {name} has frames at different fps '
                                 f'{sorted(rates)}')
            sequences[name] = frames
        return sequences

    def _smooth(self, frames: List[Dict[str, Any]], fps: float) -> None:
        """Replace the frames' predictions by their One-Euro-filtered values, in place."""
        times = np.array([f['frame_index'] for f in frames], dtype=np.float64) / fps
        for key in SMOOTHED_KEYS:
            if frames[0][key] is None:
                continue  # vertex-only predictions have no rotations
            values = smooth_sequence(np.stack([f[key] for f in frames]), fps,
                                     timestamps=times, **self.smoothing)
            if key == 'pred_rotations':
                values = nearest_rotations(values)
            for frame, value in zip(frames, values):
                frame[key] = value
