"""The synthetic hand through tools/train.py and tools/test.py on CPU.

A tiny synthetic hand dataset in FreiHAND's layout (4 training, 2 evaluation images of
224 x 224) is rendered with ``tools/dataset_converters/make_synthetic.py --hand`` from the
session's synthetic MANO; configs/fastmetro_s_r50_synthetic_hand.py trains one epoch (two
iterations of two images, validated at its end) and its checkpoint is tested, scored with
FreiHAND's protocol. The tools run in a scratch folder whose ``data/synthetic`` and
``data/synthetic_hand`` are what the config's relative paths name.
"""
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from test_train_test import _run  # runs a tool on the CPU, its output shown on failure

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'fastmetro_s_r50_synthetic_hand.py'
NUM_TRAIN, NUM_TEST = 4, 2
#: Small batches, no worker processes, a log line per iteration.
OPTIONS = [
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1'
]
#: FreiHAND's protocol: wrist-relative and Procrustes-aligned errors (mm), F-scores.
HAND_METRICS = ('MPJPE', 'PA-MPJPE', 'MPVPE', 'PA-MPVPE', 'F@5mm', 'F@15mm')


@pytest.fixture(scope='module')
def workspace(synthetic_data_dir, tmp_path_factory) -> Path:
    """Scratch folder with data/synthetic (the session's MANO files) and a rendered hand set."""
    root = tmp_path_factory.mktemp('train_test_hand')
    (root / 'data').mkdir()
    (root / 'data' / 'synthetic').symlink_to(synthetic_data_dir, target_is_directory=True)
    _run([sys.executable, str(ROOT / 'tools' / 'dataset_converters' / 'make_synthetic.py'),
          '--model-dir', 'data/synthetic', '--out-dir', 'data/synthetic_hand', '--hand',
          '--num-train', str(NUM_TRAIN), '--num-test', str(NUM_TEST), '--seed', '1'],
         cwd=root)
    return root


@pytest.fixture(scope='module')
def trained(workspace) -> Path:
    """Work dir of one epoch of training, validated at its end; returns the work dir."""
    log = _run([sys.executable, str(ROOT / 'tools' / 'train.py'), str(CONFIG), '--work-dir',
                'work', '--cfg-options', 'train_cfg.max_epochs=1', *OPTIONS], cwd=workspace)
    for name in HAND_METRICS:  # the validation at the epoch's end scores every hand metric
        assert f'mesh/{name}: ' in log, f'mesh/{name} not logged:\n{log[-3000:]}'
    return workspace / 'work'


def test_hand_training_writes_the_checkpoints(trained):
    names = sorted(p.name for p in trained.glob('*.pth'))
    assert names == ['best_mesh_PA-MPJPE_epoch_1.pth', 'epoch_1.pth'], names
    checkpoint = torch.load(trained / 'epoch_1.pth', map_location='cpu')
    assert checkpoint['meta']['epoch'] == 1
    assert checkpoint['meta']['iter'] == NUM_TRAIN // 2
    keys = list(checkpoint['state_dict'])
    # Backbone and network only: no MANO buffer, no up-sampler, no regressor.
    assert all(k.startswith(('backbone.', 'head.network.')) for k in keys), keys[:5]
    # The hand network: 21 joint tokens and 195 vertex tokens.
    assert checkpoint['state_dict']['head.network.joint_tokens.weight'].shape[0] == 21
    assert checkpoint['state_dict']['head.network.vertex_tokens.weight'].shape[0] == 195


def test_hand_checkpoint_tests_with_freihand_metrics(trained, workspace):
    log = _run([sys.executable, str(ROOT / 'tools' / 'test.py'), str(CONFIG),
                str(trained / 'epoch_1.pth'), '--work-dir', 'test', '--out', 'metrics.json',
                '--cfg-options', 'test_dataloader.batch_size=2', *OPTIONS], cwd=workspace)
    metrics = json.loads((workspace / 'metrics.json').read_text())
    reported = [key for key in metrics if not key.endswith('_count')]
    assert {f'mesh/{name}' for name in HAND_METRICS} <= set(reported), reported
    for key in reported:  # every metric the evaluator reports: printed, finite, all samples
        assert f'{key}: ' in log, f'{key} not printed:\n{log[-3000:]}'
        assert math.isfinite(metrics[key]), (key, metrics[key])
        assert metrics.get(f'{key}_count', NUM_TEST) == NUM_TEST, key
    for name in HAND_METRICS:
        value = metrics[f'mesh/{name}']
        if name.startswith('F@'):
            assert 0.0 <= value <= 1.0, (name, value)
        else:
            assert 0.0 < value < 1e4, (name, value)
    assert metrics['mesh/F@5mm'] <= metrics['mesh/F@15mm']
