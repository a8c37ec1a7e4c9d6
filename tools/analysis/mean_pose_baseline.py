"""The constant mean-pose baseline: one mesh, the training set's mean, predicted for every image.

It answers "has the model learnt anything from the pixels?": a model that only learnt the
average body scores exactly this. The mean mesh is the average of the training samples' GT
meshes (their SMPL / MANO pose and shape through the config's body model), each centred on its
own root, in the camera frame of the annotations. It is scored on the config's test set by the
config's own test evaluator (MeshMetric, the same protocol as ``tools/test.py``), through the
test pipeline, so both numbers are comparable line by line.

Usage:
    python tools/analysis/mean_pose_baseline.py CONFIG [--out baseline.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from smplx.lbs import batch_rodrigues

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from fastmetro_mm.mesh import BodyModel, JointRegressor  # noqa: E402
from fastmetro_mm.mesh.atomic_file import atomic_write  # noqa: E402
from fastmetro_mm.mesh.joint_sets import centre_on_root  # noqa: E402
from fastmetro_mm.mesh.mesh_type import get_mesh_type  # noqa: E402


def _project_to_rotation(matrix: torch.Tensor) -> torch.Tensor:
    """The rotation nearest (Frobenius) to a 3 x 3 matrix, through its SVD."""
    u, _, vt = torch.linalg.svd(matrix)
    fix = torch.eye(3, dtype=matrix.dtype)
    fix[2, 2] = torch.sign(torch.linalg.det(u @ vt))
    return u @ fix @ vt


def mean_training_mesh(dataset: Any, body_model: BodyModel,
                       root_regressor: Optional[JointRegressor] = None,
                       batch_size: int = 256) -> torch.Tensor:
    """The mean-pose mesh of a mesh dataset's samples that have SMPL / MANO parameters.

    Averaging posed meshes directly would also average their global orientations (people
    seen from every side) into a shrunken blob, a baseline no one would call "the mean
    pose". Instead each mesh is posed with its global orientation removed and centred on its
    root, those canonical meshes are averaged (mean articulation and shape), and the result
    is turned by the mean global rotation (the chordal mean: the rotation nearest to the
    average rotation matrix).

    Args:
        dataset: a built mesh dataset (its ``get_data_info`` holds ``smpl_pose`` (1, 72) or
            ``mano_pose`` (1, 48) axis-angle, global orientation first, ``smpl_betas``
            (1, 10) and ``has_smpl`` (1,)).
        body_model: the body model the GT meshes come from.
        root_regressor: centres each mesh on the mean of its regressed joints (e.g. the H36M
            pelvis row); None: on the mean of its vertices.
        batch_size: meshes posed at once.

    Returns:
        (V, 3) mean-pose mesh in metres, centred on its root.

    Raises:
        ValueError: no sample of the dataset has pose and shape.
    """
    poses: List[np.ndarray] = []
    betas: List[np.ndarray] = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if not int(np.asarray(info.get('has_smpl', 0)).reshape(-1)[0]):
            continue
        pose = info['smpl_pose'] if 'smpl_pose' in info else info['mano_pose']
        poses.append(np.asarray(pose, np.float32).reshape(-1))
        betas.append(np.asarray(info['smpl_betas'], np.float32).reshape(-1))
    if not poses:
        raise ValueError(f'mean_pose_baseline: no sample of {type(dataset).__name__} '
                         f'({len(dataset)} samples) has SMPL/MANO pose and shape '
                         '(has_smpl=1); the mean mesh needs them')
    canonical_sum = torch.zeros(body_model.num_vertices, 3, dtype=torch.float64)
    rotation_sum = torch.zeros(3, 3, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, len(poses), batch_size):
            pose = torch.from_numpy(np.stack(poses[start:start + batch_size]))
            shape = torch.from_numpy(np.stack(betas[start:start + batch_size]))
            rotation_sum += batch_rodrigues(pose[:, :3].double()).sum(0)
            canonical = pose.clone()
            canonical[:, :3] = 0
            vertices = body_model(canonical, shape).vertices.double()  # (B, V, 3)
            if root_regressor is not None:
                regressed = root_regressor(vertices.float()).double()  # (B, R, 3)
                centred = centre_on_root(vertices, regressed, range(regressed.shape[1]))
            else:
                centred = vertices - vertices.mean(1, keepdim=True)  # on the centroid
            canonical_sum += centred.sum(0)
    mean_rotation = _project_to_rotation(rotation_sum / len(poses))
    return ((canonical_sum / len(poses)) @ mean_rotation.T).float()


def evaluate_constant_mesh(cfg: Config, mesh: torch.Tensor) -> Dict[str, float]:
    """Scores one mesh, predicted for every test sample, with the config's test evaluator.

    Args:
        cfg: the config (``test_dataloader`` and ``test_evaluator`` are used).
        mesh: (V, 3) metres.

    Returns:
        The evaluator's metrics, e.g. ``{'mesh/MPJPE': ..., 'mesh/PA-MPJPE': ...}``.
    """
    loader_cfg = cfg.test_dataloader.copy()
    # The baseline reads no pixels it needs workers for; a single process keeps it simple.
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = getattr(loader.dataset, 'metainfo', None)
    vertices = mesh[None].numpy()  # (1, V, 3)
    for data_batch in loader:
        samples = data_batch['data_samples']
        for sample in samples:
            sample.pred_instances = InstanceData(vertices=vertices.copy())
        evaluator.process(samples, data_batch)
    return evaluator.evaluate(len(loader.dataset))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the model config (its training set gives the mean '
                        'mesh, its test set and evaluator score it)')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/test.py')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    """Builds the mean mesh from the training set and prints its test metrics."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    for module in cfg.get('custom_imports', {}).get('imports', []):
        __import__(module)
    from mmpose.registry import DATASETS

    head = cfg.model.head
    mesh_type = get_mesh_type(head.get('mesh_type', 'body'),
                              f'mean_pose_baseline: {args.config}, model.head')
    # The head's body_model names the file; the family (SMPL / MANO) follows its mesh_type.
    body_model = BodyModel(**dict(head.body_model, model_type=mesh_type.model_type))
    regressor_file = head.get('joint_regressor_file')
    root_regressor = None
    if regressor_file is not None:
        # Centre on the H36M pelvis (row 0), the root MeshMetric centres body meshes on.
        root_regressor = JointRegressor.from_file(regressor_file, select=[0])
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg['pipeline'] = []
    dataset = DATASETS.build(dataset_cfg)
    mesh = mean_training_mesh(dataset, body_model, root_regressor)
    metrics = evaluate_constant_mesh(cfg, mesh)
    print('mean-pose baseline: ' + '  '.join(f'{k} {v:.2f}' for k, v in metrics.items()))
    if args.out:
        with atomic_write(args.out, overwrite=True) as stream:
            stream.write(json.dumps(metrics, indent=2).encode())
    return metrics


if __name__ == '__main__':
    main()
