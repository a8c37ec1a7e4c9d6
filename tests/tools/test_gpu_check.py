"""tools/analysis/gpu_check.sh on CPU (its DEVICE=cpu dry run) and its speed-goal table.

The dry run goes through the GPU check's steps with a tiny synthetic dataset: training
through dist_train.sh (one process, gloo), testing through dist_test.sh and tools/test.py,
the metric comparison. The speed table is checked in this process (tools/analysis/
speed_goal.py's main), which spares the dry run one interpreter start-up.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'tools' / 'analysis' / 'gpu_check.sh'
STEPS = ('environment', 'synthetic-models', 'synthetic-dataset', 'train', 'dist-test-cpu',
         'test-cpu', 'compare-metrics')


def _check(env: dict, work: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               **env)
    return subprocess.run(['bash', str(SCRIPT), str(work)], env=env, capture_output=True,
                          text=True, timeout=300)


def _summary(output: str) -> dict:
    """Step name -> outcome (ok / FAIL / skipped) from the summary at the end."""
    lines = output.split('=== gpu_check summary', 1)[1].splitlines()[1:]
    return {line.split()[1]: line.split()[0] for line in lines if line.startswith('  ')}


def test_script_parses():
    subprocess.run(['bash', '-n', str(SCRIPT)], check=True)


def test_dry_run_trains_tests_and_compares_on_cpu(synthetic_data_dir, tmp_path):
    work = tmp_path / 'check'
    proc = _check(dict(DEVICE='cpu', SYNTHETIC_DIR=str(synthetic_data_dir),
                       SKIP_STEPS='speed-table'), work)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    summary = _summary(proc.stdout)
    assert summary == {**{step: 'ok' for step in STEPS}, 'speed-table': 'skipped'}, summary
    assert (work / 'train' / 'epoch_1.pth').is_file()
    device, cpu = (json.loads((work / name).read_text())
                   for name in ('metrics_device.json', 'metrics_cpu.json'))
    assert device['mesh/MPJPE_count'] == 4 and device['mesh/MPJPE'] == pytest.approx(
        cpu['mesh/MPJPE'], abs=0.05)
    assert 'mesh/MPJPE' in proc.stdout and 'tolerance 0.05 mm' in proc.stdout
    assert (work / 'gpu_check.log').read_text().count('=== [') == len(STEPS) + 1


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without CUDA')
def test_a_failing_step_is_named_and_fails_the_check(synthetic_data_dir, tmp_path):
    later = 'synthetic-dataset train dist-test-cuda test-cpu compare-metrics speed-table'
    proc = _check(dict(DEVICE='cuda', SYNTHETIC_DIR=str(synthetic_data_dir), SKIP_STEPS=later),
                  tmp_path / 'check')
    assert proc.returncode == 1
    summary = _summary(proc.stdout)
    assert summary['environment'] == 'FAIL' and summary['synthetic-models'] == 'ok'
    assert 'torch sees no CUDA device' in proc.stdout
    assert 'gpu_check: FAILED (1 of 8 steps)' in proc.stdout


def _speed_goal():
    path = ROOT / 'tools' / 'analysis' / 'speed_goal.py'
    spec = importlib.util.spec_from_file_location('tools_speed_goal', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_speed_goal_prints_the_benchmark_and_the_goal(synthetic_data_dir, capsys):
    tool = _speed_goal()
    config = str(ROOT / 'configs' / 'fastmetro_s_r50_synthetic.py')
    assert tool.main(['--device', 'cpu', '--synthetic-dir', str(synthetic_data_dir),
                      '--configs', config, '--settings', 'eager:fp32', '--batch-sizes', '1',
                      '2', '--warmup', '0', '--repeats', '1', '--input-size', '64', '64']) == 0
    out = capsys.readouterr().out
    assert 'latency ms' in out  # benchmark.py's own table
    assert 'fastmetro_s_r50_synthetic  eager:fp32' in out and 'img/s B=2' in out


def test_goal_is_ten_times_the_paper_fps():
    lines = _speed_goal().format_goals(
        [dict(name='fastmetro_s_r50_h36m', setting='compile:bf16', speed={1: 300.0, 32: 600.0}),
         dict(name='fastmetro_l_h64_h36m', setting='eager:fp32', speed={1: 50.0, 32: 142.0})],
        [1, 32], 10.0)
    assert lines[1].split()[-3:] == ['300.0', '600.0', 'yes'] and ' 585 ' in lines[1]
    assert lines[2].split()[-1] == 'no' and ' 143 ' in lines[2]
