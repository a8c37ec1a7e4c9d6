"""``ResumeStateHook``: the training state mmengine's checkpoints leave out, for exact resume.

What mmengine 0.10.7's ``Runner.resume`` restores: the model, the optimizer (with an AMP loss
scaler), the parameter schedulers, the message hub (logs, best score, kept checkpoints),
``meta['epoch']`` / ``meta['iter']`` into the loop, and the seed (``meta['seed']``, through
``set_randomness``, which *re-seeds* every generator). What it does not:

1. the generators' states (Python ``random``, NumPy, torch CPU / CUDA): a resumed run draws
   augmentations and dropout masks anew from the seed;
2. the position inside an epoch: ``EpochBasedTrainLoop`` restarts the resumed epoch at its
   first batch, so after a checkpoint taken by iteration (``CheckpointHook(by_epoch=False)``)
   the batches already trained in that epoch are trained again and the run takes more
   iterations than ``max_epochs`` epochs have;
3. the sampler's seed when the config has none (it is drawn anew before the checkpoint's seed
   comes back).

This hook writes those into every checkpoint (``checkpoint['resume_state']``) and, when a run
resumes, restores them just before the first resumed batch is loaded: the sampler skips the
samples of the epoch that were trained (see :mod:`fastmetro_mm.engine.sampler_position`), so
the loop's iteration counter and the schedule stay as in an uninterrupted run, and the
generators continue where they stopped. It also gives the train and validation dataloaders
their own generators for the per-epoch base seed torch's DataLoader draws when it starts a
pass, which would otherwise consume one number of the global torch generator at an epoch's
start, before a mid-epoch checkpoint, and again when the resumed run starts the epoch.

Under DDP every rank restores its own generators: mmengine writes a checkpoint from rank 0
only (``Runner.save_checkpoint`` is ``master_only``, and so is the ``before_save_checkpoint``
event), so this hook wraps the runner's ``save_checkpoint``, which every rank calls, to gather
each rank's state first (``all_gather_object``) and stores them as
``resume_state['rng_per_rank']``; ``resume_state['rng']`` stays rank 0's (what a checkpoint
written before held, and what every rank restores from such a checkpoint). A resume with
another number of processes warns and restores rank 0's generators on every rank.

With ``randomness.deterministic=True`` and the per-sample augmentation seeds of
:class:`~fastmetro_mm.engine.SampleSeedHook` (which make the dataloader workers' generators
irrelevant), a run killed and resumed ends with the weights of an uninterrupted run, with or
without dataloader workers (tests/engine/test_exact_resume.py) and under DDP
(tests/engine/test_resume_state_ddp.py). Not covered: ``IterBasedTrainLoop`` (which replays
its dataloader itself; only the generators are restored), and a training dataset without
per-sample seeds loaded by workers (its remaining samples of the resumed epoch are augmented
from restarted worker generators).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Dict, List, Optional

import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpose.registry import HOOKS

from .rng_state import capture_rng_state, restore_rng_state
from .sampler_position import (SkipFirstSamples, loader_batch_size, remove_skip,
                               start_sampler_at)

#: Key of the hook's state in a checkpoint.
CHECKPOINT_KEY = 'resume_state'


@HOOKS.register_module()
class ResumeStateHook(Hook):
    """Saves and restores the RNG states and the train sampler's position (see module doc).

    Add it to ``custom_hooks`` (``configs/_base_/default_runtime.py`` does for every config of
    this project). It takes no arguments.
    """

    # Last among the hooks of an event: the generators are restored after every other
    # before_train_epoch hook and right before the epoch's first batch is loaded.
    priority = 'LOWEST'

    def __init__(self) -> None:
        self._pending: Optional[Dict[str, Any]] = None  # state read from a checkpoint
        self._pending_source = ''
        self._epoch_start_iter = 0  # runner.iter at the first batch of the current epoch
        self._in_train_epoch = False
        self._skip: Optional[SkipFirstSamples] = None
        self._train_generator = torch.Generator()
        self._val_generator = torch.Generator()
        self._rank_states: Optional[List[Dict[str, Any]]] = None  # gathered for one save

    # -- saving ---------------------------------------------------------------------------

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Adds ``checkpoint['resume_state']``: generators, sampler seed / state, position."""
        rank_states, self._rank_states = self._rank_states, None
        if rank_states is None or len(rank_states) != get_world_size():
            rank_states = [capture_rng_state()]  # one process (or saved by other means)
        state: Dict[str, Any] = dict(rng=rank_states[0], rng_per_rank=rank_states,
                                     world_size=get_world_size(), epoch=None, batches=0,
                                     samples=0, batch_size=None)
        loader = runner.train_dataloader
        sampler = loader.sampler
        state['sampler_seed'] = getattr(sampler, 'seed', None)
        state['sampler_state'] = (sampler.state_dict() if hasattr(sampler, 'state_dict')
                                  else None)
        meta_epoch, meta_iter = checkpoint['meta']['epoch'], checkpoint['meta']['iter']
        # A position is only meaningful for a checkpoint written inside a training epoch of an
        # epoch-based loop; mmengine's meta has epoch == runner.epoch there when it was written
        # by iteration (meta epoch is runner.epoch + 1 for an end-of-epoch checkpoint).
        if (self._in_train_epoch and isinstance(runner.train_loop, EpochBasedTrainLoop)
                and meta_epoch == runner.epoch):
            try:
                batch_size = loader_batch_size(loader)
            except ValueError as exc:  # a resume restarts this epoch; training goes on
                runner.logger.warning(f'ResumeStateHook: no position in the epoch saved: {exc}')
            else:
                batches = max(meta_iter - self._epoch_start_iter, 0)
                state.update(epoch=runner.epoch, batches=batches, samples=batches * batch_size,
                             batch_size=batch_size)
        checkpoint[CHECKPOINT_KEY] = state

    # -- loading --------------------------------------------------------------------------

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keeps the checkpoint's state until training resumes (not on a plain load_from)."""
        meta = checkpoint.get('meta', {})
        self._pending_source = (f"checkpoint of epoch {meta.get('epoch')}, iter "
                                f"{meta.get('iter')}")
        # A checkpoint written without this hook is remembered too, to warn on a resume.
        self._pending = dict(checkpoint.get(CHECKPOINT_KEY) or {}, meta_epoch=meta.get('epoch'),
                             meta_iter=meta.get('iter'))

    def _gather_before_saving(self, runner) -> None:
        """Wraps ``runner.save_checkpoint`` to gather every rank's generators first.

        Every rank calls ``save_checkpoint`` (the checkpoint hook decides alike everywhere);
        only rank 0 runs its body and the ``before_save_checkpoint`` event.
        """
        save = runner.save_checkpoint
        if get_world_size() == 1 or getattr(save, '_gathers_rank_rng', False):
            return

        @functools.wraps(save)
        def gather_then_save(*args, **kwargs):
            self._rank_states = all_gather_object(capture_rng_state())
            return save(*args, **kwargs)

        gather_then_save._gathers_rank_rng = True  # type: ignore[attr-defined]
        runner.save_checkpoint = gather_then_save

    def before_train(self, runner) -> None:
        """Gives the dataloaders their own base-seed generators; drops a load_from state."""
        self._gather_before_saving(runner)
        for loader, generator in ((runner.train_dataloader, self._train_generator),
                                  (self._val_loader(runner), self._val_generator)):
            if loader is not None and loader.generator is None:
                loader.generator = generator
        pending = self._pending
        if pending is None:
            return
        if runner.iter != pending['meta_iter'] or runner.epoch != pending['meta_epoch']:
            self._pending = None  # load_from (fine-tuning): weights only, training starts afresh
        elif 'rng' not in pending:
            self._pending = None
            runner.logger.warning(
                f'ResumeStateHook: the {self._pending_source} has no "{CHECKPOINT_KEY}" (written '
                'without this hook): the random generators start from the seed and a partly '
                'trained epoch restarts from its first batch (mmengine\'s own resume)')

    def before_train_epoch(self, runner) -> None:
        """Seeds the base-seed generator; on the first resumed epoch, restores the state."""
        self._train_generator.manual_seed(runner.seed + runner.epoch)
        skipped_batches = 0
        pending, self._pending = self._pending, None
        if pending is not None:
            skipped_batches = self._restore_position(runner, pending)
            restore_rng_state(self._own_rng_state(runner, pending), source=self._pending_source)
            runner.logger.info(
                f'ResumeStateHook: restored the random generators of the '
                f'{self._pending_source}' + (f' and skip the {skipped_batches} batches of epoch '
                                             f'{runner.epoch + 1} trained before it'
                                             if skipped_batches else ''))
        self._epoch_start_iter = runner.iter - skipped_batches
        self._in_train_epoch = True

    def after_train_epoch(self, runner) -> None:
        """Takes a skipping wrapper out of the dataloader after the resumed epoch."""
        self._in_train_epoch = False
        if self._skip is not None:
            remove_skip(runner.train_dataloader, self._skip)
            self._skip = None

    def before_val_epoch(self, runner) -> None:
        """Seeds the validation base-seed generator: every validation starts alike."""
        self._val_generator.manual_seed(runner.seed)

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _val_loader(runner) -> Optional[Any]:
        loop = runner.val_loop
        return None if loop is None else loop.dataloader

    def _own_rng_state(self, runner, pending: Dict[str, Any]) -> Dict[str, Any]:
        """This rank's saved generators; rank 0's for an old or other-sized checkpoint."""
        per_rank = pending.get('rng_per_rank')
        if per_rank is None:  # written before states were gathered per rank
            return pending['rng']
        if len(per_rank) != get_world_size():
            if get_rank() == 0:
                runner.logger.warning(
                    f'ResumeStateHook: the {self._pending_source} holds the random generators '
                    f'of {len(per_rank)} process(es), this run has {get_world_size()}: every '
                    "rank restores rank 0's generators")
            return pending['rng']
        return per_rank[get_rank()]

    def _restore_position(self, runner, pending: Dict[str, Any]) -> int:
        """Puts the sampler at the saved position; returns the batches it skips."""
        loader = runner.train_dataloader
        sampler = loader.sampler
        saved_seed = pending['sampler_seed']
        if saved_seed is not None and getattr(sampler, 'seed', saved_seed) != saved_seed:
            runner.logger.info(f'ResumeStateHook: the train sampler continues with the '
                               f'seed {saved_seed} of the {self._pending_source} (not '
                               f'{sampler.seed})')
            sampler.seed = saved_seed
        mid_epoch = pending['epoch'] is not None and pending['epoch'] == runner.epoch
        start, skipped_batches = 0, 0
        if mid_epoch:
            batch_size = loader_batch_size(loader)
            if (pending['world_size'], pending['batch_size']) == (get_world_size(),
                                                                  batch_size):
                start, skipped_batches = pending['samples'], pending['batches']
            else:
                # A checkpoint written by iteration at an epoch's last batch holds the whole
                # epoch: it is complete on any number of ranks, and is not trained again.
                total = getattr(sampler, 'total', None) or len(loader.dataset)
                complete = pending['samples'] >= math.ceil(total / pending['world_size'])
                runner.logger.warning(
                    f'ResumeStateHook: the {self._pending_source} was written with '
                    f"{pending['world_size']} process(es) x batch {pending['batch_size']}, this "
                    f'run has {get_world_size()} x {batch_size}: its position in the epoch '
                    'does not carry over, ' + (
                        f'but epoch {runner.epoch + 1} was complete: it is not trained again'
                        if complete else 'the epoch restarts from its first batch'))
                if hasattr(sampler, 'load_state_dict'):
                    start = pending['samples']  # the sampler restarts or skips the epoch
                elif complete:
                    start = len(sampler)
        self._skip = start_sampler_at(loader, runner.epoch, start,
                                      pending['sampler_state'])
        return skipped_batches
