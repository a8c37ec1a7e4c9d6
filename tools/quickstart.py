"""`make quickstart`: the whole pipeline on the licence-free synthetic body, on CPU, in minutes.

Steps, each through the same tool a user runs on real data:

1. ``tools/make_synthetic_models.py``: the synthetic SMPL-format body, its H36M regressor and
   mesh hierarchy (``data/synthetic``);
2. ``tools/dataset_converters/make_synthetic.py``: a rendered dataset in the SPIN npz format,
   training and held-out test images (``data/synthetic_dataset``);
3. ``tools/train.py``: the backbone warm-up (a ResNet-18 with a plain joint regressor, from
   random weights; it stands in for ImageNet weights);
4. ``tools/train.py``: FastMETRO-S (configs/quickstart/) on the warmed-up backbone;
5. ``tools/test.py --show-dir``: the test set evaluated, predictions rendered over the images;
6. ``tools/analysis/mean_pose_baseline.py``: the constant mean-pose baseline on the same test
   set and metric;

then it prints both rows of metrics, and writes ``training_curves.png`` (from mmengine's
``LocalVisBackend`` scalars) and ``predictions.png`` (rendered test predictions) to the work
dir. Files that exist are reused, never overwritten: delete them to start again.

Usage:
    python tools/quickstart.py [--work-dir work_dirs/quickstart] [--num-train 1500]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = REPO_ROOT / 'configs' / 'quickstart' / 'fastmetro_s_r18_synthetic_quickstart.py'
WARMUP_CONFIG = REPO_ROOT / 'configs' / 'quickstart' / 'r18_joint_regression_synthetic_warmup.py'
#: How the quickstart's people look and move: clothes-like part colours, plain backgrounds, and
#: one of a few random poses each (jittered), so that minutes of CPU training from random
#: weights can learn them (see docs/quickstart_experiments.md).
DATASET_OPTIONS = ('--part-colours', '--backgrounds', 'solid', 'gradient',
                   '--prototype-jitter', '0.05')
#: The quickstart succeeds when the model's PA-MPJPE is at least this much below the baseline's.
CLEAR_GAIN = 0.10
#: The metrics the quickstart reports, in MeshMetric's names (millimetres).
REPORTED = ('mesh/MPJPE', 'mesh/PA-MPJPE', 'mesh/MPVPE')


def step(title: str) -> None:
    """Prints a visible step header."""
    print(f'\n=== quickstart: {title}', flush=True)


def run(command: Sequence[str]) -> None:
    """Runs a tool of this repository with the same Python, its output going to the console.

    Raises:
        SystemExit: the tool failed (its exit status is passed on).
    """
    print('$ ' + ' '.join(str(part) for part in command), flush=True)
    completed = subprocess.run([sys.executable, *map(str, command)], cwd=REPO_ROOT)
    if completed.returncode != 0:
        print(f'quickstart: {command[0]} failed with exit status {completed.returncode}',
              file=sys.stderr)
        raise SystemExit(completed.returncode)


def last_epoch_checkpoint(work_dir: Path, max_epochs: int) -> Optional[Path]:
    """The final checkpoint of a finished run, or None."""
    path = work_dir / f'epoch_{max_epochs}.pth'
    return path if path.is_file() else None


def train_once(config: Path, run_dir: Path, epochs: int,
               options: Sequence[str]) -> Optional[Path]:
    """``tools/train.py`` unless the run already finished; its final checkpoint, or None.

    ``--resume`` continues an interrupted run from its last checkpoint.
    """
    checkpoint = last_epoch_checkpoint(run_dir, epochs)
    if checkpoint is not None:
        print(f'{checkpoint} exists, training skipped')
        return checkpoint
    run(['tools/train.py', config, '--work-dir', run_dir, '--resume', '--cfg-options',
         *options])
    checkpoint = last_epoch_checkpoint(run_dir, epochs)
    if checkpoint is None:
        print(f'quickstart: training ended without {run_dir}/epoch_{epochs}.pth',
              file=sys.stderr)
    return checkpoint


def latest_scalars(work_dir: Path) -> Optional[Path]:
    """The newest ``vis_data/scalars.json`` of the training runs in ``work_dir``."""
    candidates = sorted(work_dir.glob('*/vis_data/scalars.json'), key=os.path.getmtime)
    return candidates[-1] if candidates else None


def plot_training_curves(scalars_file: Path, out_file: Path) -> None:
    """Draws the training loss terms per iteration and the validation metrics per epoch.

    Args:
        scalars_file: mmengine ``LocalVisBackend`` output (one JSON record per line).
        out_file: PNG to write.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in scalars_file.read_text().splitlines() if line]
    train = [r for r in records if 'loss' in r]
    val = [r for r in records if any(key.startswith('mesh/') for key in r)]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for key in sorted({k for r in train for k in r if k.startswith('loss')}):
        points = [(r['iter'], r[key]) for r in train if key in r]
        left.plot(*zip(*points), label=key, linewidth=1.5 if key == 'loss' else 0.8)
    left.set(xlabel='iteration', ylabel='weighted loss', yscale='log', title='training loss')
    left.legend(fontsize=7)
    for key in REPORTED:
        points = [(r['step'], r[key]) for r in val if key in r]
        if points:
            right.plot(*zip(*points), marker='o', label=key)
    right.set(xlabel='epoch', ylabel='mm', title='validation (synthetic test set)')
    if val:
        right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out_file, dpi=100)
    plt.close(figure)


