"""Test a fastmetro-mm checkpoint with MMEngine's Runner (MMPose's ``tools/test.py`` conventions).

Examples:
    python tools/test.py configs/fastmetro_s_r50_synthetic.py work_dirs/run/epoch_60.pth
    python tools/test.py CONFIG CHECKPOINT --out metrics.json --dump predictions.pkl
    python tools/test.py CONFIG CHECKPOINT --show-dir vis
    python tools/test.py configs/official/fastmetro_l_h64_freihand_release.py CKPT \
        --freihand-submission work_dirs/freihand/pred.zip
    bash tools/dist_test.sh CONFIG CHECKPOINT 4

``--out`` writes the metrics as JSON; ``--dump`` pickles every test sample's predictions and
ground truth (the list of dicts of mmengine's ``DumpResults``) for offline evaluation, each
rank writing its part as it goes and rank 0 merging them one sample at a time.
``--show-dir DIR`` renders every test image's predicted mesh over the image (plus a side
view) with the config's
``MeshLocalVisualizer`` and saves the pictures under ``WORK_DIR/TIMESTAMP/DIR`` (MMPose's
``PoseVisualizationHook`` convention); ``--show`` opens them in a window instead.
``--freihand-submission FILE`` (hand configs) also writes FreiHAND's prediction file for its
evaluation server (docs/evaluation.md).

A checkpoint that does not fit the config's model (another model size, a body checkpoint for a
hand config) is refused, naming the missing, unexpected and reshaped keys, rather than tested
half-loaded (mmengine's ``load_from`` loads whatever matches); ``--allow-partial-load`` loads
the matching part on purpose (``fastmetro_mm.engine.CheckpointMatchHook``).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.runner import Runner

# Configs under projects/ import their packages as `projects.<name>.<package>`, which needs the
# repository root on the path (tools/dist_*.sh also put it on PYTHONPATH).
_REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from fastmetro_mm.engine.checkpoint_match import CheckpointMismatchError  # noqa: E402
from fastmetro_mm.engine.launch import setup_launcher, shutdown_process_group  # noqa: E402
from fastmetro_mm.mesh.atomic_file import atomic_write  # noqa: E402
from fastmetro_mm.mesh.mesh_type import get_mesh_type  # noqa: E402

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments; see the module docstring."""
    parser = argparse.ArgumentParser(description='Test a fastmetro-mm checkpoint')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for the test logs (default: the config\'s '
                        'work_dir, else ./work_dirs/<config name>)')
    parser.add_argument('--out', help='JSON file the metrics are written to')
    parser.add_argument('--dump', help='pickle file (.pkl / .pickle) the per-sample '
                        'predictions are dumped to')
    parser.add_argument('--freihand-submission', metavar='FILE',
                        help="also write FreiHAND's prediction file (.json, or .zip holding "
                        'pred.json) for its evaluation server; a hand config; never replaces '
                        'an existing file')
    parser.add_argument('--show-dir', help='folder, relative to WORK_DIR/TIMESTAMP, where the '
                        'rendered predictions are saved')
    parser.add_argument('--show', action='store_true',
                        help='show the rendered predictions in a window')
    parser.add_argument('--wait-time', type=float, default=1,
                        help='seconds each picture is shown with --show')
    parser.add_argument('--allow-partial-load', action='store_true',
                        help='test a checkpoint that does not fit the model (missing, '
                        'unexpected or reshaped keys) with the matching part loaded and the '
                        'rest as initialised; refused without this flag')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher (pytorch: torchrun)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies the command-line choices to ``cfg`` (in place) and returns it.

    Raises:
        ValueError: ``--dump`` not ending in .pkl / .pickle, or ``--out`` not ending in .json.
    """
    cfg.launcher = args.launcher
    cfg.load_from = args.checkpoint
    # Checks the checkpoint against the model between reading and loading it.
    cfg.custom_hooks = [*cfg.get('custom_hooks', []),
                        dict(type='CheckpointMatchHook',
                             source=f'tools/test.py: checkpoint {args.checkpoint}',
                             allow_partial=args.allow_partial_load)]
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.out is not None and not args.out.endswith('.json'):
        raise ValueError(f'tools/test.py: --out must be a .json file, got {args.out!r}')
    if args.freihand_submission is not None:
        request_freihand_submission(cfg, args.freihand_submission)
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'tools/test.py: --dump must be a .pkl or .pickle file, got '
                             f'{args.dump!r}')
        # Streamed: each rank writes its part, rank 0 merges sample by sample (no gathering
        # of every mesh in memory; fastmetro_mm.engine.StreamedDumpResults).
        dump = dict(type='StreamedDumpResults', out_file_path=args.dump)
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, (list, tuple)):
            cfg.test_evaluator = [*evaluators, dump]
        else:
            cfg.test_evaluator = [evaluators, dump]
    if args.show or args.show_dir is not None:
        enable_visualization(cfg, args.show_dir, args.show, args.wait_time)
    return cfg


def request_freihand_submission(cfg: Config, path: str) -> None:
    """Asks the config's hand ``MeshMetric`` in ``test_evaluator`` to write ``path``.

    Raises:
        ValueError: ``test_evaluator`` has no ``MeshMetric`` with ``mesh_type='hand'``.
    """
    evaluators = cfg.test_evaluator
    metrics = evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]
    hands = [m for m in metrics if m.get('type') == 'MeshMetric'
             and m.get('mesh_type', m.get('mode')) == 'hand']
    if not hands:
        raise ValueError("tools/test.py: --freihand-submission needs a MeshMetric with "
                         "mesh_type='hand' in the config's test_evaluator")
    for metric in hands:
        metric['submission_file'] = path


def enable_visualization(cfg: Config, show_dir: Optional[str], show: bool,
                         wait_time: float) -> None:
    """Switches on the visualization hook and gives a mesh visualizer the model's faces.

    As MMPose's tools/test.py: ``default_hooks.visualization`` (a ``PoseVisualizationHook``)
    is enabled with ``out_dir=show_dir``. A ``MeshLocalVisualizer`` without ``faces`` or
    ``body_model`` gets the head's body model (``model.head.body_model`` with the
    ``model_type`` of ``model.head.mesh_type``), whose triangles it renders.

    Raises:
        KeyError: the config has no ``default_hooks.visualization``.
    """
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise KeyError('tools/test.py: --show / --show-dir need default_hooks.visualization '
                       "(e.g. dict(type='PoseVisualizationHook')) in the config")
    hooks['visualization'].update(enable=True, show=show, wait_time=wait_time,
                                  out_dir=show_dir)
    visualizer = cfg.get('visualizer')
    if (visualizer is not None and visualizer.get('type') == 'MeshLocalVisualizer'
            and visualizer.get('faces') is None and visualizer.get('body_model') is None):
        head = cfg.model.get('head', {})
        if 'body_model' not in head:
            raise KeyError('tools/test.py: MeshLocalVisualizer needs mesh faces: set '
                           'visualizer.body_model (or model.head.body_model)')
        mesh_type = get_mesh_type(head.get('mesh_type', 'body'), 'tools/test.py: model.head')
        visualizer['body_model'] = dict(head['body_model'], model_type=mesh_type.model_type)


def write_metrics(metrics: Dict[str, float], path: str) -> None:
    """Writes ``metrics`` as JSON (numbers as Python floats) to ``path``, atomically."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    text = json.dumps({key: float(value) for key, value in metrics.items()}, indent=2,
                      sort_keys=True)
    # --out names the file to write, so an earlier one is replaced, but never half-written.
    with atomic_write(path, overwrite=True) as stream:
        stream.write(text.encode())


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    """Builds the Runner, tests the checkpoint and returns the metrics."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    merge_args(cfg, args)
    setup_launcher(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    try:
        metrics = runner.test()
    except CheckpointMismatchError as err:
        shutdown_process_group()
        raise SystemExit(str(err)) from None
    if args.out is not None and is_main_process():
        write_metrics(metrics, args.out)
    shutdown_process_group()
    return metrics


if __name__ == '__main__':
    main()
