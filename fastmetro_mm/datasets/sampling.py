"""``MixedSourceSampler``: per-source sampling ratios over MMPose's ``CombinedDataset``.

MMPose 1.3.2's ``CombinedDataset(sample_ratio_factor=...)`` rescales each source's length, but
picks the sample inside a source with ``np.random.rand()`` at fetch time, in whichever
dataloader worker gets the index: the draw depends on the worker's NumPy state (seeded only
when the runner has a seed, and differently per ``num_workers`` and rank), so the epoch's
samples change with the number of workers and are not reproducible without a seed.

This sampler draws all indices up front from a ``torch.Generator`` seeded with
``seed + epoch``, as MMEngine's ``DefaultSampler`` does: the same seed gives the same samples
for any number of workers, and every rank computes the same epoch and takes its own slice.
Use it with a ``CombinedDataset`` *without* ``sample_ratio_factor``::

    train_dataloader = dict(
        sampler=dict(type='MixedSourceSampler', ratios=[0.3, 0.2, 0.2, 0.2, 0.1]),
        dataset=dict(type='CombinedDataset', datasets=[...], metainfo=..., pipeline=[...]))

Each epoch holds ``num_samples`` indices (default: the combined length), of which a fraction
``ratio_i / sum(ratios)`` comes from source i, drawn without replacement within the source
(whole shuffled passes, then part of one more), then shuffled together.

``state_dict()`` / ``load_state_dict()`` carry the seed, the epoch and a start position, so a
run resumed from a mid-epoch checkpoint continues the same epoch's order at the sample it
stopped at (:class:`fastmetro_mm.engine.ResumeStateHook` saves and restores them). Resumed on
another number of GPUs, the seed and epoch carry over and a partly trained epoch restarts.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Dict, Iterator, List, Optional, Sequence, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import print_log
from mmpose.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


def split_counts(total: int, ratios: Sequence[float]) -> List[int]:
    """Splits ``total`` into integer counts proportional to ``ratios`` (largest remainder).

    Args:
        total: number to split.
        ratios: non-negative weights, not all zero.

    Returns:
        Counts summing to ``total``.
    """
    weights = [float(r) for r in ratios]
    if not weights or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f'MixedSourceSampler: ratios must be non-negative and not all zero, '
                         f'got {list(ratios)}')
    exact = [total * w / sum(weights) for w in weights]
    counts = [int(math.floor(e)) for e in exact]
    # Ties go to the earlier source, so the split is deterministic.
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[:total - sum(counts)]:
        counts[i] += 1
    return counts


@DATA_SAMPLERS.register_module()
class MixedSourceSampler(Sampler):
    """Samples a ``CombinedDataset``'s sources in fixed ratios, reproducibly under a seed.

    Args:
        dataset: a ``CombinedDataset`` (anything with ``lens``, the per-source lengths, and
            no resampling of its own).
        ratios: one non-negative weight per source.
        num_samples: indices per epoch over all ranks (default: ``len(dataset)``).
        shuffle: shuffle the mixed indices (sources are still drawn at random when False;
            only their interleaving is fixed).
        seed: random seed; None draws one and syncs it across ranks.
        round_up: pad the epoch so that every rank gets the same count.
    """

    def __init__(self,
                 dataset: Sized,
                 ratios: Sequence[float],
                 num_samples: Optional[int] = None,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        lens = getattr(dataset, 'lens', None)
        if lens is None:
            raise TypeError(f'MixedSourceSampler: the dataset must be a CombinedDataset (with '
                            f'per-source "lens"), got {type(dataset).__name__}')
        if getattr(dataset, 'resample', False):
            raise ValueError('MixedSourceSampler: the CombinedDataset already resamples '
                             '(sample_ratio_factor is set); use one or the other')
        if len(ratios) != len(lens):
            raise ValueError(f'MixedSourceSampler: {len(ratios)} ratios for {len(lens)} '
                             'sources')
        for i, (ratio, length) in enumerate(zip(ratios, lens)):
            if ratio > 0 and length == 0:
                raise ValueError(f'MixedSourceSampler: source {i} is empty but has ratio '
                                 f'{ratio}')
        self.dataset = dataset
        self.lens = [int(n) for n in lens]
        self.ratios = [float(r) for r in ratios]
        self.total = int(len(dataset) if num_samples is None else num_samples)
        if self.total <= 0:
            raise ValueError(f'MixedSourceSampler: num_samples must be positive, got '
                             f'{self.total}')
        self.counts = split_counts(self.total, self.ratios)
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.round_up = round_up
        self.epoch = 0
        # Samples of this rank to leave out of the pass over epoch `start_epoch` (mid-epoch
        # resume); spent by that pass.
        self.start = 0
        self.start_epoch = 0
        self.set_world(*get_dist_info())

    def set_world(self, rank: int, world_size: int) -> None:
        """Sets this process's rank and the number of ranks (done from MMEngine's dist info
        at construction; callable to inspect another rank's share)."""
        if not 0 <= rank < world_size:
            raise ValueError(f'MixedSourceSampler: rank {rank} outside [0, {world_size})')
        self.rank = rank
        self.world_size = world_size
        if self.round_up:
            self.num_samples = math.ceil(self.total / world_size)
        else:
            self.num_samples = math.ceil((self.total - rank) / world_size)
        self.padded_total = self.num_samples * world_size if self.round_up else self.total

    def epoch_indices(self) -> List[int]:
        """All ``num_samples`` global indices of the current epoch (every rank's)."""
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        chunks = []
        offset = 0
        for length, count in zip(self.lens, self.counts):
            passes = [torch.randperm(length, generator=generator)
                      for _ in range(math.ceil(count / length))] if count else []
            if passes:
                chunks.append(torch.cat(passes)[:count] + offset)
            offset += length
        indices = torch.cat(chunks)
        if self.shuffle:
            indices = indices[torch.randperm(len(indices), generator=generator)]
        return indices.tolist()

    def _pending_start(self) -> int:
        """Samples to skip in the next pass: the resume position, in its own epoch only."""
        return min(self.start, self.num_samples) if self.start_epoch == self.epoch else 0

    def __iter__(self) -> Iterator[int]:
        indices = self.epoch_indices()
        if self.round_up:
            indices = (indices * math.ceil(self.padded_total / len(indices)))[:self.padded_total]
        start = self._pending_start()
        if self.start_epoch == self.epoch:
            self.start = 0  # one pass only: a later pass over any epoch starts at its beginning
        return iter(indices[self.rank:self.padded_total:self.world_size][start:])

    def __len__(self) -> int:
        return self.num_samples - self._pending_start()

    def state_dict(self) -> Dict[str, Any]:
        """What fixes this sampler's order and position (plain ints and lists).

        ``start`` / ``start_epoch`` are where the next pass would begin. When dataloader
        workers prefetch, the sampler runs ahead of training, so whoever saves a mid-epoch
        checkpoint overrides ``start`` with the samples training has actually used.
        """
        return dict(seed=self.seed, epoch=self.epoch, start=self.start,
                    start_epoch=self.start_epoch, total=self.total, counts=list(self.counts),
                    lens=list(self.lens), world_size=self.world_size)

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores the seed, epoch and start position of :meth:`state_dict`.

        A state saved with another number of ranks (resuming on more or fewer GPUs) restores
        the seed and the epoch but not the position: the ranks' shares of the epoch differ,
        so the epoch restarts from its first sample, as MMEngine's ``DefaultSampler`` (which
        keeps only its seed) does, with a warning naming both world sizes; a position at the
        end of the saved ranks' shares (the epoch was complete) leaves the epoch out.

        Raises:
            KeyError: a key of :meth:`state_dict` is missing.
            ValueError: the saved sampler drew from other source sizes or counts, so its
                epochs hold other samples here.
        """
        missing = [k for k in self.state_dict() if k not in state]
        if missing:
            raise KeyError(f'MixedSourceSampler.load_state_dict: missing {missing}')
        mine = dict(total=self.total, counts=list(self.counts), lens=list(self.lens))
        saved = {key: (list(state[key]) if isinstance(mine[key], list) else state[key])
                 for key in mine}
        if saved != mine:
            raise ValueError(f'MixedSourceSampler.load_state_dict: the saved sampler had '
                             f'{saved}, this one has {mine}; its epoch order and position do '
                             'not carry over')
        if int(state['start']) < 0:
            raise ValueError(f'MixedSourceSampler.load_state_dict: start must be >= 0, got '
                             f'{state["start"]}')
        self.seed = int(state['seed'])
        self.epoch = int(state['epoch'])
        self.start = int(state['start'])
        self.start_epoch = int(state['start_epoch'])
        saved_world = int(state['world_size'])
        if saved_world != self.world_size:
            # The saved ranks' position covers the whole epoch (a checkpoint at its last
            # batch): complete on any number of ranks. Any other position has no equivalent.
            complete = self.start >= math.ceil(self.total / saved_world)
            print_log(f'MixedSourceSampler: the saved state is of {saved_world} rank(s), this '
                      f'run has {self.world_size}: the seed ({self.seed}) and epoch '
                      f'({self.epoch}) carry over and the ranks take new shares of the epoch'
                      + ('' if not self.start else
                         f'; epoch {self.start_epoch} was complete and is left out' if complete
                         else f'; the position (sample {self.start} of each share) does not, '
                         f'so epoch {self.start_epoch} restarts from its first sample'),
                      logger='current', level=logging.WARNING)
            self.start = self.num_samples if complete else 0

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch, which changes the draw (called by MMEngine's training loop)."""
        self.epoch = epoch
