"""A run killed anywhere and resumed with ``--resume`` ends with the weights of an
uninterrupted run.

The synthetic FastMETRO-S config is shrunk to 8 training images of 64 x 64, batches of 2
(4 iterations per epoch), 2 epochs, each validated on 12 images one at a time, a checkpoint
every 3 iterations of which one is kept (``max_keep_ckpts=1``, as the quickstart) plus the
best, a ResNet-18 backbone (smaller checkpoints to write), seed fixed and deterministic mode,
one process and no dataloader workers. Run A trains without interruption. Run B is a separate
``tools/train.py`` process killed with SIGKILL, resumed with ``--resume`` (the latest
checkpoint of its work dir), killed again and resumed again:

1. during the validation of epoch 1 (iteration 4 trained, its checkpoint not yet written):
   the resume continues from ``iter_3.pth``, 3 of the 4 batches of epoch 1 in;
2. half-way through writing ``iter_6.pth`` (a storage backend that stalls there,
   tests/engine/stalling_checkpoint_backend.py): ``iter_4.pth``, written after that
   validation, must still be there and complete, and the resume continues from it.

The final and best checkpoints of A and B must hold the same weights, optimizer state and
counters. Without ``ResumeStateHook`` this fails: mmengine restarts epoch 1 at its first batch
(the resumed B trains 8 iterations instead of 5) and draws augmentations and dropout masks
from re-seeded generators. Measured on CPU: with the hook the checkpoints are bit-identical;
without the RNG restore the weights differ by up to 0.39, with the RNG restore but the global
torch generator feeding the DataLoader's base seed by up to 0.04. With mmengine's own
CheckpointHook, kill 2 finds ``iter_4.pth`` already deleted (test_atomic_checkpoint.py shows
that order on a small model).
"""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'fastmetro_s_r50_synthetic.py'
ITERS_PER_EPOCH = 4
MAX_EPOCHS = 2
NUM_VAL = 12  # validated one by one: long enough to be killed in
STALL_ON = 'iter_6.pth'  # the checkpoint whose write kill 2 interrupts
STALLING_BACKEND = 'stalling_checkpoint_backend'  # module beside this file


def _env() -> Dict[str, str]:
    # One thread: CPU kernels then reduce in a fixed order, and the shared machine stays free.
    # This folder on the path: a config may import the stalling storage backend.
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                         os.environ.get('PYTHONPATH')]))
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
                PYTHONPATH=path)


def _run(cmd: List[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{proc.stdout[-3000:]}\n' \
        f'{proc.stderr[-5000:]}'
    return proc.stdout + proc.stderr


def _set_input_size(pipeline: list, size: tuple) -> None:
    affine = [step for step in pipeline if step['type'] == 'MeshTopdownAffine']
    assert len(affine) == 1, pipeline
    affine[0]['input_size'] = size


def write_tiny_config(path: Path, with_resume_hook: bool = True,
                      stall_on: Optional[str] = None, num_workers: int = 0) -> Path:
    """The synthetic config at test size (see the module docstring), written to ``path``.

    ``stall_on``: a checkpoint file name whose write stalls half-way (for a kill there).
    ``num_workers``: dataloader workers (persistent ones, as the configs have, when > 0).
    """
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.backbone.depth = 18
    cfg.model.head.in_channels = 512
    for loader, batch_size in ((cfg.train_dataloader, 2), (cfg.val_dataloader, 1)):
        loader.update(batch_size=batch_size, num_workers=num_workers,
                      persistent_workers=num_workers > 0)
        _set_input_size(loader.dataset.pipeline, (64, 64))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.update(max_epochs=MAX_EPOCHS, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=3, by_epoch=False, max_keep_ckpts=1)
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    if stall_on is not None:
        cfg.custom_imports.imports = [*cfg.custom_imports.imports, STALLING_BACKEND]
        cfg.default_hooks.checkpoint.backend_args = dict(backend='test_stalling_atomic_local',
                                                         stall_on=stall_on)
    cfg.randomness = dict(seed=7, deterministic=True)
    if not with_resume_hook:
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'ResumeStateHook']
    assert any(h['type'] == 'ResumeStateHook' for h in cfg.custom_hooks) == with_resume_hook
    cfg.dump(str(path))
    return path


@pytest.fixture(scope='module')
def workspace(synthetic_data_dir, tmp_path_factory) -> Path:
    """Folder with data/synthetic (model files) and an 8 + 12 image rendered dataset."""
    root = tmp_path_factory.mktemp('exact_resume')
    (root / 'data').mkdir()
    (root / 'data' / 'synthetic').symlink_to(synthetic_data_dir, target_is_directory=True)
    _run([sys.executable, str(ROOT / 'tools' / 'dataset_converters' / 'make_synthetic.py'),
          '--model-dir', 'data/synthetic', '--out-dir', 'data/synthetic_dataset',
          '--num-train', str(ITERS_PER_EPOCH * 2), '--num-test', str(NUM_VAL),
          '--image-size', '64', '64', '--seed', '2'], cwd=root)
    return root


def _train_cmd(config: Path, work_dir: str, *extra: str) -> List[str]:
    return [sys.executable, str(ROOT / 'tools' / 'train.py'), str(config), '--work-dir',
            work_dir, *extra]


def _start(cmd: List[str], cwd: Path, output: Path) -> subprocess.Popen:
    """Starts a tool whose output goes to a file (a pipe nobody reads could fill and block)."""
    with open(output, 'w') as file:
        return subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=file,
                                stderr=subprocess.STDOUT)


