"""Starting a training sampler's epoch part-way through, for a mid-epoch resume.

mmengine's ``EpochBasedTrainLoop`` restarts a resumed epoch from its first batch: a run killed
after batch k of epoch e and resumed trains batches 1..k of epoch e a second time (and runs
k more iterations than it should in all). The loop iterates the dataloader afresh each epoch,
so the cure is a sampler whose next pass leaves out the indices training has already used.

Two ways, chosen by :func:`start_sampler_at`:

- a sampler with ``load_state_dict`` (such as
  :class:`~fastmetro_mm.datasets.sampling.MixedSourceSampler`) gets its saved state back with
  the epoch and position put in (``state['epoch']``, ``state['start']``,
  ``state['start_epoch']``);
- any other sampler whose order is a function of its seed and epoch (MMEngine's
  ``DefaultSampler``, ``torch``'s ``SequentialSampler``) is wrapped for one pass in
  :class:`SkipFirstSamples`, which the caller puts into the dataloader's batch sampler and
  takes out again after the epoch.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterator, Optional, Sized

from torch.utils.data import Sampler


class SkipFirstSamples(Sampler):
    """Iterates another sampler without its first ``skip`` indices (for one epoch).

    The wrapped sampler computes its whole epoch as usual (same seed, same epoch, same order);
    only the indices before position ``skip`` of this rank's share are dropped. ``len`` is the
    remaining count, so the dataloader's length and the loop's end-of-epoch checks agree with
    the shortened pass.

    Args:
        sampler: the dataloader's sampler (its ``set_epoch`` is still called on it directly).
        skip: number of this rank's indices to leave out, ``>= 0``; more than the epoch holds
            gives an empty pass (the epoch was complete).
    """

    def __init__(self, sampler: Sampler, skip: int) -> None:
        if skip < 0:
            raise ValueError(f'SkipFirstSamples: skip must be >= 0, got {skip}')
        if not isinstance(sampler, Sized):
            raise TypeError(f'SkipFirstSamples: {type(sampler).__name__} has no length, so the '
                            'shortened epoch cannot be sized')
        self.sampler = sampler
        self.skip = int(skip)

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.sampler), self.skip, None)

    def __len__(self) -> int:
        return max(len(self.sampler) - self.skip, 0)

    def set_epoch(self, epoch: int) -> None:
        """Forwards the epoch to the wrapped sampler (if it takes one)."""
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)


def loader_batch_size(loader: Any) -> int:
    """Samples per batch of a dataloader on this rank.

    Args:
        loader: a ``torch.utils.data.DataLoader`` (plain ``batch_size`` or a batch sampler
            with a ``batch_size``).

    Raises:
        ValueError: neither gives a batch size (e.g. a batch sampler of varying sizes).
    """
    size = loader.batch_size
    if size is None:
        size = getattr(loader.batch_sampler, 'batch_size', None)
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f'fastmetro_mm.engine.sampler_position: cannot tell the batch size of '
                         f'the training dataloader (batch_size={loader.batch_size!r}, batch '
                         f'sampler {type(loader.batch_sampler).__name__}); a mid-epoch resume '
                         'needs a fixed number of samples per batch')
    return size


def start_sampler_at(loader: Any, epoch: int, start: int,
                     sampler_state: Optional[dict] = None) -> Optional[SkipFirstSamples]:
    """Makes the loader's next pass over ``epoch`` begin at this rank's sample ``start``.

    Args:
        loader: the training ``DataLoader`` (built without a custom batch-sampler order).
        epoch: the epoch the position belongs to (``start`` is ignored in any other epoch).
        start: samples of this rank already used in ``epoch``.
        sampler_state: for a sampler with ``load_state_dict``, its saved ``state_dict()``.

    Returns:
        The installed :class:`SkipFirstSamples` (to be removed after the epoch with
        :func:`remove_skip`), or None when the sampler took the position itself or there was
        nothing to skip.

    Raises:
        ValueError: a sampler with ``load_state_dict`` but no saved state.
    """
    sampler = loader.sampler
    if hasattr(sampler, 'load_state_dict'):
        if sampler_state is None:
            raise ValueError(f'fastmetro_mm.engine.sampler_position: {type(sampler).__name__} '
                             'has load_state_dict but the checkpoint holds no state for it')
        # The saved epoch is that of the checkpoint; the loop may already be one further.
        sampler.load_state_dict(dict(sampler_state, epoch=epoch, start=start,
                                     start_epoch=epoch))
        return None
    if start == 0:
        return None
    batch_sampler = loader.batch_sampler
    if batch_sampler is None or getattr(batch_sampler, 'sampler', None) is not sampler:
        raise ValueError(f'fastmetro_mm.engine.sampler_position: the training dataloader\'s '
                         f'batch sampler ({type(batch_sampler).__name__}) does not draw from '
                         f'its sampler ({type(sampler).__name__}) directly; give the sampler '
                         'load_state_dict / state_dict to resume it mid-epoch')
    wrapper = SkipFirstSamples(sampler, start)
    batch_sampler.sampler = wrapper
    return wrapper


def remove_skip(loader: Any, wrapper: SkipFirstSamples) -> None:
    """Puts the sampler that :func:`start_sampler_at` wrapped back into the batch sampler."""
    if loader.batch_sampler.sampler is wrapper:
        loader.batch_sampler.sampler = wrapper.sampler
