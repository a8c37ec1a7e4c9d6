"""Measures temporal smoothing on synthetic EMDB-format videos: jitter against accuracy.

Renders (once, into ``WORK_DIR/emdb``) smooth synthetic sequences with
:func:`fastmetro_mm.synthetic.emdb_sequences.make_synthetic_emdb_sequences`, runs the model on
every good frame with the sequence's GT box (masked frames have no box, so each track has a
gap, as behind an occluder), tracks the person, and then applies
:class:`fastmetro_mm.apis.TemporalSmoother` with each setting to the same raw predictions
(the network runs once). Reported per setting, with EMDB's formulas
(:mod:`fastmetro_mm.evaluation.metrics.emdb_protocol`): MPJPE, PA-MPJPE, MVE (mm, 24 SMPL
joints regressed from the mesh, hip-centred, per-frame mean over all sequences) and jitter
(10 m/s^3, mean over sequences), plus the placement: the error (mm) and jitter of the
hip-midpoint position in the camera frame (``cam_t`` + the mesh's hip midpoint; the meshes are
placed with the sequence's focal length). "lag (GT)" runs the same filters on the GT itself (a
perfect model): the error the smoothing alone adds. The chosen setting is the one with the
least lag among those that divide the jitter by ``--jitter-reduction`` (3) at no more than
``--max-mpjpe-increase`` (2 %) higher error; body fields first, then the placement.

The sequences and the network's outputs (``raw_predictions.pkl``) stay in ``--work-dir``, so
a rerun with the same model only re-filters. Example (the quickstart model; about 4 minutes of
CPU the first time, 1.5 after)::

    python tools/analysis/smoothing_sweep.py \\
        work_dirs/quickstart/fastmetro_s_r18_synthetic_quickstart.py \\
        work_dirs/quickstart/epoch_4.pth --model-dir data/synthetic \\
        --work-dir work_dirs/smoothing_sweep --out work_dirs/smoothing_sweep/table.md
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

#: Square crop side / the larger side of the tight box, as the synthetic training set.
BOX_PADDING = 1.2
#: (min_cutoff, beta) of the body fields tried, each with the default placement parameters.
BODY_SETTINGS = [(4.0, 0.0), (2.0, 0.0), (1.0, 0.0), (0.5, 0.0),
                 (2.0, 1.0), (2.0, 3.0), (2.0, 10.0),
                 (1.0, 1.0), (1.0, 3.0), (1.0, 10.0), (1.0, 30.0),
                 (0.5, 1.0), (0.5, 3.0), (0.5, 10.0), (0.5, 30.0)]
#: (translation_min_cutoff, translation_beta) tried with the chosen body setting.
PLACEMENT_SETTINGS = [(4.0, 0.0), (2.0, 0.0), (1.0, 0.0), (0.5, 0.0),
                      (2.0, 0.05), (2.0, 0.2), (1.0, 0.05), (1.0, 0.2), (1.0, 1.0),
                      (0.5, 0.2), (0.5, 1.0)]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='model config')
    parser.add_argument('checkpoint', help='model checkpoint')
    parser.add_argument('--model-dir', required=True,
                        help='folder with the synthetic SMPL_{NEUTRAL,MALE,FEMALE}.pkl')
    parser.add_argument('--work-dir', required=True,
                        help='where the sequences and raw predictions are kept between runs')
    parser.add_argument('--num-sequences', type=int, default=4)
    parser.add_argument('--num-frames', type=int, default=90)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-mpjpe-increase', type=float, default=0.02,
                        help='the chosen setting may raise MPJPE by at most this fraction')
    parser.add_argument('--jitter-reduction', type=float, default=3.0,
                        help='the chosen setting must divide the jitter by at least this')
    parser.add_argument('--out', help='also write the tables (markdown) here; .json beside')
    parser.add_argument('--overwrite', action='store_true', help='replace --out')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def load_sequences(args: argparse.Namespace) -> List[Path]:
    """The sequence folders, rendered the first time."""
    from fastmetro_mm.synthetic.emdb_sequences import (EMDBSequenceOptions,
                                                       make_synthetic_emdb_sequences,
                                                       sequence_paths)
    out_dir = Path(args.work_dir) / 'emdb'
    folders = [sequence_paths(out_dir, i)['folder'] for i in range(args.num_sequences)]
    if all(folder.is_dir() for folder in folders):
        return folders
    return make_synthetic_emdb_sequences(EMDBSequenceOptions(
        model_dir=args.model_dir, out_dir=out_dir, num_sequences=args.num_sequences,
        num_frames=args.num_frames, seed=args.seed, overwrite=True))


def ground_truth(data: Dict, model_dir: str) -> Dict[str, np.ndarray]:
    """GT SMPL joints (F, 24, 3) and vertices (F, V, 3) in the camera frame, metres."""
    from fastmetro_mm.mesh.body_model import BodyModel
    from fastmetro_mm.synthetic.posing import pose_meshes
    model = BodyModel.smpl(model_dir, gender=data['gender'], dtype=torch.float64)
    smpl = data['smpl']
    pose = np.concatenate([smpl['poses_root'], smpl['poses_body']], axis=1)
    betas = np.tile(smpl['betas'], (len(pose), 1))
    vertices, joints = pose_meshes(model, pose, betas)
    extrinsics = data['camera']['extrinsics']
    rotation, translation = extrinsics[:, :3, :3], extrinsics[:, :3, 3]

    def to_camera(points: np.ndarray) -> np.ndarray:
        world = points + smpl['trans'][:, None]
        return np.einsum('fij,fpj->fpi', rotation, world) + translation[:, None]

    return dict(joints=to_camera(joints), vertices=to_camera(vertices))


def raw_predictions(model, folder: Path, data: Dict) -> Tuple[np.ndarray, list]:
    """The tracked, unsmoothed predictions of the good frames of one sequence."""
    from fastmetro_mm.apis import inference_video
    good = np.flatnonzero(data['good_frames_mask'])
    tight = data['bboxes']['bboxes']
    # The square box of the training crops: side BOX_PADDING x the larger side, same centre.
    centre = 0.5 * (tight[:, :2] + tight[:, 2:])
    half = 0.5 * BOX_PADDING * (tight[:, 2:] - tight[:, :2]).max(axis=1, keepdims=True)
    boxes = {int(f): np.concatenate([centre[f] - half[f], centre[f] + half[f]])[None]
             for f in good}
    images = sorted((folder / 'images').glob('*.jpg'))
    focal = float(data['camera']['intrinsics'][0, 0])
    with warnings.catch_warnings():
        # padded boxes of a person near the border reach beyond the image, as in training
        warnings.filterwarnings('ignore', 'inference_video: .*partly outside')
        people = inference_video(model, [str(path) for path in images], boxes, track=True,
                                 smoothing=None, fps=30.0, focal_length=focal)
    frames = [(f, people[f][0]) for f in good]
    ids = {person.track_id for _, person in frames}
    if len(ids) != 1:
        raise RuntimeError(f'{folder}: the tracker split the one person into tracks {ids}')
    return good, [person for _, person in frames]


def smoothed(predictions: list, frames: np.ndarray, params, width: int, height: int) -> list:
    """``predictions`` through a fresh :class:`TemporalSmoother` (as inference_video does)."""
    from fastmetro_mm.apis import TemporalSmoother
    from fastmetro_mm.apis.video_inference import frame_camera
    if params is None:
        return predictions
    smoother = TemporalSmoother(30.0, params)
    return [smoother([person], [0], int(frame), frame_camera(person, width, height))[0]
            for frame, person in zip(frames, predictions)]


def evaluate(sequences: List[Dict], params, regressor: np.ndarray) -> Dict[str, float]:
    """EMDB's errors and jitter of one setting over all sequences."""
    from fastmetro_mm.evaluation.metrics.emdb_protocol import frame_errors, sequence_jitter
    errors: Dict[str, List[np.ndarray]] = {}
    jitter, root_error, root_jitter = [], [], []
    for seq in sequences:
        people = smoothed(seq['raw'], seq['frames'], params, seq['width'], seq['height'])
        vertices = np.stack([p.vertices for p in people]).astype(np.float64)
        joints = np.einsum('jv,fvc->fjc', regressor, vertices)  # (F, 24, 3)
        gt = {key: value[seq['frames']] for key, value in seq['gt'].items()}
        for name, value in frame_errors(joints, gt['joints'], vertices,
                                        gt['vertices']).items():
            errors.setdefault(name, []).append(value)
        jitter.append(sequence_jitter(joints, 30.0)[0])
        hips = joints[:, 1:3].mean(axis=1) + np.stack([p.cam_t for p in people])  # (F, 3)
        gt_hips = gt['joints'][:, 1:3].mean(axis=1)
        root_error.append(1000 * np.linalg.norm(hips - gt_hips, axis=1))
        root_jitter.append(trajectory_jitter(hips, 30.0))
    out = {name: float(np.concatenate(values).mean()) for name, values in errors.items()}
    out.update(jitter=float(np.mean(jitter)), root_error=float(np.concatenate(root_error).mean()),
               root_jitter=float(np.mean(root_jitter)))
    return out


