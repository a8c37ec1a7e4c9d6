"""Per-sample randomness: each sample's augmentation drawn from (seed, epoch, index).

The mesh transforms (``fastmetro_mm.datasets.transforms``) and MMEngine's ``BaseDataset``
(the refetch of a failed sample) draw from the process-wide generators of NumPy and Python.
Where those draws come from then depends on which process loads a sample: with
``num_workers > 0``, on the dataloader worker's generator, seeded once per worker and advanced
by every sample that worker loaded before; with ``num_workers=0``, on the training process's
own generators, which data loading then shares with dropout and everything else. Either way a
run resumed mid-epoch, or the same run with another number of workers, augments its samples
differently.

:class:`PerSampleRandomness` makes the draws of one sample a function of the run's seed, the
epoch and the sample's index only: around each ``__getitem__`` it seeds NumPy's legacy global
generator, Python's ``random`` and torch's CPU generator from a hash of the three, and puts the
previous states back afterwards, so loading a sample neither depends on nor disturbs anything
else a process draws. It is off until :meth:`PerSampleRandomness.set_sample_seed` is called;
:class:`fastmetro_mm.engine.SampleSeedHook` (in ``configs/_base_/default_runtime.py``) calls it
before every training epoch and every validation / test pass.

The seed and epoch live in a tensor in shared memory, so dataloader workers that outlive an
epoch (``persistent_workers=True``) see the epoch the training process sets: a worker reads it
when it loads a sample, and the loop sets it before it asks for the epoch's first batch.

An index drawn twice in one epoch (a sampler that repeats indices, ``RepeatDataset``) is
augmented alike both times.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import numpy as np
import torch

#: Entries of the shared state tensor.
_ON, _SEED, _EPOCH = 0, 1, 2


def sample_entropy(seed: int, epoch: int, index: int) -> np.ndarray:
    """Four 32-bit words hashed from ``(seed, epoch, index)`` (NumPy's ``SeedSequence``).

    Args:
        seed: the run's seed (any int; negative values are folded into 64 bits).
        epoch: the epoch, 0-based.
        index: the sample's index in the dataset.

    Returns:
        (4,) uint32 array; distinct keys give unrelated streams.
    """
    key = [int(value) & 0xFFFF_FFFF_FFFF_FFFF for value in (seed, epoch, index)]
    return np.random.SeedSequence(key).generate_state(4)


@contextmanager
def seeded_generators(seed: int, epoch: int, index: int) -> Iterator[None]:
    """Seeds NumPy's, Python's and torch's CPU global generators for one sample, then restores.

    Only torch's CPU generator is touched (``torch.manual_seed`` would also reseed every CUDA
    device's generator, which the training process's dropout draws from).

    Args:
        seed: the run's seed.
        epoch: the epoch.
        index: the sample's index.
    """
    words = sample_entropy(seed, epoch, index)
    saved = (np.random.get_state(), random.getstate(), torch.get_rng_state())
    np.random.seed(words)
    random.seed(int.from_bytes(words.tobytes(), 'little'))
    torch.default_generator.manual_seed(int(words[0]) << 32 | int(words[1]))
    try:
        yield
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])
        torch.set_rng_state(saved[2])


class PerSampleRandomness:
    """Mixin of a dataset whose ``__getitem__`` draws from per-sample seeded generators.

    Put it before the dataset class (``class MyDataset(PerSampleRandomness, BaseDataset)``);
    see the module docstring. Until :meth:`set_sample_seed` is called the dataset draws from
    the process's generators as usual.
    """

    _sample_seed_state: Optional[torch.Tensor] = None

    def set_sample_seed(self, seed: int, epoch: int) -> None:
        """Makes the following samples draw from generators seeded by ``(seed, epoch, index)``.

        Call it in the training process before the dataloader's workers load the samples it
        concerns (the first call before any worker starts, so that they share its state).

        Args:
            seed: the run's seed.
            epoch: the epoch (0 for validation and test passes).
        """
        if self._sample_seed_state is None:
            # Shared memory: forked and spawned workers (also persistent ones) read the
            # values this process writes later.
            self._sample_seed_state = torch.zeros(3, dtype=torch.int64).share_memory_()
        self._sample_seed_state[_SEED] = int(seed) & 0x7FFF_FFFF_FFFF_FFFF
        self._sample_seed_state[_EPOCH] = int(epoch)
        self._sample_seed_state[_ON] = 1

    def sample_seed(self) -> Optional[tuple]:
        """``(seed, epoch)`` the samples are drawn with now, or None when off."""
        state = self._sample_seed_state
        if state is None or not int(state[_ON]):
            return None
        return int(state[_SEED]), int(state[_EPOCH])

    def __getitem__(self, idx: int) -> Any:
        key = self.sample_seed()
        if key is None:
            return super().__getitem__(idx)  # type: ignore[misc]
        with seeded_generators(key[0], key[1], int(idx)):
            return super().__getitem__(idx)  # type: ignore[misc]
