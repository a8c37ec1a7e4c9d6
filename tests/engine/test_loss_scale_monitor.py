"""LossScaleMonitorHook counts the steps fp16 loss scaling skipped and logs them.

mmengine's AmpOptimWrapper needs a GPU, so a small OptimWrapper below does on the CPU what it
does (a real ``torch.amp.GradScaler('cpu')``, fp16 autocast): a loss of weight 1000 overflows
fp16 gradients at GradScaler's first scale of 2**16, each overflow skips the step and halves
the scale, and the hook must report exactly those steps through MMEngine's Runner.
"""
import json
from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpose.registry import OPTIM_WRAPPERS
from torch.utils.data import Dataset

import fastmetro_mm  # noqa: F401  (registers LossScaleMonitorHook)


@OPTIM_WRAPPERS.register_module(force=True)
class CPUScaledOptimWrapper(OptimWrapper):
    """AmpOptimWrapper's steps on a CPU: fp16 autocast and a dynamic GradScaler."""

    def __init__(self, init_scale=2.0**16, **kwargs):
        super().__init__(**kwargs)
        self.loss_scaler = torch.amp.GradScaler('cpu', init_scale=init_scale,
                                                growth_interval=10_000)
        self.scales = []

    def backward(self, loss, **kwargs):
        self.loss_scaler.scale(loss).backward(**kwargs)

    def step(self, **kwargs):
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update()
        self.scales.append(self.loss_scaler.get_scale())

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.float16):
            yield


class Heavy(BaseModel):
    """Two linear layers and a loss weighted 1000, as FastMETRO's 3D-joint term."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 8))

    def forward(self, inputs, mode='tensor'):
        out = self.net(inputs)
        if mode == 'loss':
            return dict(loss=1000.0 * out.float().abs().mean())
        return out


class Inputs(Dataset):
    def __len__(self):
        return 32

    def __getitem__(self, index):
        return dict(inputs=torch.full((8, ), 30.0 + index))


def test_skipped_steps_are_counted_and_logged(tmp_path):
    init_default_scope('mmpose')
    runner = Runner(
        model=Heavy(), work_dir=str(tmp_path), experiment_name=f'monitor_{tmp_path.name}',
        train_dataloader=dict(dataset=Inputs(), batch_size=4, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(type='CPUScaledOptimWrapper',
                           optimizer=dict(type='SGD', lr=1e-6)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=4),
                           checkpoint=dict(type='CheckpointHook', interval=100)),
        custom_hooks=[dict(type='LossScaleMonitorHook', interval=4)],
        default_scope='mmpose')
    runner.train()
    scales = [2.0**16] + runner.optim_wrapper.scales  # the scale before each step, and after
    skipped = sum(after < before for before, after in zip(scales, scales[1:]))
    assert 2 <= skipped < 16, scales  # some steps overflowed, then training went on
    hub = runner.message_hub
    assert hub.get_scalar('train/amp_skipped_steps').current() == skipped
    assert hub.get_scalar('train/loss_scale').current() == scales[-1]
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'fp16 loss scale starts at 65536' in log
    assert 'of the last 4 optimizer steps were skipped' in log
    records = [json.loads(line) for line in next(tmp_path.glob('*/vis_data/scalars.json'))
               .read_text().splitlines()]
    assert records[-1]['amp_skipped_steps'] == skipped

