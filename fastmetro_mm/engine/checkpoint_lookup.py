"""Which checkpoint ``--resume`` continues from when the last run ended badly.

mmengine's auto-resume reads ``<work_dir>/last_checkpoint`` and loads the file it names. A run
killed while saving with mmengine's own ``CheckpointHook`` can leave that name pointing at a
deleted or truncated file, and the resume fails (FileNotFoundError, or an unpickling error deep
in ``torch.load``). :func:`find_resumable_checkpoint` checks the named file and otherwise falls
back to the newest complete checkpoint in the folder. ``AtomicCheckpointHook`` never leaves such
a state behind; this covers work folders written before it, or by another hook.
"""
from __future__ import annotations

import glob
import logging
import os
import os.path as osp
import zipfile
from typing import List, Optional, Tuple

from mmengine.logging import print_log

LAST_CHECKPOINT = 'last_checkpoint'


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole ``torch.save`` archive (not missing, not cut short).

    ``torch.save`` writes a zip archive whose central directory comes last, so a truncated file
    has none; reading the directory is cheap, unlike loading the tensors.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(name == 'data.pkl' or name.endswith('/data.pkl') for name in names)


def _resumable_candidates(folders: List[str]) -> List[str]:
    """Checkpoints in ``folders`` that carry a training state, newest first.

    ``best_*`` checkpoints hold no optimizer state and hidden files are unfinished writes.
    The modification time orders them: a rename keeps the time the writing ended.
    """
    found: List[Tuple[float, str]] = []
    for folder in dict.fromkeys(folders):  # unique, in order
        for path in glob.glob(osp.join(glob.escape(folder), '*.pth')):
            if not osp.basename(path).startswith('best_') and osp.isfile(path):
                found.append((os.stat(path).st_mtime, path))
    return [path for _, path in sorted(found, reverse=True)]


def read_last_checkpoint(work_dir: str) -> str:
    """What ``<work_dir>/last_checkpoint`` names; '' when the file is missing or empty."""
    marker = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(marker):
        return ''
    with open(marker, encoding='utf-8', errors='replace') as file:
        return file.read().strip()


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint an auto-resume in ``work_dir`` should load.

    Args:
        work_dir: the run's work folder, which holds ``last_checkpoint``.

    Returns:
        What ``last_checkpoint`` names when that file is complete; else the newest complete
        checkpoint in the work folder or in the folder ``last_checkpoint`` points into (with a
        warning that says so); else None: there is nothing to resume.
    """
    named = read_last_checkpoint(work_dir)
    if named and is_complete_checkpoint(named):
        return named
    folders = [work_dir] + ([osp.dirname(named)] if osp.dirname(named) else [])
    fallback = next((path for path in _resumable_candidates(folders)
                     if is_complete_checkpoint(path)), None)
    marker = osp.join(work_dir, LAST_CHECKPOINT)
    if named:
        problem = (f'{marker} names {named}, which is '
                   + ('truncated' if osp.isfile(named) else 'missing'))
    else:
        problem = f'{marker} is ' + ('empty' if osp.isfile(marker) else 'missing')
    if fallback is not None:
        print_log(f'{problem} (a run killed while saving?): resuming from {fallback}, the '
                  'newest complete checkpoint there', logger='current', level=logging.WARNING)
    elif named:
        print_log(f'{problem} and no other complete checkpoint is there: training starts '
                  'from the beginning', logger='current', level=logging.WARNING)
    return fallback
