"""A figure to judge a checkpoint by: a few test images with their predicted and GT meshes.

For each of ``--num-images`` test samples (evenly spaced through the test set, or those named
by ``--indices``) one row shows the input image, the predicted mesh over it, and the
predicted mesh (blue) beside the ground-truth mesh (orange) seen from the side, captioned with
the sample's MPVPE and PA-MPVPE. Predictions come from :func:`fastmetro_mm.apis.inference_mesh`
on the test set's own person boxes; GT meshes from the samples' SMPL / MANO pose and shape
through the config's body model; both are centred on the same root as ``MeshMetric`` centres
them (body: the H36M pelvis row of the head's joint regressor, without one the mesh centroid;
hand: the wrist, MANO's joint 0). Hands are shown in their whole image, which is their crop
(FreiHAND's layout); bodies in a square around their box.

The test set is the config's ``test_dataloader.dataset``; ``--ann-file`` names another
annotation file in its format (resolved against its ``data_root``, as in the config).

Usage:
    python tools/analysis/prediction_figure.py CONFIG CHECKPOINT --out predictions.png \
        [--ann-file synthetic_test.npz] [--num-images 6] [--cfg-options ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from fastmetro_mm.apis import inference_mesh, init_model, mesh_faces, save_image  # noqa: E402
from fastmetro_mm.evaluation.metrics.mesh_errors import (mean_distance,  # noqa: E402
                                                         procrustes_align)
from fastmetro_mm.mesh import BodyModel, JointRegressor  # noqa: E402
from fastmetro_mm.mesh.joint_sets import H36M_17  # noqa: E402
from fastmetro_mm.mesh.mesh_type import get_mesh_type  # noqa: E402
from fastmetro_mm.render import MeshRenderer  # noqa: E402
from fastmetro_mm.visualization.prediction_figure import (FigureRow,  # noqa: E402
                                                          prediction_figure)


def pick_indices(num_samples: int, count: int) -> List[int]:
    """``count`` sample indices spread evenly from the first to the last sample."""
    if num_samples < 1:
        raise ValueError('prediction_figure: the test set is empty')
    count = min(count, num_samples)
    return sorted({int(i) for i in np.linspace(0, num_samples - 1, count).round()})


class RootCentring:
    """Centres meshes on a root as ``MeshMetric`` does: the H36M pelvis regressed from the
    mesh, or (without a regressor) the mesh centroid; or a given root regressor (the hand's
    wrist)."""

    def __init__(self, regressor_file: Optional[str],
                 root: Optional[JointRegressor] = None) -> None:
        self.pelvis = root
        if regressor_file is not None:
            self.pelvis = JointRegressor.from_file(regressor_file,
                                                   select=[H36M_17.index('Pelvis')])

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        """(V, 3) -> (V, 3) float64 with the root at the origin."""
        vertices = np.asarray(vertices, np.float64)
        if self.pelvis is None:
            return vertices - vertices.mean(0, keepdims=True)
        with torch.no_grad():
            root = self.pelvis(torch.from_numpy(vertices).float()[None])[0].double().numpy()
        return vertices - root


def build_test_set(cfg: Config, ann_file: Optional[str]) -> Any:
    """The config's test dataset without its pipeline (annotations only)."""
    from mmpose.registry import DATASETS
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    dataset_cfg['pipeline'] = []
    dataset_cfg.pop('indices', None)  # the figure picks its own samples
    if ann_file is not None:
        dataset_cfg['ann_file'] = ann_file
    return DATASETS.build(dataset_cfg)


def gt_mesh(info: dict, body_model: BodyModel, where: str) -> np.ndarray:
    """(V, 3) GT mesh of one annotation from its body-model pose and shape."""
    pose = info.get('smpl_pose', info.get('mano_pose'))
    has_smpl = int(np.asarray(info.get('has_smpl', 0)).reshape(-1)[0])
    if pose is None or info.get('smpl_betas') is None or not has_smpl:
        raise ValueError(f'prediction_figure: {where} has no SMPL / MANO pose and shape '
                         '(has_smpl=1), which the GT mesh is posed from')
    pose = torch.as_tensor(np.asarray(pose, np.float32).reshape(1, -1))
    betas = torch.as_tensor(np.asarray(info['smpl_betas'], np.float32).reshape(1, -1))
    with torch.no_grad():
        return body_model(pose, betas).vertices[0].double().numpy()


