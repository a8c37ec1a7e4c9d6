"""Fixture of the projects/ tests: a tiny rendered synthetic body dataset.

``project_workspace`` is a scratch folder laid out as the project configs expect when run
from the repository root: ``data/synthetic`` (the session's synthetic model files) and
``data/synthetic_dataset`` (4 train and 2 test images of 64 x 64 rendered by
tools/dataset_converters/make_synthetic.py).
"""
import subprocess
import sys
from pathlib import Path

import pytest

from projects_helpers import ROOT


@pytest.fixture(scope='session')
def project_workspace(synthetic_data_dir, tmp_path_factory) -> Path:
    """Folder with data/synthetic and a 4 + 2 image synthetic body dataset (64 x 64)."""
    root = tmp_path_factory.mktemp('projects')
    (root / 'data').mkdir()
    (root / 'data' / 'synthetic').symlink_to(synthetic_data_dir, target_is_directory=True)
    # A separate process: OpenGL (OSMesa) loaded into the test process next to torch and
    # torchvision has crashed it; tests/tools/test_train_test.py renders the same way.
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'dataset_converters' / 'make_synthetic.py'),
         '--model-dir', 'data/synthetic', '--out-dir', 'data/synthetic_dataset',
         '--num-train', '4', '--num-test', '2', '--image-size', '64', '64', '--seed', '5'],
        cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f'make_synthetic.py failed:\n{proc.stderr[-4000:]}'
    return root