def oracle(seq: Dict, regressor: np.ndarray) -> Dict:
    """The sequence with the GT as a perfect model's predictions (hip-centred mesh, the
    hip midpoint as ``cam_t``) and GT joints regressed like the predicted ones: unsmoothed it
    scores 0, smoothed it measures the filter's own lag."""
    import dataclasses
    vertices = seq['gt']['vertices']
    joints = np.einsum('jv,fvc->fjc', regressor, vertices)
    hips = joints[:, 1:3].mean(axis=1)  # (F, 3)
    people = [dataclasses.replace(person, vertices=(vertices[f] - hips[f]).astype(np.float32),
                                  keypoints_3d=(joints[f] - hips[f]).astype(np.float32),
                                  cam_t=hips[f].astype(np.float32))
              for f, person in zip(seq['frames'], seq['raw'])]
    return dict(seq, raw=people, gt=dict(joints=joints, vertices=vertices))


def measure(sequences: List[Dict], oracles: List[Dict], params,
            regressor: np.ndarray) -> Dict[str, float]:
    """The model's metrics of one setting, with ``lag`` (MPJPE, mm) and ``root_lag`` (mm):
    the same filters' error on the perfect predictions."""
    out = evaluate(sequences, params, regressor)
    perfect = evaluate(oracles, params, regressor)
    out.update(lag=perfect['MPJPE'], root_lag=perfect['root_error'])
    return out


