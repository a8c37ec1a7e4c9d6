"""tools/train.py, tools/test.py and tools/dist_{train,test}.sh end to end on CPU.

A tiny synthetic dataset (8 train, 4 test images of 96 x 96) is rendered with
tools/dataset_converters/make_synthetic.py from the session's synthetic body model; the
synthetic FastMETRO-S config trains one epoch with two torchrun processes (gloo, CPU DDP);
the checkpoint is then tested with two processes and with one, which must agree; finally
``--resume`` continues the run from that checkpoint. The tools run in a scratch folder whose
``data/synthetic`` and ``data/synthetic_dataset`` are what the config's relative paths name.
"""
import importlib.util
import json
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config

from fastmetro_mm.engine.launch import configure_cpu_ddp

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'fastmetro_s_r50_synthetic.py'
#: Small batches, no worker processes, a log line per iteration.
COMMON_OPTIONS = [
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1'
]
METRICS = ('mesh/MPJPE', 'mesh/PA-MPJPE', 'mesh/MPVPE', 'mesh/PA-MPVPE')


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'tools_{name}', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _run(cmd: List[str], cwd: Path) -> str:
    """Runs a tool; its output is shown when it fails."""
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1',
               CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{proc.stdout[-4000:]}\n' \
        f'{proc.stderr[-6000:]}'
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def workspace(synthetic_data_dir, tmp_path_factory) -> Path:
    """Scratch folder with data/synthetic (the session's model files) and a rendered dataset."""
    root = tmp_path_factory.mktemp('train_test')
    (root / 'data').mkdir()
    (root / 'data' / 'synthetic').symlink_to(synthetic_data_dir, target_is_directory=True)
    _run([sys.executable, str(ROOT / 'tools' / 'dataset_converters' / 'make_synthetic.py'),
          '--model-dir', 'data/synthetic', '--out-dir', 'data/synthetic_dataset',
          '--num-train', '8', '--num-test', '4', '--image-size', '96', '96', '--seed', '1'],
         cwd=root)
    return root


@pytest.fixture(scope='module')
def trained(workspace) -> Path:
    """Work dir of one epoch (2 iterations x 2 processes x 2 images) of distributed training."""
    _run(['bash', str(ROOT / 'tools' / 'dist_train.sh'), str(CONFIG), '2', '--work-dir', 'work',
          '--no-validate', '--cfg-options', 'train_cfg.max_epochs=1', *COMMON_OPTIONS],
         cwd=workspace)
    return workspace / 'work'


def _metrics(path: Path) -> Dict[str, float]:
    values = json.loads(path.read_text())
    for name in METRICS:
        assert name in values, f'{path}: no {name} in {sorted(values)}'
        assert values[f'{name}_count'] == 4
        assert 0 < values[name] < 1e4
    return values


def test_distributed_training_writes_one_checkpoint(trained):
    assert sorted(p.name for p in trained.glob('*.pth')) == ['epoch_1.pth']
    assert Path((trained / 'last_checkpoint').read_text().strip()) == trained / 'epoch_1.pth'
    checkpoint = torch.load(trained / 'epoch_1.pth', map_location='cpu')
    assert checkpoint['meta']['epoch'] == 1 and checkpoint['meta']['iter'] == 2
    keys = list(checkpoint['state_dict'])
    assert any(k.startswith('backbone.') for k in keys)
    assert any(k.startswith('head.network.') for k in keys)
    # DDP's "module." prefix is stripped and no body-model buffer is saved.
    assert all(k.startswith(('backbone.', 'head.network.')) for k in keys), keys[:5]


