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
7. ``tools/analysis/prediction_figure.py``: ``predictions.png``, a few test images with the
   predicted mesh over each and the predicted and GT meshes side by side, seen from the side;

then it prints the four metrics (MPJPE, PA-MPJPE, MPVPE, PA-MPVPE) of the model and of the
baseline and the model's gain on each, and draws ``training_curves.png`` (the loss terms per
iteration and the four metrics on the test set after every epoch, from mmengine's
``LocalVisBackend`` scalars). It exits with 0 when the model beats the baseline by at least 20%
on each of the four metrics, else 1. The body model, the dataset and the checkpoints are reused
when they exist, never overwritten: delete them to start again; the metrics and the two
pictures are the run's report and are written anew each time.

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
from typing import Dict, List, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))
CONFIG = REPO_ROOT / 'configs' / 'quickstart' / 'fastmetro_s_r18_synthetic_quickstart.py'
WARMUP_CONFIG = REPO_ROOT / 'configs' / 'quickstart' / 'r18_joint_regression_synthetic_warmup.py'
#: How the quickstart's people look and move: clothes-like part colours, plain backgrounds, and
#: one of a few random poses each (jittered), so that minutes of CPU training from random
#: weights can learn them (see docs/quickstart_experiments.md).
DATASET_OPTIONS = ('--part-colours', '--backgrounds', 'solid', 'gradient',
                   '--prototype-jitter', '0.05')
#: The quickstart succeeds when each reported metric of the model is at least this much below
#: the baseline's (gain = 1 - model / baseline): a model that beat the average body on the
#: aligned joints alone could still place, scale or shape the mesh no better than it.
CLEAR_GAIN = 0.20
#: The metrics the quickstart reports and gates on, in MeshMetric's names (millimetres).
REPORTED = ('mesh/MPJPE', 'mesh/PA-MPJPE', 'mesh/MPVPE', 'mesh/PA-MPVPE')


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


def plot_training_curves(scalars_file: Path, out_file: Path) -> List[int]:
    """Draws the training loss terms per iteration and the validation metrics per epoch.

    Args:
        scalars_file: mmengine ``LocalVisBackend`` output (one JSON record per line).
        out_file: PNG to write (replaced: it is this run's report).

    Returns:
        The epochs after which the metrics were plotted (one point each).
    """
    import io

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from fastmetro_mm.mesh.atomic_file import atomic_write

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
            right.plot(*zip(*points), marker='o', label=key.split('/')[-1])
    right.set(xlabel='epoch', ylabel='mm (lower is better)',
              title='validation after each epoch (synthetic test set)')
    right.xaxis.get_major_locator().set_params(integer=True)
    if val:
        right.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=100)
    plt.close(figure)
    with atomic_write(out_file, overwrite=True) as stream:
        stream.write(buffer.getvalue())
    return [int(r['step']) for r in val]


def gains(model: Dict[str, float], baseline: Dict[str, float]) -> Dict[str, float]:
    """The model's relative gain over the baseline per reported metric, 1 - model / baseline
    (0.25: a quarter below the baseline; negative: worse than it)."""
    return {key: 1 - model[key] / baseline[key] for key in REPORTED}


def print_table(model: Dict[str, float], baseline: Dict[str, float]) -> None:
    """The model's and the baseline's metrics side by side, and the model's gain on each."""
    names = [name.split('/')[-1] for name in REPORTED]
    print('\n' + ' ' * 24 + ''.join(f'{name:>12}' for name in names) + '   (mm, lower is better)')
    for label, metrics in (('FastMETRO-S (trained)', model), ('mean-pose baseline', baseline)):
        print(f'{label:<24}' + ''.join(f'{metrics[key]:12.1f}' for key in REPORTED))
    print(f'{"gain over the baseline":<24}' +
          ''.join(f'{100 * gain:11.0f}%' for gain in gains(model, baseline).values()) +
          f'   (1 - model / baseline; needed: {100 * CLEAR_GAIN:.0f}% on each)')


