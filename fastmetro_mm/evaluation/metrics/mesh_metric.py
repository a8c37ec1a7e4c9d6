"""MeshMetric: MPJPE, PA-MPJPE, MPVPE, PA-MPVPE (mm) and F-scores, per sample.

Every error is computed per sample in :meth:`MeshMetric.process`, so the averages formed in
:meth:`MeshMetric.compute_metrics` from the gathered per-sample values are exact under any
number of ranks (the released FastMETRO code averages per-GPU means, which is wrong when the
ranks hold different counts). A sample lacking the ground truth a metric needs is left out of
that metric only, and the count of samples behind each metric is reported.

Protocols (see the class docstring for the options):

- Body (Human3.6M protocol 2, 3DPW): 14 joints regressed from the 6890-vertex mesh with the
  H36M regressor (17 -> 14), both sets centred on the mid-hip; GT joints come from the GT mesh
  when there is one, otherwise from the annotation. MPVPE centres each mesh on the pelvis
  regressed from itself, as the released code does.
- Hand (FreiHAND): 21 joints, wrist-relative; the PA- errors, the AUC of their PCK curves
  (0-50 mm) and the F-scores at 5 mm and 15 mm exactly as the dataset's official evaluation
  (its alignment may reflect; joints and vertices are aligned each on their own: see
  freihand_protocol.py); optionally the server's prediction file (freihand_submission.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from ...mesh.body_model import BodyModel
from ...mesh.joint_regressor import JointRegressor
from ...mesh.joint_sets import H36M_17, centre_on_root, root_point
from ...mesh.mesh_type import MeshType, get_mesh_type
from .freihand_protocol import freihand_align, pck_auc
from .freihand_submission import check_submission_path, write_freihand_submission
from .mesh_errors import fscore, mean_distance, procrustes_align
from .metric_inputs import get_field, instance_array, mesh_type_argument
from .per_sample_dump import write_per_sample_errors

#: Metric names in the order they are reported; F-score names are added per threshold.
ERROR_NAMES = ('MPJPE', 'PA-MPJPE', 'MPVPE', 'PA-MPVPE')
#: The hand's areas under the PCK curves of the aligned joints and vertices (FreiHAND's).
AUC_NAMES = ('PA-MPJPE-AUC', 'PA-MPVPE-AUC')
GT_JOINT_SOURCES = ('auto', 'mesh', 'annotation')


@METRICS.register_module()
class MeshMetric(BaseMetric):
    """Per-sample mesh-recovery errors in millimetres, averaged over samples.

    Inputs per data sample (numpy or tensors, leading instance axis 1): ``pred_instances``
    with ``vertices`` (1, V, 3) and ``keypoints_3d`` (1, K, 3) in metres; ``gt_instances``
    with ``joints_3d`` (1, K, 3) + ``joints_3d_visible`` (1, K) + ``has_joints_3d`` (1,),
    and a GT mesh: ``vertices`` (1, V, 3) when given (whatever ``has_smpl`` says, since it
    flags the body-model parameters), else ``smpl_pose`` / ``smpl_betas`` turned into a mesh
    by ``body_model`` when ``has_smpl`` (1,) is set. Missing visibility means all visible; a
    missing flag means "available" exactly when the data it flags is present.

    Joints: with a regressor (``joint_regressor_file``, or for the hand MANO's 21 joints from
    ``body_model``) both pred and GT joints are regressed from their meshes, rows
    ``joint_select``; otherwise the pred ``keypoints_3d`` are used. GT joints come from the
    GT mesh (``gt_joints_source='auto'`` when the sample has one and a regressor is set) or
    from the annotation. Both sets are centred on the mean of ``root_indices`` for MPJPE.
    Vertices: each mesh is centred on its own root for MPVPE: with a regressor, the mean of
    the regressed rows ``vertex_root_rows``; without one, the root of the sample's own joints
    (pred ``keypoints_3d``, GT ``joints_3d``).

    Args:
        mesh_type: ``'body'`` (SMPL, 14 joints, mid-hip root; the default) or ``'hand'``
            (MANO, 21 joints, wrist root, F-scores).
        joint_regressor_file: ``.npy`` / ``.npz`` (K_all, V) regressor, e.g.
            ``J_regressor_h36m_correct.npy`` for the body.
        joint_select: Regressor rows giving the evaluated joints; None: the mesh type's default
            (body: H36M 17 -> J14, needing a 17-row regressor; hand: all rows).
        root_indices: Joints (of the evaluated K) whose mean is the root; None: J14 mid-hip
            (2, 3) for the body, the wrist (0,) for the hand.
        vertex_root_rows: Rows of the full regressor whose mean centres each mesh; None: the
            H36M pelvis (row 0) for a 17-row body regressor, else the joints' root.
        gt_joints_source: ``'auto'``, ``'mesh'`` (only GT-mesh samples enter MPJPE) or
            ``'annotation'`` (always ``joints_3d``, as the released body code does).
        body_model: :class:`~fastmetro_mm.mesh.BodyModel` arguments, e.g.
            ``dict(model_path=..., model_type='smpl', gender='neutral')`` (3DPW's protocol).
        fscore_thresholds: Distances in metres; None: (0.005, 0.015) for the hand, none for
            the body. Reported as ``F@5mm``, ``F@15mm``.
        allow_reflection: Let Procrustes reflect. None (default): the protocol's choice: the
            hand uses FreiHAND's own alignment (which may reflect) and also reports
            ``PA-MPJPE-AUC`` / ``PA-MPVPE-AUC``; the body a proper rotation. True / False:
            the weighted similarity fit with or without reflections (and no AUC).
        submission_file: Hand only: also write the predictions (wrist-relative, metres, in
            dataset order by sample id) as FreiHAND's ``pred.json`` (``.json``, or a ``.zip``
            holding it) for its evaluation server; an existing file is never replaced.
        dump_file: Optional ``.npz`` or ``.json`` written (atomically) with the per-sample
            errors and sample ids, in dataset order.
        collect_device, prefix, collect_dir: As for mmengine's ``BaseMetric``.
        mode: Deprecated name of ``mesh_type`` (a DeprecationWarning); configs written for
            ``mode=`` keep working.
    """

    default_prefix: Optional[str] = 'mesh'

    def __init__(self,
                 mesh_type: Optional[str] = None,
                 joint_regressor_file: Optional[str] = None,
                 joint_select: Optional[Sequence[int]] = None,
                 root_indices: Optional[Sequence[int]] = None,
                 vertex_root_rows: Optional[Sequence[int]] = None,
                 gt_joints_source: str = 'auto',
                 body_model: Optional[Dict[str, Any]] = None,
                 fscore_thresholds: Optional[Sequence[float]] = None,
                 allow_reflection: Optional[bool] = None,
                 submission_file: Optional[str] = None,
                 dump_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None,
                 mode: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        spec = get_mesh_type(*mesh_type_argument(mesh_type, mode))
        if gt_joints_source not in GT_JOINT_SOURCES:
            raise ValueError(f'MeshMetric: gt_joints_source must be one of {GT_JOINT_SOURCES}, '
                             f'got {gt_joints_source!r}')
        self.mesh_type = spec.name
        self.gt_joints_source = gt_joints_source
        # FreiHAND's exact alignment (and its AUCs) unless the user chose a reflection rule.
        self.freihand = spec.name == 'hand' and allow_reflection is None
        self.allow_reflection = self.freihand or bool(allow_reflection)
        self.submission_file = submission_file
        if submission_file is not None:
            if spec.name != 'hand':
                raise ValueError(f'MeshMetric: submission_file={submission_file!r} writes '
                                 "FreiHAND's prediction file and needs mesh_type='hand'")
            check_submission_path(submission_file)
        self.dump_file = dump_file
        if dump_file is not None and Path(dump_file).suffix not in ('.npz', '.json'):
            raise ValueError(f"MeshMetric: dump_file must end in '.npz' or '.json', got "
                             f'{dump_file!r}')

        self.body_model: Optional[BodyModel] = None
        if body_model is not None:
            self.body_model = BodyModel(**body_model).eval()
            if self.body_model.model_type != spec.model_type:
                raise ValueError(f'MeshMetric(mesh_type={spec.name!r}): body_model must be '
                                 f'model_type={spec.model_type!r}, got '
                                 f'{self.body_model.model_type!r}')

        self.regressor: Optional[JointRegressor] = None
        if joint_regressor_file is not None:
            self.regressor = JointRegressor.from_file(joint_regressor_file)
        elif spec.name == 'hand' and self.body_model is not None:
            self.regressor = JointRegressor.mano_21(self.body_model.j_regressor)
        self.joint_select, self.vertex_root_rows = self._regressor_rows(spec, joint_select,
                                                                        vertex_root_rows)
        if gt_joints_source == 'mesh' and self.regressor is None:
            raise ValueError("MeshMetric: gt_joints_source='mesh' needs a joint regressor "
                             '(joint_regressor_file, or body_model for the hand)')

        self.root_indices = tuple(spec.joint_set.root if root_indices is None
                                  else root_indices)
        if not self.root_indices:
            raise ValueError('MeshMetric: root_indices must name at least one joint')
        if fscore_thresholds is None:
            fscore_thresholds = (0.005, 0.015) if spec.name == 'hand' else ()
        self.fscore_thresholds = tuple(float(t) for t in fscore_thresholds)
        self.fscore_names = tuple(f'F@{t * 1000:g}mm' for t in self.fscore_thresholds)
        self.metric_names = (ERROR_NAMES + (AUC_NAMES if self.freihand else ())
                             + self.fscore_names)

    def _regressor_rows(self, spec: MeshType, joint_select: Optional[Sequence[int]],
                        vertex_root_rows: Optional[Sequence[int]]
                        ) -> Tuple[Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]]:
        """Resolve the mesh type's defaults for the regressor rows (see the class arguments)."""
        if self.regressor is None:
            if joint_select is not None or vertex_root_rows is not None:
                raise ValueError('MeshMetric: joint_select / vertex_root_rows need a joint '
                                 'regressor (joint_regressor_file)')
            return None, None
        num_rows = self.regressor.num_joints
        is_h36m = spec.name == 'body' and num_rows == len(H36M_17)
        if joint_select is None and spec.regressor_select is not None:
            if not is_h36m:
                raise ValueError(f'MeshMetric: the body regressor has {num_rows} rows; the '
                                 f'default joint_select maps the {len(H36M_17)} H36M rows to '
                                 'J14, so pass joint_select for another regressor')
            joint_select = spec.regressor_select
        if vertex_root_rows is None and is_h36m:
            vertex_root_rows = (H36M_17.index('Pelvis'), )
        for name, rows in (('joint_select', joint_select), ('vertex_root_rows',
                                                            vertex_root_rows)):
            bad = [r for r in (rows or ()) if not 0 <= r < num_rows]
            if bad:
                raise ValueError(f'MeshMetric: {name} rows {bad} outside the regressor\'s '
                                 f'{num_rows} rows')
        return (None if joint_select is None else tuple(joint_select),
                None if vertex_root_rows is None else tuple(vertex_root_rows))

    # -- per-sample preparation ------------------------------------------------------------
    def _regress(self, vertices: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(V, 3) mesh -> (K, 3) evaluated joints and the (1, 3) root the mesh is centred on."""
        full = self.regressor(torch.from_numpy(vertices)[None].double())[0].numpy()
        joints = full if self.joint_select is None else full[list(self.joint_select)]
        if self.vertex_root_rows is not None:
            return joints, root_point(full, self.vertex_root_rows)
        if not all(0 <= r < len(joints) for r in self.root_indices):
            raise ValueError(f'MeshMetric: root_indices {self.root_indices} outside the '
                             f'{len(joints)} regressed joints')
        return joints, root_point(joints, self.root_indices)

    def _gt_meshes(self, gts: List[Any]) -> List[Optional[np.ndarray]]:
        """GT (V, 3) mesh per sample (given, or posed by the body model), None without."""
        meshes: List[Optional[np.ndarray]] = []
        to_pose: List[int] = []
        for i, gt in enumerate(gts):
            vertices = instance_array(gt, 'vertices', 'gt_instances')
            has_smpl = instance_array(gt, 'has_smpl', 'gt_instances')
            # Given GT vertices count even without body-model parameters (has_smpl 0), as
            # FreiHAND's *_verts.json without *_mano.json.
            available = vertices is not None or (has_smpl is not None and bool(has_smpl))
            meshes.append(vertices if available else None)
            if available and vertices is None:
                missing = [k for k in ('smpl_pose', 'smpl_betas') if get_field(gt, k) is None]
                if self.body_model is None or missing:
                    raise ValueError(
                        'MeshMetric: a sample has has_smpl=1 but no gt_instances.vertices; '
                        'set body_model=dict(model_path=..., ...) to pose the GT mesh from '
                        f'smpl_pose / smpl_betas (missing from gt_instances: {missing})')
                to_pose.append(i)
        if to_pose:
            poses = np.stack([instance_array(gts[i], 'smpl_pose', 'gt_instances')
                              for i in to_pose])
            betas = np.stack([instance_array(gts[i], 'smpl_betas', 'gt_instances')
                              for i in to_pose])
            with torch.no_grad():
                out = self.body_model(torch.from_numpy(poses), torch.from_numpy(betas))
            for i, vertices in zip(to_pose, out.vertices.double().numpy()):
                meshes[i] = vertices
        return meshes

    def _gt_joints(self, gt: Any, mesh_joints: Optional[np.ndarray]
                   ) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """GT (K, 3) joints and (K,) bool visibility, or (None, None) when unavailable."""
        use_mesh = mesh_joints is not None and self.gt_joints_source != 'annotation'
        if use_mesh:
            return mesh_joints, np.ones(len(mesh_joints), dtype=bool)
        if self.gt_joints_source == 'mesh':
            return None, None
        joints = instance_array(gt, 'joints_3d', 'gt_instances')
        has_joints = instance_array(gt, 'has_joints_3d', 'gt_instances')
        if joints is None or (has_joints is not None and not bool(has_joints)):
            return None, None
        visible = instance_array(gt, 'joints_3d_visible', 'gt_instances')
        if visible is None:
            return joints, np.ones(len(joints), dtype=bool)
        if visible.size != len(joints):
            raise ValueError(f'MeshMetric: gt_instances.joints_3d_visible has shape '
                             f'{visible.shape} per instance, expected ({len(joints)},)')
        return joints, visible.reshape(-1) > 0

    # -- mmengine interface -----------------------------------------------------------------
    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Compute every sample's errors and append them to ``self.results``.

        Args:
            data_batch: The loader's batch (unused).
            data_samples: B samples (dicts as the Evaluator passes them, or data samples)
                with ``pred_instances`` and ``gt_instances`` as described in the class.
        """
        preds = [get_field(ds, 'pred_instances') for ds in data_samples]
        gts = [get_field(ds, 'gt_instances') for ds in data_samples]
        if any(p is None for p in preds):
            raise KeyError('MeshMetric: every data sample needs pred_instances')
        gt_meshes = self._gt_meshes(gts)
        for ds, pred, gt, gt_mesh in zip(data_samples, preds, gts, gt_meshes):
            result = self._sample_errors(pred, gt, gt_mesh)
            for key in ('id', 'img_path'):
                value = get_field(ds, key)
                if value is not None:
                    result[key] = value
            self.results.append(result)

    def _sample_errors(self, pred: Any, gt: Any, gt_mesh: Optional[np.ndarray]
                       ) -> Dict[str, Any]:
        """Errors of one sample; NaN for each metric whose GT is missing."""
        nan = float('nan')
        result: Dict[str, Any] = {name: nan for name in self.metric_names}
        pred_mesh = instance_array(pred, 'vertices', 'pred_instances')
        if pred_mesh is None:
            raise KeyError('MeshMetric: pred_instances.vertices (1, V, 3) is missing')
        if gt_mesh is not None and gt_mesh.shape != pred_mesh.shape:
            raise ValueError(f'MeshMetric: GT mesh has shape {gt_mesh.shape}, predicted mesh '
                             f'{pred_mesh.shape}')
        if self.regressor is not None:
            pred_joints, pred_mesh_root = self._regress(pred_mesh)
            gt_mesh_joints, gt_mesh_root = (self._regress(gt_mesh) if gt_mesh is not None
                                            else (None, None))
        else:
            pred_joints = instance_array(pred, 'keypoints_3d', 'pred_instances')
            if pred_joints is None:
                raise KeyError('MeshMetric: pred_instances.keypoints_3d is missing and no '
                               'joint_regressor_file is set')
            pred_mesh_root = gt_mesh_joints = gt_mesh_root = None
        root = list(self.root_indices)
        if not all(0 <= r < len(pred_joints) for r in root):
            raise ValueError(f'MeshMetric: root_indices {self.root_indices} outside the '
                             f'{len(pred_joints)} predicted joints')
        gt_joints, visible = self._gt_joints(gt, gt_mesh_joints)
        if pred_mesh_root is None:
            pred_mesh_root = root_point(pred_joints, root)
        if self.submission_file is not None:  # wrist-relative, as the released code writes
            result['submission'] = (centre_on_root(pred_joints, pred_joints, root),
                                    pred_mesh - pred_mesh_root)

        if gt_joints is not None:
            if gt_joints.shape != pred_joints.shape:
                raise ValueError(f'MeshMetric: GT joints have shape {gt_joints.shape}, '
                                 f'predicted joints {pred_joints.shape}')
            if visible.any() and visible[root].all():
                result['MPJPE'] = 1000 * mean_distance(
                    centre_on_root(pred_joints, pred_joints, root),
                    centre_on_root(gt_joints, gt_joints, root), visible)
            if visible.sum() >= 3:  # a 3D similarity needs three points
                aligned = self._align(pred_joints, gt_joints, visible)
                result['PA-MPJPE'] = 1000 * mean_distance(aligned, gt_joints, visible)
                if self.freihand:
                    result['PA-MPJPE-AUC'] = pck_auc(
                        np.linalg.norm(aligned - gt_joints, axis=-1)[visible])

        if gt_mesh is None:
            return result
        if gt_mesh_root is None and gt_joints is not None and visible[root].all():
            gt_mesh_root = root_point(gt_joints, root)
        if gt_mesh_root is not None:
            result['MPVPE'] = 1000 * mean_distance(pred_mesh - pred_mesh_root,
                                                   gt_mesh - gt_mesh_root)
        aligned = self._align(pred_mesh, gt_mesh, None)
        result['PA-MPVPE'] = 1000 * mean_distance(aligned, gt_mesh)
        if self.freihand:
            result['PA-MPVPE-AUC'] = pck_auc(np.linalg.norm(aligned - gt_mesh, axis=-1))
        for name, threshold in zip(self.fscore_names, self.fscore_thresholds):
            result[name] = fscore(aligned, gt_mesh, threshold)[0]
        return result

    def _align(self, pred: np.ndarray, gt: np.ndarray, visible: Optional[np.ndarray]
               ) -> np.ndarray:
        """(N, 3) ``pred`` aligned onto (N, 3) ``gt`` using the (N,) bool ``visible`` points.

        FreiHAND's own alignment when every point counts (as on FreiHAND); otherwise the
        weighted similarity fit, which then equals it up to its 1e-8 norm guard.
        """
        if self.freihand and (visible is None or visible.all()):
            return freihand_align(pred, gt)
        weights = None if visible is None else visible.astype(np.float64)
        return procrustes_align(pred, gt, weights, self.allow_reflection)

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str, float]:
        """Average each metric over the samples that have it.

        Args:
            results: The per-sample dicts of every rank, in dataset order.

        Returns:
            ``{name: mean}`` for each metric with at least one sample (mm; F-scores in
            [0, 1]) and ``{name}_count``: how many samples entered it.
        """
        logger = MMLogger.get_current_instance()
        means: Dict[str, float] = {}
        counts: Dict[str, int] = {}
        for name in self.metric_names:
            values = np.array([r[name] for r in results], dtype=np.float64)
            valid = ~np.isnan(values)
            counts[name] = int(valid.sum())
            if counts[name]:
                means[name] = float(values[valid].mean())
            else:
                logger.warning(f'MeshMetric: no sample of {len(results)} has the ground truth '
                               f'for {name}; it is not reported')
        logger.info('MeshMetric: samples per metric (of %d): %s', len(results),
                    ', '.join(f'{k} {v}' for k, v in counts.items()))
        if self.dump_file is not None:
            write_per_sample_errors(self.dump_file, results, self.metric_names)
        if self.submission_file is not None:
            self._write_submission(results)
        return {**means, **{f'{name}_count': count for name, count in counts.items()}}

    def _write_submission(self, results: List[Dict[str, Any]]) -> None:
        """Write FreiHAND's prediction file, samples ordered by ``id`` when all have one."""
        if results and all('id' in r for r in results):
            results = sorted(results, key=lambda r: r['id'])
        path = write_freihand_submission(self.submission_file,
                                         [r['submission'][0] for r in results],
                                         [r['submission'][1] for r in results])
        MMLogger.get_current_instance().info(
            f'MeshMetric: wrote the FreiHAND predictions of {len(results)} samples to {path}')
