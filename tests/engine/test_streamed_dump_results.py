"""StreamedDumpResults: per-rank parts merged into DumpResults' list, in dataset order.

Two forked gloo processes test 5 samples through mmengine's Evaluator: each rank gets the
share of a DefaultSampler without shuffling (rank 0: 0, 2, 4; rank 1: 1, 3, and 0 again as
padding), as the test loop gives it. The merged file must unpickle to the 5 samples in
dataset order with their arrays intact, like mmengine's DumpResults, and the parts must be
gone.
"""
import os
import pickle

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope

import fastmetro_mm  # noqa: F401  (registers StreamedDumpResults)
from fastmetro_mm.engine.streamed_dump_results import write_pickled_list

WORLD_SIZE = 2
SIZE = 5


def _sample(index: int) -> dict:
    rng = np.random.default_rng(index)
    return dict(img_path=f'img_{index}.jpg',
                pred_instances=dict(vertices=rng.normal(size=(1, 6890, 3)).astype(np.float32),
                                    cam=torch.tensor([[1.0, 0.1 * index, 0.0]])),
                shared=[0.5] * 3)


def _rank(rank: int, root: str) -> None:
    dist.init_process_group('gloo', init_method=f'file://{root}/rendezvous', rank=rank,
                            world_size=WORLD_SIZE)
    init_default_scope('mmpose')
    evaluator = Evaluator(dict(type='StreamedDumpResults', out_file_path=f'{root}/dump.pkl'))
    share = list(DefaultSampler(list(range(SIZE)), shuffle=False))
    for start in range(0, len(share), 2):  # batches of 2
        evaluator.process([_sample(i) for i in share[start:start + 2]])
    assert evaluator.evaluate(SIZE) == {}
    dist.destroy_process_group()


def test_two_ranks_merge_in_dataset_order(tmp_path):
    mp.start_processes(_rank, args=(str(tmp_path), ), nprocs=WORLD_SIZE, join=True,
                       start_method='fork')
    with open(tmp_path / 'dump.pkl', 'rb') as file:
        dumped = pickle.load(file)
    assert [d['img_path'] for d in dumped] == [f'img_{i}.jpg' for i in range(SIZE)]
    for index, sample in enumerate(dumped):
        expected = _sample(index)
        np.testing.assert_array_equal(sample['pred_instances']['vertices'],
                                      expected['pred_instances']['vertices'])
        assert torch.equal(sample['pred_instances']['cam'], expected['pred_instances']['cam'])
    assert sorted(os.listdir(tmp_path)) == ['dump.pkl', 'rendezvous'] or \
        sorted(os.listdir(tmp_path)) == ['dump.pkl']


def test_streamed_list_is_a_pickled_list(tmp_path):
    items = [_sample(0), {'a': [1, 2, {'b': 'shared'}]}, 'text', _sample(1)]
    with open(tmp_path / 'list.pkl', 'wb') as file:
        assert write_pickled_list(file, iter(items)) == 4
    with open(tmp_path / 'list.pkl', 'rb') as file:
        loaded = pickle.load(file)
    assert len(loaded) == 4 and loaded[1] == items[1] and loaded[2] == 'text'
    np.testing.assert_array_equal(loaded[3]['pred_instances']['vertices'],
                                  items[3]['pred_instances']['vertices'])
    assert loaded[0]['shared'] == [0.5] * 3
