"""``AtomicCheckpointHook``: mmengine's CheckpointHook, with saves that a kill cannot break.

Measured with mmengine 0.10.7: ``CheckpointHook`` writes the ``torch.save`` bytes straight to
the final path, and with ``max_keep_ckpts`` it deletes the oldest checkpoint (and, on a new best
score, the previous best) *before* writing the new one; ``last_checkpoint`` is rewritten in
place afterwards. A run that keeps one checkpoint and is killed while saving is left with a
truncated file, no older one, and a ``last_checkpoint`` naming it, so ``--resume`` fails.

This hook keeps everything else of mmengine's (options, file names, the message hub's
``keep_ckpt_ids`` / ``best_ckpt`` / ``best_score``) and changes three things:

1. every file it writes appears in one step: checkpoints go through
   :class:`AtomicLocalBackend` (temporary file in the same folder, fsync, rename; see
   :func:`fastmetro_mm.mesh.atomic_file.atomic_write`), ``last_checkpoint`` likewise;
2. a file is removed only once its successor and ``last_checkpoint`` are in place;
3. a resumed run remembers its latest checkpoint, so that after a new best it saves that
   checkpoint again (with the new best recorded) as the uninterrupted run does.

So at any moment the folder holds a complete checkpoint that ``last_checkpoint`` names, plus at
most a hidden ``.<name>.<random>.tmp`` that the next run's ``before_train`` removes. Checkpoints
on other storage (``out_dir='s3://...'``) are written by their own backend, as before.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterator, List, Optional, Set, Union

import mmengine
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmpose.registry import HOOKS

from ..mesh.atomic_file import atomic_write

#: Name of :class:`AtomicLocalBackend` in mmengine's storage backends (``backend_args``).
ATOMIC_BACKEND = 'fastmetro_atomic_local'
#: What atomic_write leaves behind when its process is killed: ``.<name>.<random>.tmp``.
TEMPORARY_PATTERNS = ('.*.pth.*.tmp', '.last_checkpoint.*.tmp')


# force: re-importing this module (importlib.reload) must not fail on its own name.
@register_backend(ATOMIC_BACKEND, force=True)
class AtomicLocalBackend(LocalBackend):
    """Local storage whose ``put`` / ``put_text`` replace the file in one step."""

    def put(self, obj: bytes, filepath: Union[str, 'os.PathLike[str]']) -> None:
        """Writes ``obj`` to a temporary file beside ``filepath``, then renames it."""
        mmengine.mkdir_or_exist(osp.dirname(osp.abspath(filepath)))
        with atomic_write(filepath, overwrite=True) as stream:
            self.write_stream(stream, obj)

    def put_text(self, obj: str, filepath: Union[str, 'os.PathLike[str]'],
                 encoding: str = 'utf-8') -> None:
        """Writes ``obj`` encoded with ``encoding``, as :meth:`put` does."""
        self.put(obj.encode(encoding), filepath)

    def write_stream(self, stream: BinaryIO, data: bytes) -> None:
        """Writes the bytes into the temporary file (a subclass may throttle or chunk it)."""
        stream.write(data)


class _DeferredRemovals:
    """Stands in for the hook's file backend and records removals instead of doing them."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.paths: List[str] = []

    def remove(self, path: str) -> None:
        self.paths.append(str(path))

    def rmtree(self, path: str) -> None:
        self.paths.append(str(path))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose checkpoints survive a kill at any moment (see module doc).

    Takes exactly mmengine's ``CheckpointHook`` arguments; ``configs/_base_/default_runtime.py``
    uses it as ``default_hooks.checkpoint``.
    """

    def before_train(self, runner) -> None:
        """Resolves the output folder as mmengine does, then switches local writes to atomic."""
        super().before_train(runner)
        # A resumed run knows its latest checkpoint from the message hub: mmengine's hook forgets
        # it, and then does not save the latest checkpoint again after a new best as the
        # uninterrupted run does (that save records the best, to be removed when outdated).
        if self.last_ckpt is None and 'last_ckpt' in runner.message_hub.runtime_info:
            self.last_ckpt = runner.message_hub.get_info('last_ckpt')
        # runner.save_checkpoint picks its storage from these arguments, not from file_backend.
        if self.file_client_args is None and type(self.file_backend) is LocalBackend:
            self.backend_args = dict(backend=ATOMIC_BACKEND)
        elif not isinstance(self.file_backend, LocalBackend):
            runner.logger.info(f'AtomicCheckpointHook: {self.out_dir} is not a local folder; '
                               'its storage backend writes the checkpoints')
        if is_main_process() and isinstance(self.file_backend, LocalBackend):
            self._remove_temporaries(runner)

    def _remove_temporaries(self, runner) -> None:
        """Removes what a run killed while saving left in the output and work folders."""
        found: Set[str] = set()
        for folder in {str(self.out_dir), str(runner.work_dir)}:
            for pattern in TEMPORARY_PATTERNS:
                found.update(glob.glob(osp.join(glob.escape(folder), pattern)))
        for path in sorted(found):
            os.remove(path)
            runner.logger.warning(f'AtomicCheckpointHook: removed {path}, which an earlier '
                                  'run was killed while writing')

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        """mmengine's version with the removal of the outdated checkpoint moved to the end."""
        outdated: Optional[int] = None
        # _save_checkpoint and _save_best_checkpoint may both save the same step.
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            # Before saving, so that the checkpoint lists itself among the kept ones.
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.out_dir, ckpt_filename, self.file_client_args,
                               save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta,
                               by_epoch=self.by_epoch, backend_args=self.backend_args,
                               **self.args)
        # Model parallel-like training gathers sharded states on every rank; one writes files.
        if not is_main_process():
            return
        with atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                          overwrite=True) as stream:
            stream.write(str(self.last_ckpt).encode('utf-8'))
        if outdated is not None:
            self._remove(self.file_backend.join_path(self.out_dir,
                                                     self.filename_tmpl.format(outdated)))

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        """mmengine's version, with the previous best removed after the new one is saved."""
        with self._removals_deferred() as deferred:
            super()._save_best_checkpoint(runner, metrics)
        in_use = {str(self.last_ckpt), str(getattr(self, 'best_ckpt_path', None)),
                  *map(str, getattr(self, 'best_ckpt_path_dict', {}).values())}
        for path in deferred.paths:
            if path not in in_use:  # a best saved again under its own name stays
                self._remove(path)

    @contextmanager
    def _removals_deferred(self) -> Iterator[_DeferredRemovals]:
        """Makes ``self.file_backend.remove`` / ``rmtree`` record the paths, for later."""
        deferred = _DeferredRemovals(self.file_backend)
        self.file_backend = deferred
        try:
            yield deferred
        finally:
            self.file_backend = deferred.backend

    def _remove(self, path: str) -> None:
        """Removes a checkpoint file (or a DeepSpeed checkpoint folder), if it is there."""
        if not is_main_process():
            return
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            self.file_backend.rmtree(path)