def verdict(model: Dict[str, float], baseline: Dict[str, float]) -> Tuple[bool, str]:
    """Whether the model beats the baseline by :data:`CLEAR_GAIN` on every reported metric,
    and a sentence naming the metrics that pass and those that fail."""
    # Rounded, so that a model exactly 20% below passes whatever the float error of the ratio.
    gain = {key: round(value, 9) for key, value in gains(model, baseline).items()}
    passed = [key.split('/')[-1] for key in REPORTED if gain[key] >= CLEAR_GAIN]
    failed = [f'{key.split("/")[-1]} ({100 * gain[key]:.0f}%)' for key in REPORTED
              if gain[key] < CLEAR_GAIN]
    need = f'{100 * CLEAR_GAIN:.0f}%'
    if not failed:
        return True, (f'PASS: the model beats the mean-pose baseline by at least {need} on all '
                      f'four metrics ({", ".join(passed)}).')
    text = f'FAIL: less than {need} below the mean-pose baseline on {", ".join(failed)}'
    if passed:
        text += f'; at least {need} below it on {", ".join(passed)}'
    return False, text + '.'


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
    parser.add_argument('--num-pictures', type=int, default=6,
                        help='test images shown in predictions.png, one row each')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the quickstart; returns 0 when the model beats the mean-pose baseline by at least
    :data:`CLEAR_GAIN` on each of the :data:`REPORTED` metrics, else 1."""
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
        # A validation pass after every epoch (the 200 test images take ~8 s on 2 cores), so
        # that training_curves.png shows how the metrics move.
        'train_cfg.val_interval=1',
        f'param_scheduler.0.T_max={max_epochs}',  # the cosine schedule spans the whole run
    ]
    warmup_options = [
        f'train_dataloader.dataset.data_root={data_dir}',
        f'train_cfg.max_epochs={warmup_epochs}',
        f'train_cfg.val_interval={warmup_epochs + 1}',
        f'default_hooks.checkpoint.interval={warmup_epochs}',
    ]

    step(f'1/7 synthetic body model -> {model_dir}')
    if (model_dir / 'SMPL_NEUTRAL.pkl').is_file() and \
            (model_dir / 'synthetic_downsampling.npz').is_file():
        print('exists, reused')
    else:
        run(['tools/make_synthetic_models.py', '--out-dir', model_dir])

    step(f'2/7 rendered dataset ({args.num_train} train + {args.num_test} test) -> {data_dir}')
    if (data_dir / 'synthetic_train.npz').is_file():
        print('exists, reused (delete the folder to render again)')
    else:
        run(['tools/dataset_converters/make_synthetic.py', '--model-dir', model_dir,
             '--out-dir', data_dir, '--num-train', args.num_train, '--num-test',
             args.num_test, '--max-yaw', args.max_yaw, '--pose-prototypes',
             args.pose_prototypes, *DATASET_OPTIONS])

    step(f'3/7 backbone warm-up ({WARMUP_CONFIG.relative_to(REPO_ROOT)}, {warmup_epochs} '
         f'epochs) -> {warmup_dir}')
    warmup = train_once(WARMUP_CONFIG, warmup_dir, warmup_epochs, warmup_options)
    if warmup is None:
        return 1
    options.append(f'model.backbone.init_cfg.checkpoint={warmup}')

    step(f'4/7 training FastMETRO-S ({CONFIG.relative_to(REPO_ROOT)}, {max_epochs} epochs) '
         f'-> {work_dir}')
    checkpoint = train_once(CONFIG, work_dir, max_epochs, options)
    if checkpoint is None:
        return 1

    step('5/7 testing the trained model, rendering its predictions')
    test_dir = work_dir / 'test'
    metrics_file = work_dir / 'test_metrics.json'
    run(['tools/test.py', CONFIG, checkpoint, '--work-dir', test_dir, '--out', metrics_file,
         '--show-dir', 'predictions', '--cfg-options', *options])
    model_metrics = json.loads(metrics_file.read_text())

    step('6/7 the constant mean-pose baseline on the same test set')
    baseline_file = work_dir / 'baseline_metrics.json'
    run(['tools/analysis/mean_pose_baseline.py', CONFIG, '--out', baseline_file,
         '--cfg-options', *options])
    baseline_metrics = json.loads(baseline_file.read_text())

    step(f'7/7 test predictions beside the ground truth -> {work_dir}/predictions.png')
    figure = work_dir / 'predictions.png'
    run(['tools/analysis/prediction_figure.py', CONFIG, checkpoint, '--out', figure,
         '--num-images', args.num_pictures, '--overwrite', '--cfg-options', *options])
    scalars = latest_scalars(work_dir)
    if scalars is not None:
        epochs = plot_training_curves(scalars, work_dir / 'training_curves.png')
        print(f'training_curves.png: the {len(REPORTED)} metrics after epochs '
              f'{", ".join(map(str, epochs)) or "(none)"}')

    print_table(model_metrics, baseline_metrics)
    passed, text = verdict(model_metrics, baseline_metrics)
    print(f'\n{text} Wall time {(time.time() - start) / 60:.1f} min.')
    print(f'Pictures: {figure} (test images, predicted and GT meshes), '
          f'{work_dir}/training_curves.png; checkpoint {checkpoint}')
    return 0 if passed else 1


if __name__ == '__main__':
    sys.exit(main())
