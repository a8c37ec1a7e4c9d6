"""`make quickstart-hand`: the whole pipeline on the licence-free synthetic hand, on CPU.

The hand sibling of ``tools/quickstart.py`` (the body's), through the same tools a user runs on
FreiHAND:

1. ``tools/make_synthetic_models.py --only mano``: the synthetic MANO-format right hand and its
   mesh hierarchy (``data/synthetic``);
2. ``tools/dataset_converters/make_synthetic.py --hand``: rendered training and held-out test
   images in FreiHAND's release layout (``data/synthetic_hand_quickstart``);
3. ``tools/train.py``: the backbone warm-up (a ResNet-18 with a plain wrist-relative joint
   regressor, from random weights; it stands in for ImageNet weights);
4. ``tools/train.py``: FastMETRO-S (configs/quickstart/) on the warmed-up backbone;
5. ``tools/test.py --show-dir``: the test set scored with FreiHAND's protocol, predictions
   rendered over the images;
6. ``tools/analysis/mean_pose_baseline.py``: the constant mean hand (mean articulation and
   shape of the training set) on the same test set and metric;
7. ``tools/analysis/prediction_figure.py``: ``predictions.png``, a few test images with the
   predicted mesh over each and the predicted and GT meshes side by side, seen from the side;

then it prints PA-MPJPE, PA-MPVPE, F@5mm and F@15mm of the model and of the baseline, and draws
``training_curves.png``. It exits with 0 when the model is at least 20% below the baseline on
both errors (1 - model / baseline >= 0.2) and above it on both F-scores, else 1. The hand
model, the dataset and the checkpoints are reused when they exist, never overwritten: delete
them to start again; the metrics and the two pictures are the run's report and are written
anew each time.

Usage:
    python tools/quickstart_hand.py [--work-dir work_dirs/quickstart_hand] [--num-train 1500]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

# The body quickstart's steps (running a tool, training once, the training curves) serve the
# hand unchanged; only the data, the configs and the report differ.
from quickstart import (REPO_ROOT, latest_scalars, plot_training_curves, run, step,
                        train_once)

CONFIG = REPO_ROOT / 'configs' / 'quickstart' / 'fastmetro_s_r18_synthetic_hand_quickstart.py'
WARMUP_CONFIG = (REPO_ROOT / 'configs' / 'quickstart' /
                 'r18_joint_regression_synthetic_hand_warmup.py')
#: How the quickstart's hands look: plain backgrounds, and (see --pose-prototypes,
#: --max-hand-rotation) a few hand shapes turned within limits, so that minutes of CPU
#: training from random weights can learn them (docs/quickstart_experiments.md).
DATASET_OPTIONS = ('--backgrounds', 'solid', 'gradient', '--prototype-jitter', '0.05')
#: Each error of the model must be at least this much below the baseline's
#: (gain = 1 - model / baseline).
CLEAR_GAIN = 0.20
#: FreiHAND's Procrustes-aligned errors (mm, lower is better) and F-scores (fractions of the
#: vertices within 5 / 15 mm after alignment, higher is better), in MeshMetric's names.
ERRORS = ('mesh/PA-MPJPE', 'mesh/PA-MPVPE')
F_SCORES = ('mesh/F@5mm', 'mesh/F@15mm')
REPORTED = ERRORS + F_SCORES


def name_of(key: str) -> str:
    """'mesh/PA-MPJPE' -> 'PA-MPJPE'."""
    return key.split('/')[-1]


def gains(model: Dict[str, float], baseline: Dict[str, float]) -> Dict[str, float]:
    """1 - model / baseline per error (0.25: a quarter below the baseline)."""
    return {key: 1 - model[key] / baseline[key] for key in ERRORS}


def print_table(model: Dict[str, float], baseline: Dict[str, float]) -> None:
    """The model's and the baseline's metrics side by side, and the model's gain on each."""
    print('\n' + ' ' * 24 + ''.join(f'{name_of(key):>12}' for key in REPORTED) +
          '   (mm lower is better; F: fraction of vertices, higher is better)')
    for label, metrics in (('FastMETRO-S (trained)', model), ('mean-hand baseline', baseline)):
        print(f'{label:<24}' + ''.join(f'{metrics[key]:12.1f}' for key in ERRORS) +
              ''.join(f'{metrics[key]:12.3f}' for key in F_SCORES))
    print(f'{"gain over the baseline":<24}' +
          ''.join(f'{100 * gain:11.0f}%' for gain in gains(model, baseline).values()) +
          ''.join(f'{model[key] - baseline[key]:+12.3f}' for key in F_SCORES) +
          f'   (errors: 1 - model / baseline, needed {100 * CLEAR_GAIN:.0f}%; '
          'F: model - baseline, needed > 0)')


