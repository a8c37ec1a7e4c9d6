"""A MixedSourceSampler run resumed on another number of processes restarts the epoch.

One process trains through MMEngine's Runner (12 samples from two sources, batch 2, a
checkpoint every 4 iterations: ``iter_4.pth`` is inside epoch 0) with a sampler whose seed is
drawn, not configured. Two forked gloo processes resume from that checkpoint: the saved seed
and epoch come back, the position does not (the ranks' shares differ), so epoch 0 is trained
again from its first sample, over both ranks, and epoch 1 follows; the log names both world
sizes. Before, ``load_state_dict`` raised ValueError here. A second resume, from
``iter_12.pth`` (written at the last batch of epoch 1), leaves that complete epoch out and
trains epoch 2.
"""
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from torch.utils.data import Dataset

import fastmetro_mm  # noqa: F401  (registers MixedSourceSampler and ResumeStateHook)
from fastmetro_mm.datasets.sampling import MixedSourceSampler
from fastmetro_mm.engine.launch import configure_cpu_ddp

WORLD_SIZE = 2
SOURCES = [8, 4]  # per-source lengths


class TwoSources(Dataset):
    """Stands for a CombinedDataset (``lens``, no resampling): sample i is the number i."""

    lens = SOURCES
    resample = False

    def __len__(self) -> int:
        return sum(SOURCES)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=torch.full((2, ), float(index)), index=index)


class IndexRecorder(BaseModel):
    """A linear model that records the sample indices it trains on."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(2, 1)
        self.seen = []

    def forward(self, inputs, index=None, mode='tensor'):
        out = self.linear(inputs)  # (B, 1)
        if mode == 'loss':
            self.seen.extend(int(i) for i in index)
            return dict(loss=out.pow(2).mean())
        return out


def _train(work_dir: str, launcher: str, resume_from: str = None, seed: int = 3,
           max_epochs: int = 2) -> IndexRecorder:
    model = IndexRecorder()
    cfg = dict(
        model=model, work_dir=work_dir, launcher=launcher,
        # One logger per run (mmengine names them by timestamp, shared within a second).
        experiment_name=f'world_size_{work_dir.replace(os.sep, "_")}',
        train_dataloader=dict(dataset=TwoSources(), batch_size=2, num_workers=0,
                              sampler=dict(type='MixedSourceSampler', ratios=[0.5, 0.5]),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=4,
                                           by_epoch=False),
                           logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=[dict(type='ResumeStateHook')],
        randomness=dict(seed=seed),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        default_scope='mmpose', load_from=resume_from, resume=resume_from is not None)
    extra = {}
    if launcher == 'pytorch':
        configure_cpu_ddp(cfg, 'pytorch')  # device_ids=None: DDP over CPU modules
        extra = dict(cfg=dict(model_wrapper_cfg=cfg.pop('model_wrapper_cfg')))
    Runner(**cfg, **extra).train()
    return model


def _rank(rank: int, root: str) -> None:
    os.environ.update(LOCAL_RANK=str(rank), RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE))
    dist.init_process_group('gloo', init_method=f'file://{root}/rendezvous', rank=rank,
                            world_size=WORLD_SIZE)
    init_default_scope('mmpose')
    model = _train(f'{root}/resumed', 'pytorch', resume_from=f'{root}/single/iter_4.pth',
                   seed=7)
    # iter_12.pth: written at the last batch of epoch 1, which is complete on 2 ranks too.
    at_end = _train(f'{root}/at_end', 'pytorch', resume_from=f'{root}/single/iter_12.pth',
                    seed=7, max_epochs=3)
    with open(f'{root}/seen_{rank}.json', 'w') as file:
        json.dump(dict(mid=model.seen, end=at_end.seen), file)
    dist.destroy_process_group()


def test_resume_on_two_processes_restarts_the_epoch_with_the_saved_seed(tmp_path):
    init_default_scope('mmpose')
    _train(str(tmp_path / 'single'), 'none')
    saved = torch.load(tmp_path / 'single' / 'iter_4.pth', map_location='cpu')
    sampler_state = saved['resume_state']['sampler_state']
    assert sampler_state['world_size'] == 1 and saved['resume_state']['samples'] == 8

    mp.start_processes(_rank, args=(str(tmp_path), ), nprocs=WORLD_SIZE, join=True,
                       start_method='fork')
    runs = [json.loads((tmp_path / f'seen_{rank}.json').read_text()) for rank in range(2)]
    seen = [run['mid'] for run in runs]
    assert sampler_state['seed'] == 3
    # Each rank: 6 samples of epoch 0 from its first, then 6 of epoch 1 (3 batches each).
    reference = MixedSourceSampler(TwoSources(), ratios=[0.5, 0.5],
                                   seed=sampler_state['seed'])
    for epoch in (0, 1):
        reference.set_epoch(epoch)
        for rank in range(2):
            reference.set_world(rank, 2)
            assert seen[rank][6 * epoch:6 * epoch + 6] == list(reference), (epoch, rank)
    assert all(len(s) == 12 for s in seen)
    log = ''.join(path.read_text() for path in tmp_path.glob('resumed/*/*.log'))
    assert 'the saved state is of 1 rank(s), this run has 2: the seed (3)' in log
    assert 'was written with 1 process(es) x batch 2, this run has 2 x 2' in log
    # From the end of epoch 1: that epoch is not trained again, epoch 2 is, from its start.
    reference.set_epoch(2)
    for rank in range(2):
        reference.set_world(rank, 2)
        assert runs[rank]['end'] == list(reference), rank
    log = ''.join(path.read_text() for path in tmp_path.glob('at_end/*/*.log'))
    assert 'epoch 1 was complete and is left out' in log
    assert 'but epoch 2 was complete: it is not trained again' in log


def test_state_of_another_world_size_at_an_epoch_boundary():
    saved = MixedSourceSampler(TwoSources(), ratios=[0.5, 0.5], seed=5)
    saved.set_epoch(3)
    resumed = MixedSourceSampler(TwoSources(), ratios=[0.5, 0.5], seed=9)
    resumed.set_world(1, 2)
    resumed.load_state_dict(saved.state_dict())  # world size 1 -> 2: no error
    assert (resumed.seed, resumed.epoch, len(resumed)) == (5, 3, 6)
    assert list(resumed) == saved.epoch_indices()[1::2]
