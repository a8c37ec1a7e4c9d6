"""Checkpoints written by mmengine's Runner resume under torch's weights_only=True default."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.dataset import BaseDataset
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.utils import digit_version
from torch import nn

import fastmetro_mm  # noqa: F401  (installs the allow-list on import)
from fastmetro_mm.engine import mmengine_checkpoint_globals


class _LineDataset(BaseDataset):
    # numpy arrays in the meta, as MMPose's dataset meta holds (sigmas, colours)
    METAINFO = dict(sigmas=np.array([0.1, 0.2], dtype=np.float32),
                    colors=np.array([[255, 0, 0]], dtype=np.uint8), count=np.int64(2))

    def load_data_list(self):
        rng = np.random.default_rng(0)
        xs = rng.normal(size=(32, 1)).astype(np.float32)
        return [dict(x=x, y=2 * x + 1) for x in xs]


class _Line(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 1)

    def forward(self, x, y, sample_idx=None, mode='loss'):
        x = torch.as_tensor(np.stack(x)) if isinstance(x, list) else x
        y = torch.as_tensor(np.stack(y)) if isinstance(y, list) else y
        return {'loss': (self.fc(x) - y).abs().mean()}


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """The Runner makes its 'mmengine' scope current; later tests build from mmpose's registry."""
    before = set(DefaultScope._instance_dict)
    yield
    for name in set(DefaultScope._instance_dict) - before:
        DefaultScope._instance_dict.pop(name)


def _runner(work_dir, max_epochs, resume):
    return Runner(
        model=_Line(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=_LineDataset(), batch_size=8,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume, randomness=dict(seed=0), default_scope='mmengine')


def test_runner_checkpoint_resumes_with_weights_only(tmp_path):
    # torch >= 2.6 loads with weights_only=True by default: the case this guards
    assert digit_version(torch.__version__) >= digit_version('2.6')
    _runner(tmp_path, max_epochs=1, resume=False).train()
    checkpoint = tmp_path / 'epoch_1.pth'
    assert checkpoint.is_file()
    # the checkpoint really holds the types the allow-list exists for
    loaded = torch.load(checkpoint, weights_only=True)
    assert loaded['meta']['epoch'] == 1
    loss_history = loaded['message_hub']['log_scalars']['train/loss']
    assert loss_history.statistics('mean', 2) == pytest.approx(
        loss_history.data[0][-2:].mean())  # default statistics survive the round trip

    resumed = _runner(tmp_path, max_epochs=2, resume=True)
    resumed.train()
    assert resumed.epoch == 2 and resumed.iter == 8


def test_allow_list_does_not_open_arbitrary_pickles(tmp_path):
    path = tmp_path / 'evil.pth'

    class _Payload:
        def __reduce__(self):
            return (print, ('arbitrary code',))

    with open(path, 'wb') as f:
        pickle.dump({'x': _Payload()}, f)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_allow_list_is_exact():
    names = {getattr(g, '__name__', str(g)) for g in mmengine_checkpoint_globals()}
    assert {'HistoryBuffer', 'ndarray', '_reconstruct', 'scalar', 'dtype'} <= names