def test_two_process_and_one_process_tests_agree(trained, workspace):
    checkpoint = str(trained / 'epoch_1.pth')
    _run(['bash', str(ROOT / 'tools' / 'dist_test.sh'), str(CONFIG), checkpoint, '2',
          '--work-dir', 'test_2', '--out', 'metrics_2.json', '--dump', 'preds_2.pkl',
          '--cfg-options', 'test_dataloader.batch_size=1', *COMMON_OPTIONS], cwd=workspace)
    _run([sys.executable, str(ROOT / 'tools' / 'test.py'), str(CONFIG), checkpoint,
          '--work-dir', 'test_1', '--out', 'metrics_1.json', '--cfg-options',
          'test_dataloader.batch_size=4', *COMMON_OPTIONS], cwd=workspace)
    two, one = _metrics(workspace / 'metrics_2.json'), _metrics(workspace / 'metrics_1.json')
    for name in METRICS:
        # Only the batch composition differs (1 vs 4 images): float32 rounding.
        assert two[name] == pytest.approx(one[name], rel=1e-5, abs=1e-4), name
    with open(workspace / 'preds_2.pkl', 'rb') as file:  # written by this test's own run
        dumped = pickle.load(file)
    assert len(dumped) == 4
    assert len({sample['img_path'] for sample in dumped}) == 4
    assert dumped[0]['pred_instances']['vertices'].shape == (1, 6890, 3)


def test_resume_auto_continues_from_the_checkpoint(trained, workspace):
    log = _run(['bash', str(ROOT / 'tools' / 'dist_train.sh'), str(CONFIG), '2', '--work-dir',
                'work', '--resume', '--no-validate', '--cfg-options', 'train_cfg.max_epochs=2',
                *COMMON_OPTIONS], cwd=workspace)
    assert 'Auto resumed from the latest checkpoint' in log
    assert 'resumed epoch: 1, iter: 2' in log
    assert sorted(p.name for p in trained.glob('*.pth')) == ['epoch_1.pth', 'epoch_2.pth']
    checkpoint = torch.load(trained / 'epoch_2.pth', map_location='cpu')
    assert checkpoint['meta']['epoch'] == 2 and checkpoint['meta']['iter'] == 4


def test_train_arguments_reach_the_config():
    tool = _load_tool('train')
    cfg = Config.fromfile(str(CONFIG))
    args = tool.parse_args([str(CONFIG), '--resume', '--amp', '--no-validate',
                            '--auto-scale-lr'])
    tool.merge_args(cfg, args)
    assert (cfg.resume, cfg.load_from) == (True, None)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None
    assert cfg.auto_scale_lr.enable is True
    assert cfg.work_dir == os.path.join('./work_dirs', 'fastmetro_s_r50_synthetic')
    cfg = Config.fromfile(str(CONFIG))
    tool.merge_args(cfg, tool.parse_args([str(CONFIG), '--resume', 'a/epoch_3.pth',
                                          '--work-dir', 'w']))
    assert (cfg.resume, cfg.load_from, cfg.work_dir) == (True, 'a/epoch_3.pth', 'w')


def test_test_arguments_reach_the_config():
    tool = _load_tool('test')
    cfg = Config.fromfile(str(CONFIG))
    tool.merge_args(cfg, tool.parse_args([str(CONFIG), 'c.pth', '--dump', 'p.pkl']))
    assert cfg.load_from == 'c.pth'
    assert [e['type'] for e in cfg.test_evaluator] == ['MeshMetric', 'StreamedDumpResults']
    with pytest.raises(ValueError, match='--dump'):
        tool.merge_args(Config.fromfile(str(CONFIG)),
                        tool.parse_args([str(CONFIG), 'c.pth', '--dump', 'p.json']))


def test_cpu_ddp_settings_only_without_gpus():
    cfg = dict(model_wrapper_cfg=dict(type='MMDistributedDataParallel',
                                      find_unused_parameters=True),
               env_cfg=dict(dist_cfg=dict(backend='nccl')))
    configure_cpu_ddp(cfg, 'none')
    assert cfg['model_wrapper_cfg'] == dict(type='MMDistributedDataParallel',
                                            find_unused_parameters=True)
    configure_cpu_ddp(cfg, 'pytorch')
    if torch.cuda.is_available():  # GPUs keep NCCL and mmengine's device ids
        assert cfg['env_cfg']['dist_cfg']['backend'] == 'nccl'
        assert 'device_ids' not in cfg['model_wrapper_cfg']
    else:
        assert cfg['env_cfg']['dist_cfg']['backend'] == 'gloo'
        assert cfg['model_wrapper_cfg'] == dict(type='MMDistributedDataParallel',
                                                find_unused_parameters=True, device_ids=None)
        with pytest.raises(ValueError, match='model_wrapper_cfg'):
            configure_cpu_ddp(dict(model_wrapper_cfg=dict(type='Other')), 'pytorch')
