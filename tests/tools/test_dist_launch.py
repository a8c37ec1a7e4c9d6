"""tools/dist_*.sh pick a free port on one node, and tools/train.py warns off the recipe.

The launch scripts run with PYTHON set to a stand-in that prints the torchrun command
instead of starting it (and runs the real interpreter for the port one-liner).
"""
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def echo_python(tmp_path):
    script = tmp_path / 'python'
    script.write_text(f'#!/bin/sh\nif [ "$1" = -c ]; then exec {sys.executable} "$@"; fi\n'
                      'echo "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def _launch(tool, args, python, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ('PORT', 'NNODES')}
    environment.update(PYTHON=python, **env)
    return subprocess.run(['bash', str(ROOT / 'tools' / tool), *args], env=environment,
                          capture_output=True, text=True)


def _port(output):
    return int(next(a for a in output.split() if a.startswith('--master_port=')).split('=')[1])


@pytest.mark.parametrize('tool,args', [('dist_train.sh', ['c.py', '2']),
                                       ('dist_test.sh', ['c.py', 'c.pth', '2'])])
def test_free_port_by_default_and_port_override(echo_python, tool, args):
    ports = {_port(_launch(tool, args, echo_python).stdout) for _ in range(2)}
    assert 29500 not in ports and all(1024 <= p < 65536 for p in ports)
    assert _port(_launch(tool, args, echo_python, PORT='12345').stdout) == 12345
    several = _launch(tool, args, echo_python, NNODES='2')
    assert several.returncode == 2 and 'set PORT' in several.stderr


def _train_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('tools_train', ROOT / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_batch_mismatch_is_named_and_amp_starts_low():
    tool = _train_tool()
    config = str(ROOT / 'configs' / 'fastmetro_s_r50_h36m.py')
    cfg = tool.merge_args(Config.fromfile(config), tool.parse_args([config, '--amp']))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == dict(init_scale=2.0**8)
    assert tool.recipe_batch_mismatch(cfg, 4) is None  # 4 x 16 = 64, the recipe
    warning = tool.recipe_batch_mismatch(cfg, 8)
    assert '8 process(es) x batch 16 = 128' in warning and 'base_batch_size = 64' in warning
    assert 'train_dataloader.batch_size=8' in warning and '--auto-scale-lr' in warning
    scaled = tool.merge_args(Config.fromfile(config),
                             tool.parse_args([config, '--auto-scale-lr']))
    assert tool.recipe_batch_mismatch(scaled, 8) is None