def verdict(model: Dict[str, float], baseline: Dict[str, float]) -> Tuple[bool, str]:
    """Whether the model beats the baseline by :data:`CLEAR_GAIN` on both errors and has the
    higher F-scores, and a sentence naming the metrics that pass and those that fail."""
    # Rounded, so that a model exactly 20% below passes whatever the float error of the ratio.
    gain = {key: round(value, 9) for key, value in gains(model, baseline).items()}
    passed = [name_of(key) for key in ERRORS if gain[key] >= CLEAR_GAIN]
    failed = [f'{name_of(key)} ({100 * gain[key]:.0f}% below)' for key in ERRORS
              if gain[key] < CLEAR_GAIN]
    for key in F_SCORES:
        if model[key] > baseline[key]:
            passed.append(name_of(key))
        else:
            failed.append(f'{name_of(key)} ({model[key]:.3f} <= {baseline[key]:.3f})')
    need = f'{100 * CLEAR_GAIN:.0f}%'
    if not failed:
        return True, (f'PASS: the model is at least {need} below the mean-hand baseline on '
                      f'both errors and above it on both F-scores ({", ".join(passed)}).')
    text = f'FAIL: {", ".join(failed)}'
    if passed:
        text += f'; passed: {", ".join(passed)}'
    return False, text + (f' (needed: errors at least {need} below the mean-hand baseline, '
                          'F-scores above it).')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/quickstart_hand')
    parser.add_argument('--model-dir', default='data/synthetic')
    parser.add_argument('--data-dir', default='data/synthetic_hand_quickstart')
    parser.add_argument('--num-train', type=int, default=1500)
    parser.add_argument('--num-test', type=int, default=200)
    parser.add_argument('--max-hand-rotation', type=float, default=20.0,
                        help='hands turn up to this many degrees away from palm to the '
                        'camera, fingers up (180: any orientation)')
    parser.add_argument('--pose-prototypes', type=int, default=6,
                        help='hands take one of this many random articulations, jittered (0: '
                        'independent finger curls)')
    parser.add_argument('--max-epochs', type=int, default=None,
                        help="override the FastMETRO config's number of epochs")
    parser.add_argument('--warmup-epochs', type=int, default=None,
                        help="override the warm-up config's number of epochs")
    parser.add_argument('--num-pictures', type=int, default=6,
                        help='test images shown in predictions.png, one row each')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the hand quickstart; returns 0 when the model passes :func:`verdict`, else 1."""
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
    mano = model_dir / 'MANO_RIGHT.pkl'
    hierarchy = model_dir / 'synthetic_mano_downsampling.npz'
    # The config's paths are variables of its bases, already resolved: each use is redirected.
    options = [
        f'model.head.hierarchy_file={hierarchy}',
        f'model.head.body_model.model_path={mano}',
        f'train_dataloader.dataset.data_root={data_dir}',
        f'val_dataloader.dataset.data_root={data_dir}',
        f'test_dataloader.dataset.data_root={data_dir}',
        f'val_evaluator.body_model.model_path={mano}',
        f'test_evaluator.body_model.model_path={mano}',
        f'train_cfg.max_epochs={max_epochs}',
        'train_cfg.val_interval=1',  # a point per epoch in training_curves.png
        f'param_scheduler.0.T_max={max_epochs}',  # the cosine schedule spans the whole run
    ]
    warmup_options = [
        f'train_dataloader.dataset.data_root={data_dir}',
        f'train_cfg.max_epochs={warmup_epochs}',
        f'train_cfg.val_interval={warmup_epochs + 1}',
        f'default_hooks.checkpoint.interval={warmup_epochs}',
    ]

    step(f'1/7 synthetic hand model -> {model_dir}')
    if mano.is_file() and hierarchy.is_file():
        print('exists, reused')
    else:
        run(['tools/make_synthetic_models.py', '--out-dir', model_dir, '--only', 'mano'])

    step(f'2/7 rendered hands ({args.num_train} train + {args.num_test} test) -> {data_dir}')
    if (data_dir / 'training_mano.json').is_file():
        print('exists, reused (delete the folder to render again)')
    else:
        run(['tools/dataset_converters/make_synthetic.py', '--hand', '--model-dir', model_dir,
             '--out-dir', data_dir, '--num-train', args.num_train, '--num-test',
             args.num_test, '--max-hand-rotation', args.max_hand_rotation,
             '--pose-prototypes', args.pose_prototypes, *DATASET_OPTIONS])

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

    step('5/7 testing the trained model (FreiHAND protocol), rendering its predictions')
    metrics_file = work_dir / 'test_metrics.json'
    run(['tools/test.py', CONFIG, checkpoint, '--work-dir', work_dir / 'test', '--out',
         metrics_file, '--show-dir', 'predictions', '--cfg-options', *options])
    model_metrics = json.loads(metrics_file.read_text())

    step('6/7 the constant mean-hand baseline on the same test set')
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
        print(f'training_curves.png: the metrics after epochs '
              f'{", ".join(map(str, epochs)) or "(none)"}')

    print_table(model_metrics, baseline_metrics)
    passed, text = verdict(model_metrics, baseline_metrics)
    print(f'\n{text} Wall time {(time.time() - start) / 60:.1f} min.')
    print(f'Pictures: {figure} (test images, predicted and GT meshes), '
          f'{work_dir}/training_curves.png; checkpoint {checkpoint}')
    return 0 if passed else 1


if __name__ == '__main__':
    sys.exit(main())
