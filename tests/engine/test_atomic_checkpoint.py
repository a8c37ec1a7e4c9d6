"""AtomicCheckpointHook writes in one step and removes old checkpoints last; --resume finds the
newest complete checkpoint when last_checkpoint names a missing or truncated one.

A one-weight model trains through mmengine's Runner with validation every epoch (its error
falls, so each epoch brings a new best checkpoint) and ``max_keep_ckpts=1``, as the quickstart.
A storage backend that fails half-way through one checkpoint stands in for a crash during the
write; real SIGKILLs are in test_exact_resume.py.
"""
import os
import uuid
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.fileio import register_backend
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch import nn

import fastmetro_mm  # noqa: F401  (registers the hook)
from fastmetro_mm.engine import (AtomicCheckpointHook, AtomicLocalBackend,
                                 find_resumable_checkpoint, is_complete_checkpoint)

ROOT = Path(__file__).resolve().parents[2]


class _LineDataset(BaseDataset):

    def load_data_list(self):
        xs = np.random.default_rng(0).normal(size=(16, 1)).astype(np.float32)
        return [dict(x=x, y=2 * x + 1) for x in xs]


class _Line(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 1)

    def forward(self, x, y, sample_idx=None, mode='loss'):
        x, y = torch.as_tensor(x), torch.as_tensor(y)  # default_collate stacked them
        error = (self.fc(x) - y).abs()
        if mode == 'loss':
            return {'loss': error.mean()}
        return [dict(error=float(e)) for e in error[:, 0]]


