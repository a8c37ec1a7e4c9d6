"""Samplers resume inside an epoch: MixedSourceSampler's state and SkipFirstSamples."""
import random

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader

from fastmetro_mm.datasets.sampling import MixedSourceSampler
from fastmetro_mm.engine import (SkipFirstSamples, capture_rng_state, restore_rng_state,
                                 start_sampler_at)
from fastmetro_mm.engine.sampler_position import loader_batch_size, remove_skip


class _Combined:
    """Stands for a CombinedDataset: per-source lengths, no resampling of its own."""

    def __init__(self, lens):
        self.lens = list(lens)
        self.resample = False

    def __len__(self):
        return sum(self.lens)

    def __getitem__(self, index):
        return index


def _mixed(seed=3, **kwargs):
    return MixedSourceSampler(_Combined([5, 7, 3]), ratios=[0.5, 0.3, 0.2], num_samples=12,
                              seed=seed, **kwargs)


def test_mixed_sampler_resumes_at_its_position():
    before = _mixed()
    before.set_epoch(2)
    full = list(before)
    assert len(full) == 12
    state = before.state_dict()
    assert state['epoch'] == 2 and state['seed'] == 3

    after = _mixed(seed=99)  # the seed comes from the state
    after.load_state_dict(dict(state, start=5, start_epoch=2))
    assert len(after) == 7
    assert list(after) == full[5:]
    # The position is spent by one pass: the next epochs are whole and as without a resume.
    assert len(after) == 12 and list(after) == full
    after.set_epoch(3)
    before.set_epoch(3)
    assert list(after) == list(before)


def test_mixed_sampler_position_applies_to_its_epoch_only():
    sampler = _mixed()
    state = sampler.state_dict()
    sampler.load_state_dict(dict(state, start=4, start_epoch=1))
    assert len(sampler) == 12  # still epoch 0
    whole_epoch_0 = list(sampler)
    assert len(whole_epoch_0) == 12
    sampler.set_epoch(1)
    reference = _mixed()
    reference.set_epoch(1)
    assert list(sampler) == list(reference)[4:]


def test_mixed_sampler_positions_per_rank():
    ranks = []
    for rank in range(2):
        sampler = _mixed()
        sampler.set_world(rank, 2)
        full = list(sampler)
        resumed = _mixed()
        resumed.set_world(rank, 2)
        resumed.load_state_dict(dict(sampler.state_dict(), start=2, start_epoch=0))
        assert list(resumed) == full[2:]
        ranks.append(full)
    assert sorted(ranks[0] + ranks[1]) == sorted(_mixed().epoch_indices())


def test_mixed_sampler_refuses_another_mix():
    state = _mixed().state_dict()
    other = MixedSourceSampler(_Combined([5, 7, 4]), ratios=[0.5, 0.3, 0.2], num_samples=12,
                               seed=3)
    with pytest.raises(ValueError, match='lens'):
        other.load_state_dict(state)
    with pytest.raises(KeyError, match='start_epoch'):
        _mixed().load_state_dict({k: v for k, v in state.items() if k != 'start_epoch'})


def test_default_sampler_skips_in_a_dataloader_for_one_epoch():
    dataset = list(range(10))
    sampler = DefaultSampler(dataset, shuffle=True, seed=5)
    loader = DataLoader(dataset, batch_size=3, sampler=sampler, num_workers=0)
    sampler.set_epoch(1)
    full = [int(i) for batch in loader for i in batch]
    wrapper = start_sampler_at(loader, epoch=1, start=6)
    assert isinstance(wrapper, SkipFirstSamples)
    assert len(loader) == 2
    assert [int(i) for batch in loader for i in batch] == full[6:]
    remove_skip(loader, wrapper)
    assert loader.batch_sampler.sampler is sampler and len(loader) == 4
    assert start_sampler_at(loader, epoch=1, start=0) is None
    assert loader_batch_size(loader) == 3


def test_skip_past_the_end_gives_an_empty_epoch():
    wrapper = SkipFirstSamples(DefaultSampler(list(range(4)), shuffle=False, seed=0), 9)
    assert len(wrapper) == 0 and list(wrapper) == []
    with pytest.raises(ValueError, match='skip'):
        SkipFirstSamples(DefaultSampler(list(range(4)), seed=0), -1)


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    state = capture_rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.save({'rng': state}, tmp_path / 'rng.pth')
    torch.rand(5), np.random.rand(5), random.random()  # move every generator on
    loaded = torch.load(tmp_path / 'rng.pth', weights_only=True)  # the project's allow-list
    restore_rng_state(loaded['rng'], source='rng.pth')
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1]) and got[2] == expected[2]
    with pytest.raises(KeyError, match='numpy'):
        restore_rng_state({'python': state['python'], 'torch': state['torch']})