def trajectory_jitter(points: np.ndarray, fps: float) -> float:
    """EMDB's jitter formula for one point's (T, 3) path: mean jerk norm / 10 (10 m/s^3)."""
    third = points[3:] - 3.0 * points[2:-1] + 3.0 * points[1:-2] - points[:-3]
    return float(np.linalg.norm(third * fps**3, axis=-1).mean() / 10.0)


def gt_jitter(sequences: List[Dict]) -> Dict[str, float]:
    """Jitter of the GT motion itself (the floor smoothing cannot go below usefully)."""
    from fastmetro_mm.evaluation.metrics.emdb_protocol import sequence_jitter
    body, root = [], []
    for seq in sequences:
        joints = seq['gt']['joints'][seq['frames']]
        body.append(sequence_jitter(joints - joints[:, 1:3].mean(1, keepdims=True), 30.0)[0])
        root.append(trajectory_jitter(joints[:, 1:3].mean(1), 30.0))
    return dict(jitter=float(np.mean(body)), root_jitter=float(np.mean(root)))


def choose(rows: Sequence[Tuple[str, Dict[str, float]]], raw: Dict[str, float], jitter: str,
           error: str, lag: str, args: argparse.Namespace) -> Tuple[str, Dict[str, float]]:
    """The setting that reaches the goal with the least lag: smoothing no more than needed,
    so that the choice does not rest on this model's errors hiding the filters' lag."""
    allowed = [(name, m) for name, m in rows
               if m[jitter] * args.jitter_reduction <= raw[jitter]
               and m[error] <= raw[error] * (1 + args.max_mpjpe_increase)]
    if allowed:
        return min(allowed, key=lambda row: row[1][lag])
    return min(rows, key=lambda row: row[1][jitter])


