"""Under DDP every rank resumes with its own random generators.

Two forked gloo processes train a small model with dropout through MMEngine's Runner (2
epochs of 4 iterations, a checkpoint every 3), each rank seeded differently
(``diff_rank_seed=True``), so their dropout masks differ. A second run resumes from the
mid-epoch ``iter_3.pth`` of the first and must end with its weights. A third resumes from a
copy of that checkpoint without the per-rank states (as written before they were gathered):
every rank then restores rank 0's generators, and the weights differ, which shows that the
test sees what it checks.
"""
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

import fastmetro_mm  # noqa: F401  (registers ResumeStateHook)
from fastmetro_mm.engine.launch import configure_cpu_ddp

WORLD_SIZE = 2


class DropoutRegressor(BaseModel):
    """Linear -> dropout -> linear, squared error; dropout draws from torch's generator."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)  # the same initial weights in every run
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1))

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.net(inputs)  # (B, 1); default_collate stacked the samples
        if mode == 'loss':
            return dict(loss=((out.squeeze(1) - targets) ** 2).mean())
        return out


class Points(Dataset):
    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(16, 4, generator=generator)
        self.y = self.x.sum(1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.x[index], targets=self.y[index])


def _train(work_dir: str, resume_from: str = None) -> None:
    cfg = dict(
        model=DropoutRegressor(), work_dir=work_dir, launcher='pytorch',
        train_dataloader=dict(dataset=Points(), batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3,
                                           by_epoch=False),
                           logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=[dict(type='ResumeStateHook')],
        randomness=dict(seed=11, diff_rank_seed=True, deterministic=True),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        default_scope='mmpose', load_from=resume_from, resume=resume_from is not None)
    configure_cpu_ddp(cfg, 'pytorch')  # device_ids=None: DDP over CPU modules
    wrapper = cfg.pop('model_wrapper_cfg')
    Runner(**cfg, cfg=dict(model_wrapper_cfg=wrapper)).train()


def _rank(rank: int, root: str) -> None:
    os.environ.update(LOCAL_RANK=str(rank), RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE))
    dist.init_process_group('gloo', init_method=f'file://{root}/rendezvous', rank=rank,
                            world_size=WORLD_SIZE)
    init_default_scope('mmpose')
    _train(f'{root}/a')
    if rank == 0:
        checkpoint = torch.load(f'{root}/a/iter_3.pth', map_location='cpu')
        del checkpoint['resume_state']['rng_per_rank']
        torch.save(checkpoint, f'{root}/iter_3_rank0_rng_only.pth')
    dist.barrier()
    _train(f'{root}/b', resume_from=f'{root}/a/iter_3.pth')
    _train(f'{root}/c', resume_from=f'{root}/iter_3_rank0_rng_only.pth')
    dist.destroy_process_group()


def _weights(path: Path) -> dict:
    return torch.load(path, map_location='cpu')['state_dict']


def test_each_rank_restores_its_own_generators(tmp_path):
    mp.start_processes(_rank, args=(str(tmp_path), ), nprocs=WORLD_SIZE, join=True,
                       start_method='fork')
    state = torch.load(tmp_path / 'a' / 'iter_3.pth', map_location='cpu')['resume_state']
    per_rank = state['rng_per_rank']
    assert len(per_rank) == WORLD_SIZE and state['world_size'] == WORLD_SIZE
    assert not torch.equal(per_rank[0]['torch'], per_rank[1]['torch'])  # ranks differ
    assert torch.equal(state['rng']['torch'], per_rank[0]['torch'])
    final = _weights(tmp_path / 'a' / 'iter_8.pth')
    resumed = _weights(tmp_path / 'b' / 'iter_8.pth')
    assert all(torch.equal(final[k], resumed[k]) for k in final), 'resumed run differs'
    rank0_only = _weights(tmp_path / 'c' / 'iter_8.pth')
    assert not all(torch.equal(final[k], rank0_only[k]) for k in final)
