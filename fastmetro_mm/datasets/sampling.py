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
"""
from __future__ import annotations

import math
from typing import Iterator, List, Optional, Sequence, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
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

    def __iter__(self) -> Iterator[int]:
        indices = self.epoch_indices()
        if self.round_up:
            indices = (indices * math.ceil(self.padded_total / len(indices)))[:self.padded_total]
        return iter(indices[self.rank:self.padded_total:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch, which changes the draw (called by MMEngine's training loop)."""
        self.epoch = epoch
