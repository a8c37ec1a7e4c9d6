"""Helpers of the projects/ tests (a module of its own: test modules import it by name).

``project_workspace`` is a scratch folder laid out as the project configs expect when run
from the repository root: ``data/synthetic`` (the session's synthetic model files) and
``data/synthetic_dataset`` (4 train and 2 test images of 64 x 64 rendered by
tools/dataset_converters/make_synthetic.py). ``run_project_config`` trains a config through
mmengine's Runner in that folder for one short epoch and returns the validation metrics.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import torch

ROOT = Path(__file__).resolve().parents[2]
# The configs import their project's package as `projects.<name>.<name>` (custom_imports),
# which needs the repository root on sys.path whatever the working directory is.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Training options that keep a run small: batch 2, no worker processes, a log line per
#: iteration, no checkpoint files and no validation inside the training loop.
SMALL_RUN = {
    'train_dataloader.batch_size': 2,
    'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'val_dataloader.batch_size': 2,
    'val_dataloader.num_workers': 0,
    'val_dataloader.persistent_workers': False,
    'test_dataloader.num_workers': 0,
    'test_dataloader.persistent_workers': False,
    'train_cfg.max_epochs': 1,
    'train_cfg.val_begin': 100,
    'default_hooks.logger.interval': 1,
    'default_hooks.checkpoint.interval': 100,
    'default_hooks.checkpoint.save_best': None,
    'default_hooks.checkpoint.save_last': False,
    'log_processor.window_size': 1,
}


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Runs the block with ``path`` as the working directory (config paths are relative)."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_project_config(config: Path, workspace: Path, work_dir: Path,
                       options: Optional[Dict[str, Any]] = None
                       ) -> Tuple[Any, Dict[str, float], Dict[str, Any]]:
    """Trains ``config`` for one epoch (2 iterations of 2 images) and validates it.

    Args:
        config: a project config file.
        workspace: the ``project_workspace`` folder (the configs' relative paths start there).
        work_dir: the runner's work_dir.
        options: further ``--cfg-options`` style overrides.

    Returns:
        The runner (its model trained), the validation metrics and one more batch of each
        dataloader (``{'train': ..., 'val': ...}``, before the data preprocessor).
    """
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(str(config))
    cfg.merge_from_dict(dict(SMALL_RUN, **(options or {})))
    cfg.work_dir = str(work_dir)
    # One thread: the test machines are small and shared, where torch's default thread pool
    # spends most of its time waiting for cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with working_directory(workspace):
            runner = Runner.from_cfg(cfg)
            runner.train()
            metrics = runner.val()
            batches = {'train': next(iter(runner.train_dataloader)),
                       'val': next(iter(runner.val_dataloader))}
    finally:
        torch.set_num_threads(threads)
    return runner, metrics, batches