def _tail(output: Path) -> str:
    return output.read_text()[-5000:] if output.is_file() else ''


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], what: str,
              output: Path) -> None:
    """SIGKILLs a training process as soon as ``ready()`` holds (checked every 10 ms)."""
    try:
        deadline = time.monotonic() + 600
        while not ready():
            assert proc.poll() is None, f'training ended before {what}:\n{_tail(output)}'
            assert time.monotonic() < deadline, f'no {what} after 600 s'
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, _tail(output)


def _validating(output: Path, epoch: int) -> Callable[[], bool]:
    """Whether the log shows the first validation batch of ``epoch``."""
    line = re.compile(rf'Epoch\(val\)\s*\[{epoch}\]\[\s*1/{NUM_VAL}\]')
    return lambda: output.is_file() and line.search(output.read_text()) is not None


def _half_written(work: Path, name: str) -> Callable[[], bool]:
    """Whether the temporary file of checkpoint ``name`` holds the stalled write's bytes."""
    def ready() -> bool:
        return any(path.stat().st_size > 0 for path in work.glob(f'.{name}.*.tmp'))
    return ready


def _checkpoint_files(work: Path) -> List[str]:
    return sorted(path.name for path in work.glob('*.pth'))


def _trained_iterations(log: str) -> List[tuple]:
    return re.findall(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]', log)


def _assert_same_training_state(a: dict, b: dict, optimizer: bool = True) -> None:
    assert (b['meta']['epoch'], b['meta']['iter']) == (a['meta']['epoch'], a['meta']['iter'])
    assert a['state_dict'].keys() == b['state_dict'].keys()
    differing = [k for k, v in a['state_dict'].items()
                 if not torch.allclose(v.double(), b['state_dict'][k].double(), rtol=0,
                                       atol=1e-6)]
    assert differing == [], f'{len(differing)} of {len(a["state_dict"])} tensors differ, ' \
        f'e.g. {differing[:5]}'
    if not optimizer:  # best checkpoints hold the weights only
        return
    opt_a, opt_b = a['optimizer']['state'], b['optimizer']['state']
    assert opt_a.keys() == opt_b.keys()
    for index, state in opt_a.items():
        for name, value in state.items():
            assert torch.allclose(torch.as_tensor(value).double(),
                                  torch.as_tensor(opt_b[index][name]).double(), rtol=0,
                                  atol=1e-6), (index, name)
    assert a['param_schedulers'] == b['param_schedulers']