def montage(image_files: List[Path], out_file: Path, columns: int = 4,
            width: int = 960) -> None:
    """Tiles pictures (e.g. the rendered test predictions) into one PNG of a given width."""
    import cv2
    import numpy as np

    images = [cv2.imread(str(path)) for path in image_files]
    images = [image for image in images if image is not None]
    if not images:
        raise FileNotFoundError(f'quickstart: no readable picture among {image_files[:3]}...')
    tile_w = width // columns
    tiles = [cv2.resize(image, (tile_w, round(image.shape[0] * tile_w / image.shape[1])))
             for image in images]
    tile_h = max(tile.shape[0] for tile in tiles)
    rows = []
    for start in range(0, len(tiles), columns):
        row = np.zeros((tile_h, width, 3), np.uint8)
        for i, tile in enumerate(tiles[start:start + columns]):
            row[:tile.shape[0], i * tile_w:(i + 1) * tile_w] = tile
        rows.append(row)
    cv2.imwrite(str(out_file), np.concatenate(rows, 0))


def print_table(model: Dict[str, float], baseline: Dict[str, float]) -> None:
    """The model's and the baseline's metrics side by side."""
    names = [name.split('/')[-1] for name in REPORTED]
    print('\n' + ' ' * 24 + ''.join(f'{name:>12}' for name in names) + '   (mm, lower is better)')
    for label, metrics in (('FastMETRO-S (trained)', model), ('mean-pose baseline', baseline)):
        print(f'{label:<24}' + ''.join(f'{metrics[key]:12.1f}' for key in REPORTED))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    parser.add_argument('--model-dir', default='data/synthetic')
    parser.add_argument('--data-dir', default='data/synthetic_dataset')
    parser.add_argument('--num-train', type=int, default=1500)
    parser.add_argument('--num-test', type=int, default=200)
    parser.add_argument('--max-yaw', type=float, default=30.0,
                        help='people turn up to this many degrees away from the camera; the '
                        'faceless synthetic figure seen from behind looks like a mirrored front '
                        'view, which a minutes-long run cannot learn to tell apart')
    parser.add_argument('--pose-prototypes', type=int, default=6,
                        help='people take one of this many random poses, jittered (0: '
                        'independent joint angles, too varied for minutes of training)')
    parser.add_argument('--max-epochs', type=int, default=None,
                        help="override the FastMETRO config's number of epochs")
    parser.add_argument('--warmup-epochs', type=int, default=None,
                        help="override the warm-up config's number of epochs")
    parser.add_argument('--num-pictures', type=int, default=8,
                        help='test predictions tiled into predictions.png')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the quickstart; returns 0 when the model's PA-MPJPE is at least 10% below the
    baseline's."""
    args = parse_args(argv)
    start = time.time()
    work_dir = (REPO_ROOT / args.work_dir).resolve()
    model_dir = (REPO_ROOT / args.model_dir).resolve()
    data_dir = (REPO_ROOT / args.data_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)

    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    max_epochs = args.max_epochs or cfg.train_cfg.max_epochs
    warmup_epochs = args.warmup_epochs or Config.fromfile(WARMUP_CONFIG).train_cfg.max_epochs
    warmup_dir = work_dir / 'warmup'
    # The config's paths are variables of its bases, already resolved: each use is redirected.
    options = [
        f'model.head.hierarchy_file={model_dir}/synthetic_downsampling.npz',
        f'model.head.body_model.model_path={model_dir}/SMPL_NEUTRAL.pkl',
        f'model.head.joint_regressor_file={model_dir}/J_regressor_h36m_synthetic.npy',
        f'train_dataloader.dataset.data_root={data_dir}',
        f'val_dataloader.dataset.data_root={data_dir}',
        f'test_dataloader.dataset.data_root={data_dir}',
        f'val_evaluator.joint_regressor_file={model_dir}/J_regressor_h36m_synthetic.npy',
        f'val_evaluator.body_model.model_path={model_dir}/SMPL_NEUTRAL.pkl',
        f'test_evaluator.joint_regressor_file={model_dir}/J_regressor_h36m_synthetic.npy',
        f'test_evaluator.body_model.model_path={model_dir}/SMPL_NEUTRAL.pkl',
        f'train_cfg.max_epochs={max_epochs}',
        f'train_cfg.val_interval={max_epochs}',
        f'param_scheduler.0.T_max={max_epochs}',  # the cosine schedule spans the whole run
    ]
    warmup_options = [
        f'train_dataloader.dataset.data_root={data_dir}',
        f'train_cfg.max_epochs={warmup_epochs}',
        f'train_cfg.val_interval={warmup_epochs + 1}',
        f'default_hooks.checkpoint.interval={warmup_epochs}',
    ]

    step(f'1/6 synthetic body model -> {model_dir}')
    if (model_dir / 'SMPL_NEUTRAL.pkl').is_file() and \
            (model_dir / 'synthetic_downsampling.npz').is_file():
        print('exists, reused')
    else:
        run(['tools/make_synthetic_models.py', '--out-dir', model_dir])

    step(f'2/6 rendered dataset ({args.num_train} train + {args.num_test} test) -> {data_dir}')
    if (data_dir / 'synthetic_train.npz').is_file():
        print('exists, reused (delete the folder to render again)')
    else:
        run(['tools/dataset_converters/make_synthetic.py', '--model-dir', model_dir,
             '--out-dir', data_dir, '--num-train', args.num_train, '--num-test',
             args.num_test, '--max-yaw', args.max_yaw, '--pose-prototypes',
             args.pose_prototypes, *DATASET_OPTIONS])

    step(f'3/6 backbone warm-up ({WARMUP_CONFIG.relative_to(REPO_ROOT)}, {warmup_epochs} '
         f'epochs) -> {warmup_dir}')
    warmup = train_once(WARMUP_CONFIG, warmup_dir, warmup_epochs, warmup_options)
    if warmup is None:
        return 1
    options.append(f'model.backbone.init_cfg.checkpoint={warmup}')

    step(f'4/6 training FastMETRO-S ({CONFIG.relative_to(REPO_ROOT)}, {max_epochs} epochs) '
         f'-> {work_dir}')
    checkpoint = train_once(CONFIG, work_dir, max_epochs, options)
    if checkpoint is None:
        return 1

    step('5/6 testing the trained model, rendering its predictions')
    test_dir = work_dir / 'test'
    metrics_file = work_dir / 'test_metrics.json'
    run(['tools/test.py', CONFIG, checkpoint, '--work-dir', test_dir, '--out', metrics_file,
         '--show-dir', 'predictions', '--cfg-options', *options])
    model_metrics = json.loads(metrics_file.read_text())

    step('6/6 the constant mean-pose baseline on the same test set')
    baseline_file = work_dir / 'baseline_metrics.json'
    run(['tools/analysis/mean_pose_baseline.py', CONFIG, '--out', baseline_file,
         '--cfg-options', *options])
    baseline_metrics = json.loads(baseline_file.read_text())

    scalars = latest_scalars(work_dir)
    if scalars is not None:
        plot_training_curves(scalars, work_dir / 'training_curves.png')
    pictures = sorted(test_dir.glob('*/predictions/*.jpg')) + \
        sorted(test_dir.glob('*/predictions/*.png'))
    if pictures:
        montage(pictures[:args.num_pictures], work_dir / 'predictions.png')

    print_table(model_metrics, baseline_metrics)
    gain = 1 - model_metrics['mesh/PA-MPJPE'] / baseline_metrics['mesh/PA-MPJPE']
    if gain >= CLEAR_GAIN:
        verdict = f'PA-MPJPE {100 * gain:.0f}% below the mean-pose baseline.'
    elif gain > 0:
        verdict = (f'PA-MPJPE only {100 * gain:.0f}% below the mean-pose baseline (less than '
                   f'{100 * CLEAR_GAIN:.0f}%): not clearly better.')
    else:
        verdict = (f'PA-MPJPE {-100 * gain:.0f}% above the mean-pose baseline: the model has '
                   'not learnt more than the average body from the pixels.')
    print(f'\n{verdict} Wall time {(time.time() - start) / 60:.1f} min.')
    print(f'Pictures: {work_dir}/predictions.png (rendered test predictions), '
          f'{work_dir}/training_curves.png; checkpoint {checkpoint}')
    return 0 if gain >= CLEAR_GAIN else 1


if __name__ == '__main__':
    sys.exit(main())