class _MeanError(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(sample['error'] for sample in data_samples)

    def compute_metrics(self, results):
        return dict(error=float(np.mean(results)))


@register_backend('test_failing_atomic_local', force=True)
class _FailingBackend(AtomicLocalBackend):
    """Writes half of the checkpoint named ``fail_on``, then fails like a full disk."""
    fail_on = 'epoch_2.pth'

    def put(self, obj, filepath):
        self.writing = Path(filepath).name
        super().put(obj, filepath)

    def write_stream(self, stream, data):
        if self.writing == self.fail_on:
            stream.write(data[:len(data) // 2])
            raise OSError(28, 'No space left on device (test)')
        stream.write(data)


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """The Runner makes its scope current; later tests build from mmpose's registry."""
    before = set(DefaultScope._instance_dict)
    yield
    for name in set(DefaultScope._instance_dict) - before:
        DefaultScope._instance_dict.pop(name)


def _runner(work_dir: Path, max_epochs: int, hook: str = 'AtomicCheckpointHook',
            resume: bool = False, **hook_args) -> Runner:
    loader = dict(dataset=_LineDataset(), batch_size=4,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    return Runner(
        model=_Line(), work_dir=str(work_dir), train_dataloader=loader,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        val_dataloader=loader, val_cfg=dict(), val_evaluator=Evaluator([_MeanError()]),
        default_hooks=dict(checkpoint=dict(type=hook, interval=1, max_keep_ckpts=1,
                                           save_best='error', rule='less', **hook_args)),
        resume=resume, randomness=dict(seed=0), default_scope='mmpose',
        # A fresh name each time: Runners built within the same second would otherwise share
        # the timestamp name, hence one MessageHub, and with it the previous run's best score.
        experiment_name=f'atomic-checkpoint-{uuid.uuid4().hex}')


def _files(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in ('.pth', '.tmp')
                  or p.name == 'last_checkpoint')


def test_default_runtime_uses_the_hook():
    runtime = Config.fromfile(str(ROOT / 'configs' / '_base_' / 'default_runtime.py'))
    assert runtime.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert 'AtomicCheckpointHook' in fastmetro_mm.REGISTERED_NAMES['HOOKS']


def test_keeps_one_complete_checkpoint_and_the_best(tmp_path):
    _runner(tmp_path, max_epochs=3).train()
    assert _files(tmp_path) == ['best_error_epoch_3.pth', 'epoch_3.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'epoch_3.pth')
    assert all(is_complete_checkpoint(str(p)) for p in tmp_path.glob('*.pth'))


@pytest.mark.parametrize('hook', ['CheckpointHook', 'AtomicCheckpointHook'])
def test_failed_write_keeps_the_previous_checkpoint(tmp_path, hook):
    runner = _runner(tmp_path, max_epochs=3, hook=hook,
                     backend_args=dict(backend='test_failing_atomic_local'))
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    if hook == 'CheckpointHook':  # mmengine's: epoch 1 deleted before epoch 2 was written
        assert _files(tmp_path) == ['best_error_epoch_1.pth', 'last_checkpoint']
        assert not is_complete_checkpoint((tmp_path / 'last_checkpoint').read_text())
        return
    assert _files(tmp_path) == ['best_error_epoch_1.pth', 'epoch_1.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'epoch_1.pth')
    # What a SIGKILL during the write leaves (atomic_write removes it on an exception).
    (tmp_path / '.epoch_2.pth.k1ll3d.tmp').write_bytes(b'half a checkpoint')
    resumed = _runner(tmp_path, max_epochs=3, resume=True)
    resumed.train()
    assert (resumed.epoch, resumed.iter) == (3, 12)
    assert _files(tmp_path) == ['best_error_epoch_3.pth', 'epoch_3.pth', 'last_checkpoint']
    assert any(isinstance(hook, AtomicCheckpointHook) for hook in resumed.hooks)


def _save(path: Path, mtime: float) -> Path:
    torch.save({'state_dict': {'w': torch.ones(3)}}, path)
    os.utime(path, (mtime, mtime))
    return path


def test_resume_lookup_falls_back_to_the_newest_complete_checkpoint(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None  # nothing there: fresh start
    older = _save(tmp_path / 'iter_3.pth', 1000)
    newer = _save(tmp_path / 'iter_6.pth', 2000)
    _save(tmp_path / 'best_error_iter_9.pth', 3000)  # no optimizer state: never resumed
    marker = tmp_path / 'last_checkpoint'
    marker.write_text(str(older))
    assert find_resumable_checkpoint(str(tmp_path)) == str(older)  # a sound marker is obeyed

    marker.write_text(str(tmp_path / 'iter_9.pth'))  # deleted by mmengine, then killed
    assert find_resumable_checkpoint(str(tmp_path)) == str(newer)
    truncated = tmp_path / 'iter_9.pth'
    truncated.write_bytes(newer.read_bytes()[:-100])
    os.utime(truncated, (4000, 4000))
    assert not is_complete_checkpoint(str(truncated))
    assert find_resumable_checkpoint(str(tmp_path)) == str(newer)
    marker.write_text('')
    assert find_resumable_checkpoint(str(tmp_path)) == str(newer)

    for path in (older, newer):
        path.unlink()
    assert find_resumable_checkpoint(str(tmp_path)) is None


def test_train_tool_resumes_from_the_fallback(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location('train_tool', ROOT / 'tools' / 'train.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    complete = _save(tmp_path / 'epoch_1.pth', 1000)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    cfg = tool.resolve_auto_resume(Config(dict(work_dir=str(tmp_path), resume=True,
                                               load_from=None)))
    assert (cfg.resume, cfg.load_from) == (True, str(complete))
    complete.unlink()
    cfg = tool.resolve_auto_resume(Config(dict(work_dir=str(tmp_path), resume=True,
                                               load_from=None)))
    assert (cfg.resume, cfg.load_from) == (False, None)
    (tmp_path / 'last_checkpoint').unlink()  # a sound or absent marker: mmengine's own resume
    cfg = tool.resolve_auto_resume(Config(dict(work_dir=str(tmp_path), resume=True,
                                               load_from='x.pth')))
    assert (cfg.resume, cfg.load_from) == (True, 'x.pth')
