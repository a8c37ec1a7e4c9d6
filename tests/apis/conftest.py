"""A small FastMETRO-S model on the synthetic body, saved as a checkpoint, for the API tests."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'visualization'))
from scene_helpers import save_mesh_checkpoint  # noqa: E402


@pytest.fixture(scope='session')
def mesh_checkpoint(synthetic_data_dir, tmp_path_factory) -> dict:
    """Config, overrides and checkpoint of a random-weight model with a fixed camera."""
    folder = tmp_path_factory.mktemp('api_model')
    return save_mesh_checkpoint(synthetic_data_dir, folder / 'fastmetro_s_synthetic.pth')
