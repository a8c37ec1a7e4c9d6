"""Per-sample randomness: a sample's draws depend on (seed, epoch, index) only.

A tiny MeshDataset subclass whose pipeline records what it draws from NumPy's, Python's and
torch's global generators is loaded through torch DataLoaders with 0 and 2 workers (persistent,
as the configs use them): the draws match, change with the epoch the training process sets
after the workers started, and loading in the training process leaves its generators alone.
"""
import random
from typing import List

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from fastmetro_mm.datasets import MeshDataset
from fastmetro_mm.datasets.sample_seeding import sample_entropy
from fastmetro_mm.engine.sample_seed_hook import seeded_parts

NUM = 6


def draw(results: dict) -> dict:
    """Pipeline step: what an augmentation would draw."""
    return dict(index=results['id'], numpy=float(np.random.rand()), python=random.random(),
                torch=float(torch.rand(1)))


class TinyDataset(MeshDataset):
    def load_data_list(self) -> List[dict]:
        return [dict(id=i) for i in range(NUM)]

    def get_data_info(self, idx: int) -> dict:  # no meta keys needed here
        return dict(self.data_list[idx])


def draws(loader: DataLoader) -> list:
    return sorted((int(s['index']), float(s['numpy']), float(s['python']), float(s['torch']))
                  for s in loader)


def test_draws_depend_on_seed_epoch_index_not_on_workers():
    dataset = TinyDataset(pipeline=[draw], serialize_data=False)
    assert dataset.sample_seed() is None and seeded_parts(dataset) == [dataset]
    dataset.set_sample_seed(seed=3, epoch=0)
    in_process = DataLoader(dataset, batch_size=2, shuffle=False, num_workers=0,
                            collate_fn=lambda batch: batch)
    np.random.seed(1)
    batches = iter(in_process)  # (which draws its base seed from torch's generator)
    before = (np.random.get_state()[1].copy(), random.getstate(), torch.get_rng_state())
    epoch0 = draws(s for batch in batches for s in batch)
    # Loading drew nothing from the training process's generators.
    assert np.array_equal(np.random.get_state()[1], before[0])
    assert random.getstate() == before[1] and torch.equal(torch.get_rng_state(), before[2])
    assert len({d[1] for d in epoch0}) == NUM  # every sample its own stream

    workers = DataLoader(dataset, batch_size=2, shuffle=True, num_workers=2,
                         persistent_workers=True, collate_fn=lambda batch: batch)
    assert draws(s for batch in workers for s in batch) == epoch0
    dataset.set_sample_seed(seed=3, epoch=1)  # the persistent workers see the new epoch
    epoch1 = draws(s for batch in workers for s in batch)
    assert all(a[1:] != b[1:] for a, b in zip(epoch0, epoch1))
    assert draws(s for batch in in_process for s in batch) == epoch1
    dataset.set_sample_seed(seed=4, epoch=1)
    assert draws(s for batch in workers for s in batch) != epoch1


def test_entropy_is_a_function_of_the_key():
    assert np.array_equal(sample_entropy(7, 2, 5), sample_entropy(7, 2, 5))
    keys = [(7, 2, 5), (7, 2, 6), (7, 3, 5), (8, 2, 5), (-1, 0, 0)]
    assert len({tuple(sample_entropy(*key)) for key in keys}) == len(keys)