def test_killed_anywhere_and_resumed_matches_uninterrupted(workspace):
    config = write_tiny_config(workspace / 'tiny.py')
    stalling = write_tiny_config(workspace / 'tiny_stalling.py', stall_on=STALL_ON)
    work_b = workspace / 'run_b'
    outputs = [workspace / f'run_b{k}.out' for k in (1, 2, 3)]
    # Run A and the first part of run B side by side (one thread each).
    run_a = _start(_train_cmd(config, 'run_a'), workspace, workspace / 'run_a.out')
    try:
        # Kill 1: while epoch 1 is validated; its only checkpoint is iter_3.pth.
        kill_when(_start(_train_cmd(config, 'run_b'), workspace, outputs[0]),
                  _validating(outputs[0], 1), 'validation of epoch 1', outputs[0])
        assert _checkpoint_files(work_b) == ['iter_3.pth']
        assert run_a.wait(timeout=600) == 0, f'run A failed:\n{_tail(workspace / "run_a.out")}'
    finally:
        run_a.kill()
        run_a.wait()

    # Kill 2: half-way through writing iter_6.pth, which replaces iter_4.pth (kept: 1).
    kill_when(_start(_train_cmd(stalling, 'run_b', '--resume'), workspace, outputs[1]),
              _half_written(work_b, STALL_ON), f'a half-written {STALL_ON}', outputs[1])
    log = outputs[1].read_text()
    assert 'resumed epoch: 0, iter: 3' in log
    assert 'skip the 3 batches of epoch 1' in log
    # Iterations 4 to 6 (the logger writes an iteration before its checkpoint is saved);
    # mmengine alone would train epoch 1 from its first batch again.
    assert [epoch for epoch, _, _ in _trained_iterations(log)] == ['1', '2', '2'], log[-3000:]
    assert _checkpoint_files(work_b) == ['best_mesh_PA-MPJPE_iter_4.pth', 'iter_4.pth']
    assert (work_b / 'last_checkpoint').read_text().endswith('iter_4.pth')
    assert len(list(work_b.glob(f'.{STALL_ON}.*.tmp'))) == 1

    log = _run(_train_cmd(config, 'run_b', '--resume'), cwd=workspace)
    assert 'resumed epoch: 1, iter: 4' in log
    assert f'.{STALL_ON}.' in log and 'which an earlier run was killed while writing' in log
    assert list(work_b.glob('.*.tmp')) == []
    # Only the iterations after iter_4.pth are trained again.
    assert len(_trained_iterations(log)) == ITERS_PER_EPOCH * MAX_EPOCHS - 4, \
        _trained_iterations(log)

    work_a = workspace / 'run_a'
    final = f'iter_{ITERS_PER_EPOCH * MAX_EPOCHS}.pth'
    assert _checkpoint_files(work_b) == _checkpoint_files(work_a)
    assert final in _checkpoint_files(work_a)
    for name in _checkpoint_files(work_a):
        a = torch.load(work_a / name, map_location='cpu')
        b = torch.load(work_b / name, map_location='cpu')
        _assert_same_training_state(a, b, optimizer=not name.startswith('best_'))
    a = torch.load(work_a / final, map_location='cpu')
    assert a['meta']['iter'] == ITERS_PER_EPOCH * MAX_EPOCHS


def test_killed_and_resumed_with_dataloader_workers_matches_uninterrupted(workspace):
    """With 2 persistent dataloader workers per loader, kill 1 of the scenario above and a
    resume to the end. The samples of epoch 1 after ``iter_3.pth`` are augmented in other
    workers than in run A (the resumed pass starts at batch 4); SampleSeedHook draws each
    sample's augmentation from (seed, epoch, index), so they are augmented alike."""
    config = write_tiny_config(workspace / 'tiny_workers.py', num_workers=2)
    work_a, work_b = workspace / 'workers_a', workspace / 'workers_b'
    output = workspace / 'workers_b1.out'
    run_a = _start(_train_cmd(config, work_a.name), workspace, workspace / 'workers_a.out')
    try:
        kill_when(_start(_train_cmd(config, work_b.name), workspace, output),
                  _validating(output, 1), 'validation of epoch 1', output)
        assert _checkpoint_files(work_b) == ['iter_3.pth']
        assert run_a.wait(timeout=600) == 0, \
            f'run A failed:\n{_tail(workspace / "workers_a.out")}'
    finally:
        run_a.kill()
        run_a.wait()
    log = _run(_train_cmd(config, work_b.name, '--resume'), cwd=workspace)
    assert 'resumed epoch: 0, iter: 3' in log and 'skip the 3 batches of epoch 1' in log
    assert len(_trained_iterations(log)) == ITERS_PER_EPOCH * MAX_EPOCHS - 3
    assert _checkpoint_files(work_b) == _checkpoint_files(work_a)
    for name in _checkpoint_files(work_a):
        a = torch.load(work_a / name, map_location='cpu')
        b = torch.load(work_b / name, map_location='cpu')
        _assert_same_training_state(a, b, optimizer=not name.startswith('best_'))