def table(rows: Sequence[Tuple[str, Dict[str, float]]], raw: Dict[str, float]) -> str:
    lines = ['| setting | MPJPE | PA-MPJPE | MVE | jitter | jitter / raw | MPJPE / raw | '
             'lag (GT) | root err. | root jitter | root lag (GT) |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for name, m in rows:
        lines.append(f'| {name} | {m["MPJPE"]:.1f} | {m["PA-MPJPE"]:.1f} | {m["MVE"]:.1f} | '
                     f'{m["jitter"]:.1f} | {m["jitter"] / raw["jitter"]:.2f} | '
                     f'{m["MPJPE"] / raw["MPJPE"]:.3f} | {m["lag"]:.1f} | '
                     f'{m["root_error"]:.0f} | {m["root_jitter"]:.1f} | {m["root_lag"]:.1f} |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    from fastmetro_mm.apis import SmoothingParams, init_model
    from fastmetro_mm.mesh.atomic_file import atomic_write
    from fastmetro_mm.mesh.body_model import BodyModel

    args = parse_args(argv)
    if args.out and Path(args.out).exists() and not args.overwrite:
        raise SystemExit(f'--out {args.out} exists; pass --overwrite to replace it')
    start = time.perf_counter()
    folders = load_sequences(args)
    model = init_model(args.config, args.checkpoint, args.device)  # checks the files too
    regressor = BodyModel.smpl(args.model_dir, gender='neutral',
                               dtype=torch.float64).j_regressor.numpy()  # (24, V)
    cache = Path(args.work_dir) / 'raw_predictions.pkl'
    key = [str(Path(args.config).resolve()), str(Path(args.checkpoint).resolve()),
           [str(folder) for folder in folders], BOX_PADDING]
    sequences = None
    if cache.is_file():  # the network's outputs of an earlier run with the same model
        try:
            with open(cache, 'rb') as stream:
                cached = pickle.load(stream)
            sequences = cached['sequences'] if cached['key'] == key else None
        except (pickle.UnpicklingError, AttributeError, EOFError, ImportError, TypeError):
            print(f'{cache}: unreadable with this code version; running the model again')
    if sequences is None:
        sequences = []
        for folder in folders:
            with open(next(folder.glob('*_data.pkl')), 'rb') as stream:
                data = pickle.load(stream)
            frames, raw = raw_predictions(model, folder, data)
            sequences.append(dict(frames=frames, raw=raw,
                                  gt=ground_truth(data, args.model_dir),
                                  width=data['camera']['width'],
                                  height=data['camera']['height']))
        with atomic_write(cache, overwrite=True) as stream:
            pickle.dump(dict(key=key, sequences=sequences), stream)
    inference_s = time.perf_counter() - start

    oracles = [oracle(seq, regressor) for seq in sequences]
    raw = measure(sequences, oracles, None, regressor)
    body_rows = [('raw (no smoothing)', raw)]
    for min_cutoff, beta in BODY_SETTINGS:
        params = SmoothingParams(min_cutoff=min_cutoff, beta=beta)
        body_rows.append((f'min_cutoff={min_cutoff:g} beta={beta:g}',
                          measure(sequences, oracles, params, regressor)))
    best_name, best = choose(body_rows[1:], raw, 'jitter', 'MPJPE', 'lag', args)
    body = dict(part.split('=') for part in best_name.split())
    placement_rows = []
    for min_cutoff, beta in PLACEMENT_SETTINGS:
        params = SmoothingParams(min_cutoff=float(body['min_cutoff']), beta=float(body['beta']),
                                 translation_min_cutoff=min_cutoff, translation_beta=beta)
        placement_rows.append((f'translation_min_cutoff={min_cutoff:g} '
                               f'translation_beta={beta:g}',
                               measure(sequences, oracles, params, regressor)))
    placement_name, placement = choose(placement_rows, raw, 'root_jitter', 'root_error',
                                       'root_lag', args)
    floor = gt_jitter(sequences)
    num_frames = sum(len(seq['frames']) for seq in sequences)
    text = '\n\n'.join([
        f'{len(sequences)} sequences, {num_frames} evaluated frames; GT motion jitter '
        f'{floor["jitter"]:.1f} (body), {floor["root_jitter"]:.1f} (root). Errors in mm, '
        'jitter in 10 m/s^3.',
        'Body fields (default placement parameters):', table(body_rows, raw),
        f'Chosen body setting: {best_name} (jitter / {raw["jitter"] / best["jitter"]:.1f}, '
        f'MPJPE x {best["MPJPE"] / raw["MPJPE"]:.3f}, lag {best["lag"]:.1f} mm).',
        f'Placement (translation) with {best_name}:', table(placement_rows, raw),
        f'Chosen placement setting: {placement_name} (root jitter / '
        f'{raw["root_jitter"] / placement["root_jitter"]:.1f}, root error x '
        f'{placement["root_error"] / raw["root_error"]:.3f}, root lag '
        f'{placement["root_lag"]:.1f} mm).',
        f'Rule: the least lag (the filters\' error on perfect predictions) among the settings '
        f'that divide the jitter by >= {args.jitter_reduction:g} and raise the model\'s error '
        f'by <= {100 * args.max_mpjpe_increase:g} %; the least jitter if none does.'])
    print(text)
    print(f'\ninference {inference_s:.0f} s, total {time.perf_counter() - start:.0f} s')
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(args.out, overwrite=args.overwrite) as stream:
            stream.write((text + '\n').encode())
        rows = dict(raw=raw, body=dict(body_rows[1:]), placement=dict(placement_rows),
                    gt=floor, chosen=[best_name, placement_name])
        with atomic_write(Path(args.out).with_suffix('.json'), overwrite=True) as stream:
            stream.write(json.dumps(rows, indent=1).encode())
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
