"""Train a fastmetro-mm model with MMEngine's Runner (MMPose's ``tools/train.py`` conventions).

Examples:
    python tools/train.py configs/fastmetro_s_r50_synthetic.py
    python tools/train.py CONFIG --work-dir work_dirs/run --resume   # latest complete checkpoint
    python tools/train.py CONFIG --resume work_dirs/run/epoch_10.pth --amp
    bash tools/dist_train.sh CONFIG 4 [--auto-scale-lr ...]                     # torchrun, 4 GPUs

The configs' learning rate is the recipe's for 64 images per step (16 per GPU on 4 GPUs). On
another number of GPUs the run warns (RECIPE MISMATCH) unless ``--auto-scale-lr`` is given;
see docs/multi_gpu.md.

Distributed runs without GPUs (``--launcher pytorch`` under torchrun on a CPU-only machine) use
a gloo process group and CPU DDP; see :mod:`fastmetro_mm.engine.launch`.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.dist import get_world_size
from mmengine.runner import Runner

# Configs under projects/ import their packages as `projects.<name>.<package>`, which needs the
# repository root on the path (tools/dist_*.sh also put it on PYTHONPATH).
_REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from fastmetro_mm.engine.checkpoint_lookup import (find_resumable_checkpoint,  # noqa: E402
                                                  read_last_checkpoint)
from fastmetro_mm.engine.launch import setup_launcher, shutdown_process_group  # noqa: E402

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
#: First fp16 loss scale of ``--amp`` (GradScaler's default 2**16 overflows FastMETRO's loss).
AMP_INIT_SCALE = 2.0**8


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments; see the module docstring."""
    parser = argparse.ArgumentParser(description='Train a fastmetro-mm model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints (default: the '
                        "config's work_dir, else ./work_dirs/<config name>)")
    parser.add_argument('--resume', nargs='?', type=str, const='auto', default=None,
                        help='resume from this checkpoint; without a path, from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='fp16 automatic mixed precision (AmpOptimWrapper, dynamic loss '
                        'scale from 2**8)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the actual total batch size over '
                        'auto_scale_lr.base_batch_size')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value (e.g. '
                        'train_dataloader.batch_size=4 model.head.network.model_size=M)')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher (pytorch: torchrun)')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies the command-line choices to ``cfg`` (in place) and returns it.

    Raises:
        ValueError: ``--auto-scale-lr`` without ``auto_scale_lr.base_batch_size`` in the config,
            or ``--amp`` with an optimizer wrapper that is not an OptimWrapper.
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper_type not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'tools/train.py: --amp needs optim_wrapper.type OptimWrapper, '
                             f'the config ({args.config}) has {wrapper_type!r}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        # Dynamic scaling from 2**8, not GradScaler's 2**16: with loss weights of 100 to
        # 1000 the fp16 gradients overflow at scales of 2**9 and above (docs/
        # mixed_precision.md), and every overflow skips a step. LossScaleMonitorHook logs them.
        cfg.optim_wrapper.setdefault('loss_scale', dict(init_scale=AMP_INIT_SCALE))

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError(f'tools/train.py: --auto-scale-lr needs auto_scale_lr.'
                             f'base_batch_size in the config ({args.config})')
        cfg.auto_scale_lr.enable = True
    return cfg


def recipe_batch_mismatch(cfg: Config, world_size: int) -> Optional[str]:
    """A warning when the total batch is not the recipe's and the lr is not rescaled.

    The configs' learning rate belongs to ``auto_scale_lr.base_batch_size`` images per
    step (the released 16 per GPU x 4 GPUs = 64); ``dist_train.sh CONFIG 8`` trains on
    8 x 16 = 128 at that rate unless ``--auto-scale-lr`` (linear scaling) is given or the
    per-GPU batch is lowered. mmengine says nothing, so this names the numbers and the two
    ways to match the recipe.

    Args:
        cfg: the merged config.
        world_size: the number of training processes.

    Returns:
        The warning text, or None when the batches agree, auto scaling is on, or the config
        names no base batch size.
    """
    base = cfg.get('auto_scale_lr', {}).get('base_batch_size')
    if base is None or cfg.auto_scale_lr.get('enable', False):
        return None
    per_gpu = cfg.train_dataloader.batch_size
    total = world_size * per_gpu
    if total == base:
        return None
    advice = (f'train_dataloader.batch_size={base // world_size}'
              if base % world_size == 0 else 'a per-process batch that multiplies to it')
    return (f'tools/train.py: RECIPE MISMATCH: {world_size} process(es) x batch {per_gpu} = '
            f'{total} images per step, but the learning rate of this config is for '
            f'auto_scale_lr.base_batch_size = {base}; it is NOT rescaled. To follow the '
            f'recipe, pass --auto-scale-lr (lr x {total}/{base}, linear scaling) or '
            f'--cfg-options {advice} (the recipe\'s total batch at its lr).')


def resolve_auto_resume(cfg: Config) -> Config:
    """Makes an auto-resume (``resume=True`` without ``load_from``) survive a broken save.

    When ``<work_dir>/last_checkpoint`` names a missing or truncated file (a run killed while
    mmengine's CheckpointHook saved), ``load_from`` becomes the newest complete checkpoint
    there; with none, the run starts afresh instead of failing. A sound ``last_checkpoint`` is
    left to mmengine's own auto-resume. See :mod:`fastmetro_mm.engine.checkpoint_lookup`.
    """
    if not cfg.get('resume') or cfg.get('load_from') is not None:
        return cfg
    found = find_resumable_checkpoint(cfg.work_dir)
    if found is None:
        cfg.resume = False  # mmengine would try to load what last_checkpoint names
    elif found != read_last_checkpoint(cfg.work_dir):
        cfg.load_from = found
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    """Builds the Runner from the config and trains."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    merge_args(cfg, args)
    resolve_auto_resume(cfg)
    # Before the Runner: on CPU-only machines the process group must exist already (gloo).
    setup_launcher(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    mismatch = recipe_batch_mismatch(cfg, get_world_size())
    if mismatch is not None:
        runner.logger.warning(mismatch)
    runner.train()
    shutdown_process_group()


if __name__ == '__main__':
    main()