def figure_rows(model: Any, dataset: Any, indices: Sequence[int], body_model: BodyModel,
                centre: RootCentring, zoom_to_box: bool = True) -> List[FigureRow]:
    """One :class:`FigureRow` per test sample: its image, prediction and GT mesh; the input
    shown around the sample's box (``zoom_to_box``) or whole."""
    infos = [dataset.get_data_info(i) for i in indices]
    paths = [info['img_path'] for info in infos]
    boxes = [np.asarray(info['bbox'], np.float32).reshape(-1, 4)[:1] for info in infos]
    predictions = inference_mesh(model, paths, bboxes=boxes, bbox_format='xyxy')
    rows = []
    for index, info, path, people in zip(indices, infos, paths, predictions):
        image = cv2.imread(str(path))
        if image is None:
            raise FileNotFoundError(f'prediction_figure: cannot read {path}')
        person = people[0]
        pred = centre(person.vertices)
        gt = centre(gt_mesh(info, body_model, f'sample {index} ({path})'))
        mpvpe = 1000 * mean_distance(pred, gt)
        pa_mpvpe = 1000 * mean_distance(procrustes_align(pred, gt, None, False), gt)
        rows.append(FigureRow(
            image=cv2.cvtColor(image, cv2.COLOR_BGR2RGB), vertices_cam=person.vertices_cam,
            focal_length=person.focal_length,
            principal_point=tuple(float(v) for v in person.principal_point),
            pred_vertices=pred, gt_vertices=gt,
            bbox=boxes[len(rows)][0] if zoom_to_box else None,
            caption=f'{Path(path).name} (sample {index}):  MPVPE {mpvpe:.0f} mm,  '
                    f'PA-MPVPE {pa_mpvpe:.0f} mm'))
    return rows


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the model config (its test set, body model, pipeline)')
    parser.add_argument('checkpoint', help='the checkpoint to show')
    parser.add_argument('--out', required=True, help='picture to write (.png or .jpg)')
    parser.add_argument('--ann-file', help="annotation file of the test set instead of the "
                        "config's test_dataloader.dataset.ann_file")
    parser.add_argument('--num-images', type=int, default=6,
                        help='rows: test samples spread evenly through the test set')
    parser.add_argument('--indices', type=int, nargs='+',
                        help='show these test samples instead (overrides --num-images)')
    parser.add_argument('--row-height', type=int, default=288,
                        help='pixel height of each row (at least 256 keeps meshes legible)')
    parser.add_argument('--device', default='cpu', help="torch device, e.g. 'cuda:0'")
    parser.add_argument('--overwrite', action='store_true',
                        help='replace --out if it exists (refused otherwise)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/test.py')
    args = parser.parse_args(argv)
    if args.num_images < 1:
        parser.error(f'--num-images must be >= 1, got {args.num_images}')
    if args.row_height < 64:
        parser.error(f'--row-height must be >= 64, got {args.row_height}')
    return args


def main(argv: Optional[List[str]] = None) -> Path:
    """Draws the figure; returns the written path."""
    args = parse_args(argv)
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise SystemExit(f'prediction_figure: {out} exists; pass --overwrite to replace it')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    head = cfg.model.head
    mesh_type = get_mesh_type(head.get('mesh_type', 'body'),
                              f'prediction_figure: {args.config}, model.head')
    body_model = BodyModel(**dict(head.body_model, model_type=mesh_type.model_type)).eval()
    is_body = mesh_type.name == 'body'
    # The hand's root is its wrist (MeshMetric's), MANO's joint 0.
    centre = RootCentring(head.get('joint_regressor_file') if is_body else None,
                          None if is_body else JointRegressor(body_model.j_regressor,
                                                              select=[0]))
    dataset = build_test_set(cfg, args.ann_file)
    if args.indices:
        bad = [i for i in args.indices if not 0 <= i < len(dataset)]
        if bad:
            raise SystemExit(f'prediction_figure: --indices {bad} outside the test set '
                             f'(0..{len(dataset) - 1})')
        indices = list(args.indices)
    else:
        indices = pick_indices(len(dataset), args.num_images)

    model = init_model(cfg, args.checkpoint, device=args.device)
    # A hand's box is its whole image (FreiHAND's crops): shown whole, not zoomed out.
    rows = figure_rows(model, dataset, indices, body_model, centre, zoom_to_box=is_body)
    title = (f'{Path(args.checkpoint).name}: {len(rows)} of {len(dataset)} test images  '
             '(blue: prediction, orange: ground truth)')
    with MeshRenderer(mesh_faces(model)) as renderer:
        figure = prediction_figure(renderer, rows, args.row_height, title=title)
    path = save_image(out, figure, overwrite=args.overwrite)
    print(f'prediction_figure: {path} ({figure.shape[1]} x {figure.shape[0]} px, '
          f'{len(rows)} test images)')
    return path


if __name__ == '__main__':
    main()
