"""tools/quickstart_hand.py (`make quickstart-hand`) at toy size, and its verdict.

The end-to-end test runs every step of the hand quickstart (render, backbone warm-up, train,
test with rendered predictions, mean-hand baseline, pictures) on 8 training and 4 test hands
for two one-iteration epochs: it checks the plumbing (every printed number, the verdict, both
pictures, a validation point per epoch), not the accuracy, which only the full run (README) can
show.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

ROOT = Path(__file__).resolve().parents[2]
ERRORS = ('mesh/PA-MPJPE', 'mesh/PA-MPVPE')
F_SCORES = ('mesh/F@5mm', 'mesh/F@15mm')
METRICS = ERRORS + F_SCORES
EPOCHS = 2
TEST_IMAGES = 4


def _load_tool():
    tools = str(ROOT / 'tools')
    if tools not in sys.path:  # the tool imports the body quickstart's steps as its sibling
        sys.path.insert(0, tools)
    spec = importlib.util.spec_from_file_location('tools_quickstart_hand',
                                                  ROOT / 'tools' / 'quickstart_hand.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table_row(console: str, label: str) -> list:
    """The numbers of the printed table's row that starts with ``label``."""
    rows = [line for line in console.splitlines() if line.startswith(label + '  ')]
    assert len(rows) == 1, f'{label!r}: {rows}\n{console[-3000:]}'
    return [float(cell.rstrip('%')) for cell in rows[0][len(label):].split('(')[0].split()]


def _command(root: Path, model_dir: Path) -> list:
    return [sys.executable, str(ROOT / 'tools' / 'quickstart_hand.py'), '--work-dir',
            str(root / 'work'), '--model-dir', str(model_dir), '--data-dir',
            str(root / 'data'), '--num-train', '8', '--num-test', str(TEST_IMAGES),
            '--max-epochs', str(EPOCHS), '--warmup-epochs', '1', '--num-pictures',
            str(TEST_IMAGES)]


@pytest.fixture(scope='module')
def quickstart_run(synthetic_data_dir, tmp_path_factory):
    """Output folder and console text of a toy hand quickstart."""
    root = tmp_path_factory.mktemp('quickstart_hand')
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(_command(root, synthetic_data_dir), cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    # Exit status 1 means "did not clearly beat the baseline", expected after two iterations.
    assert proc.returncode in (0, 1), f'{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}'
    return root, proc.stdout, proc.returncode


def test_hand_quickstart_runs_every_step_and_writes_its_pictures(quickstart_run):
    root, console, _ = quickstart_run
    work = root / 'work'
    for name in ('warmup/epoch_1.pth', f'epoch_{EPOCHS}.pth', 'test_metrics.json',
                 'baseline_metrics.json', 'training_curves.png'):
        assert (work / name).is_file(), f'{name} missing; console:\n{console[-3000:]}'
    assert (root / 'data' / 'training_mano.json').is_file()  # FreiHAND's layout
    # FastMETRO-S started from the warmed-up backbone.
    assert f'load backbone. in model from: {work}/warmup/epoch_1.pth' in console
    assert len(list((work / 'test').glob('*/predictions/*'))) == TEST_IMAGES

    # The curves: a validation point per epoch with the hand's metrics.
    scalars = sorted(work.glob('*/vis_data/scalars.json'))[-1]
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    validations = [r for r in records if 'mesh/PA-MPJPE' in r]
    assert [r['step'] for r in validations] == list(range(1, EPOCHS + 1))
    assert all(key in r for r in validations for key in METRICS)

    # The figure: one row of at least 256 px per test image, three pictures wide, always
    # drawn (a mesh predicted behind the camera after two updates only loses its overlay).
    figure = cv2.imread(str(work / 'predictions.png'))
    assert figure.shape[0] >= TEST_IMAGES * 256 and figure.shape[1] >= 3 * 256, figure.shape
    assert f'predictions.png ({figure.shape[1]} x {figure.shape[0]} px, {TEST_IMAGES} test ' \
        'images)' in console


def test_hand_quickstart_prints_every_metric_and_its_verdict(quickstart_run):
    root, console, returncode = quickstart_run
    work = root / 'work'
    model = json.loads((work / 'test_metrics.json').read_text())
    baseline = json.loads((work / 'baseline_metrics.json').read_text())
    for metrics in (model, baseline):
        for key in ERRORS:
            assert metrics[f'{key}_count'] == TEST_IMAGES
            assert 0 < metrics[key] < 1e4
        for key in F_SCORES:
            assert 0 <= metrics[key] <= 1
    header = [line for line in console.splitlines() if '(mm lower is better' in line]
    assert header and header[0].split()[:4] == ['PA-MPJPE', 'PA-MPVPE', 'F@5mm', 'F@15mm']
    assert _table_row(console, 'FastMETRO-S (trained)') == pytest.approx(
        [model[key] for key in METRICS], abs=0.051)
    assert _table_row(console, 'mean-hand baseline') == pytest.approx(
        [baseline[key] for key in METRICS], abs=0.051)
    expected = [100 * (1 - model[key] / baseline[key]) for key in ERRORS] + \
        [model[key] - baseline[key] for key in F_SCORES]
    assert _table_row(console, 'gain over the baseline') == pytest.approx(expected, abs=0.51)
    # The verdict agrees with the exit status.
    passed = all(1 - model[k] / baseline[k] >= 0.2 for k in ERRORS) and \
        all(model[k] > baseline[k] for k in F_SCORES)
    assert returncode == (0 if passed else 1)
    verdict = [line for line in console.splitlines() if line.startswith(('PASS:', 'FAIL:'))]
    assert len(verdict) == 1 and verdict[0].startswith('PASS:' if passed else 'FAIL:')
    for key in METRICS:
        assert key.split('/')[1] in verdict[0], verdict[0]


def test_hand_quickstart_gate_needs_both_errors_and_both_f_scores():
    tool = _load_tool()
    baseline = {'mesh/PA-MPJPE': 10.0, 'mesh/PA-MPVPE': 10.0, 'mesh/F@5mm': 0.3,
                'mesh/F@15mm': 0.9}
    model = {'mesh/PA-MPJPE': 8.0, 'mesh/PA-MPVPE': 7.0, 'mesh/F@5mm': 0.4,
             'mesh/F@15mm': 0.95}
    passed, text = tool.verdict(model, baseline)
    assert passed and text.startswith('PASS:')
    passed, text = tool.verdict(dict(model, **{'mesh/PA-MPVPE': 8.5}), baseline)
    assert not passed and text.startswith('FAIL: PA-MPVPE (15% below)')
    passed, text = tool.verdict(dict(model, **{'mesh/F@15mm': 0.9}), baseline)
    assert not passed and 'F@15mm (0.900 <= 0.900)' in text


def test_hand_quickstart_reuses_what_exists(quickstart_run, synthetic_data_dir):
    root, _, _ = quickstart_run
    before = (root / 'work' / f'epoch_{EPOCHS}.pth').stat().st_mtime_ns
    proc = subprocess.run(_command(root, synthetic_data_dir), cwd=root, capture_output=True,
                          text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES=''))
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    assert 'exists, reused' in proc.stdout
    assert 'warmup/epoch_1.pth exists, training skipped' in proc.stdout
    assert (root / 'work' / f'epoch_{EPOCHS}.pth').stat().st_mtime_ns == before
