"""A run killed mid-epoch and resumed ends with the weights of an uninterrupted run.

The synthetic FastMETRO-S config is shrunk to 8 training images of 64 x 64, batches of 2
(4 iterations per epoch), 2 epochs with validation, a checkpoint every 3 iterations, a
ResNet-18 backbone (smaller checkpoints to write), seed fixed and deterministic mode, one
process and no dataloader workers. Run A trains without interruption. Run B is started as a
separate ``tools/train.py`` process and killed with SIGKILL once the checkpoint of iteration
3 (3 of the 4 batches of epoch 1) is written; it is then resumed from that checkpoint with
``--resume``. The later checkpoints of A and B (iterations 6 and 8) must hold the same
weights, optimizer state and counters.

Without ``ResumeStateHook`` this fails: mmengine restarts epoch 1 at its first batch (the
resumed B trains 8 iterations instead of 5) and draws augmentations and dropout masks from
re-seeded generators. Measured on CPU: with the hook the checkpoints are bit-identical;
without the RNG restore the weights differ by up to 0.39, with the RNG restore but the global
torch generator feeding the DataLoader's base seed by up to 0.04.
"""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'fastmetro_s_r50_synthetic.py'
KILL_AFTER_ITER = 3
ITERS_PER_EPOCH = 4
MAX_EPOCHS = 2


def _env() -> Dict[str, str]:
    # One thread: CPU kernels then reduce in a fixed order, and the shared machine stays free.
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')


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


def write_tiny_config(path: Path, with_resume_hook: bool = True) -> Path:
    """The synthetic config at test size (see the module docstring), written to ``path``."""
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.backbone.depth = 18
    cfg.model.head.in_channels = 512
    for loader, batch_size in ((cfg.train_dataloader, 2), (cfg.val_dataloader, 4)):
        loader.update(batch_size=batch_size, num_workers=0, persistent_workers=False)
        _set_input_size(loader.dataset.pipeline, (64, 64))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.update(max_epochs=MAX_EPOCHS, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=3, by_epoch=False, max_keep_ckpts=-1)
    cfg.randomness = dict(seed=7, deterministic=True)
    if not with_resume_hook:
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'ResumeStateHook']
    assert any(h['type'] == 'ResumeStateHook' for h in cfg.custom_hooks) == with_resume_hook
    cfg.dump(str(path))
    return path


@pytest.fixture(scope='module')
def workspace(synthetic_data_dir, tmp_path_factory) -> Path:
    """Folder with data/synthetic (model files) and an 8 + 4 image rendered dataset."""
    root = tmp_path_factory.mktemp('exact_resume')
    (root / 'data').mkdir()
    (root / 'data' / 'synthetic').symlink_to(synthetic_data_dir, target_is_directory=True)
    _run([sys.executable, str(ROOT / 'tools' / 'dataset_converters' / 'make_synthetic.py'),
          '--model-dir', 'data/synthetic', '--out-dir', 'data/synthetic_dataset',
          '--num-train', str(ITERS_PER_EPOCH * 2), '--num-test', '4', '--image-size', '64',
          '64', '--seed', '2'], cwd=root)
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


def train_until_killed(proc: subprocess.Popen, work: Path, output: Path) -> None:
    """SIGKILLs a training process once iteration KILL_AFTER_ITER's checkpoint is complete."""
    marker = work / 'last_checkpoint'  # CheckpointHook writes it once a checkpoint is saved
    wanted = f'iter_{KILL_AFTER_ITER}.pth'
    try:
        deadline = time.monotonic() + 600
        while not (marker.is_file() and marker.read_text().strip().endswith(wanted)):
            assert proc.poll() is None, f'training ended before {wanted}:\n{_tail(output)}'
            assert time.monotonic() < deadline, f'no {wanted} after 600 s'
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # The kill lands within the next iteration, long before the run's end.
    assert not (work / f'iter_{ITERS_PER_EPOCH * MAX_EPOCHS}.pth').exists()


def run_uninterrupted_and_killed_resumed(workspace: Path, config: Path) -> str:
    """Run A (``run_a``) and run B (``run_b``: killed, then resumed); returns B's resumed log.

    A and the first part of B run side by side (one thread each).
    """
    output_a, output_b = workspace / 'run_a.out', workspace / 'run_b.out'
    run_a = _start(_train_cmd(config, 'run_a'), workspace, output_a)
    try:
        run_b = _start(_train_cmd(config, 'run_b'), workspace, output_b)
        train_until_killed(run_b, workspace / 'run_b', output_b)
        assert run_a.wait(timeout=600) == 0, f'run A failed:\n{_tail(output_a)}'
    finally:
        run_a.kill()
        run_a.wait()
    checkpoint = workspace / 'run_b' / f'iter_{KILL_AFTER_ITER}.pth'
    return _run(_train_cmd(config, 'run_b', '--resume', str(checkpoint)), cwd=workspace)


def _assert_same_training_state(a: dict, b: dict) -> None:
    assert (b['meta']['epoch'], b['meta']['iter']) == (a['meta']['epoch'], a['meta']['iter'])
    assert a['state_dict'].keys() == b['state_dict'].keys()
    differing = [k for k, v in a['state_dict'].items()
                 if not torch.allclose(v.double(), b['state_dict'][k].double(), rtol=0,
                                       atol=1e-6)]
    assert differing == [], f'{len(differing)} of {len(a["state_dict"])} tensors differ, ' \
        f'e.g. {differing[:5]}'
    opt_a, opt_b = a['optimizer']['state'], b['optimizer']['state']
    assert opt_a.keys() == opt_b.keys()
    for index, state in opt_a.items():
        for name, value in state.items():
            assert torch.allclose(torch.as_tensor(value).double(),
                                  torch.as_tensor(opt_b[index][name]).double(), rtol=0,
                                  atol=1e-6), (index, name)
    assert a['param_schedulers'] == b['param_schedulers']


def test_killed_mid_epoch_and_resumed_matches_uninterrupted(workspace):
    config = write_tiny_config(workspace / 'tiny.py')
    log = run_uninterrupted_and_killed_resumed(workspace, config)
    assert f'resumed epoch: 0, iter: {KILL_AFTER_ITER}' in log
    assert f'skip the {KILL_AFTER_ITER} batches of epoch 1' in log
    # The logger writes every iteration: the resumed run trains the remaining ones only
    # (mmengine alone would train epoch 1 from its first batch again).
    trained = re.findall(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]', log)
    assert len(trained) == ITERS_PER_EPOCH * MAX_EPOCHS - KILL_AFTER_ITER, trained
    final = f'iter_{ITERS_PER_EPOCH * MAX_EPOCHS}.pth'
    a = torch.load(workspace / 'run_a' / final, map_location='cpu')
    b = torch.load(workspace / 'run_b' / final, map_location='cpu')
    assert a['meta']['iter'] == ITERS_PER_EPOCH * MAX_EPOCHS
    _assert_same_training_state(a, b)
    # The checkpoints between the kill and the end agree as well (same iterations, no extra).
    for step in range(KILL_AFTER_ITER + 3, ITERS_PER_EPOCH * MAX_EPOCHS, 3):
        _assert_same_training_state(
            torch.load(workspace / 'run_a' / f'iter_{step}.pth', map_location='cpu'),
            torch.load(workspace / 'run_b' / f'iter_{step}.pth', map_location='cpu'))
