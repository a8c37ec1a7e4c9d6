"""Session-wide fixtures shared by the test packages.

``synthetic_data_dir`` fills a temporary folder once per test session with the licence-free
stand-ins of every body-model file the configs read, under the names that
``tools/make_synthetic_models.py --out-dir`` writes (and ``configs/*_synthetic.py`` expect
under ``data/synthetic/``). Building them takes ~20 s, so only tests that ask for the
fixture pay, and they pay once.

This file must not import mmengine / mmpose: the mesh-core and synthetic tests run without the
toolbox.
"""
from pathlib import Path

import numpy as np
import pytest

from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.synthetic import (make_synthetic_h36m_regressor, make_synthetic_mano,
                                   make_synthetic_smpl, mano_file_name, smpl_file_name,
                                   write_model_file)

#: File names in the synthetic data folder (as tools/make_synthetic_models.py writes them).
SYNTHETIC_FILES = {
    'smpl': smpl_file_name('neutral'),
    'mano': mano_file_name(True),
    'h36m_regressor': 'J_regressor_h36m_synthetic.npy',
    'body_hierarchy': 'synthetic_downsampling.npz',
    'hand_hierarchy': 'synthetic_mano_downsampling.npz',
}


@pytest.fixture(scope='session')
def synthetic_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with SMPL_{NEUTRAL,MALE,FEMALE}.pkl, MANO_RIGHT.pkl,
    J_regressor_h36m_synthetic.npy, synthetic_downsampling.npz (6890 -> 1723 -> 431) and
    synthetic_mano_downsampling.npz (778 -> 195 -> 49 -> 13 -> 4)."""
    root = tmp_path_factory.mktemp('synthetic_data')
    body = make_synthetic_smpl('neutral')
    for gender in ('neutral', 'male', 'female'):
        write_model_file(body if gender == 'neutral' else make_synthetic_smpl(gender),
                         root / smpl_file_name(gender))
    hand = make_synthetic_mano(True)
    write_model_file(hand, root / SYNTHETIC_FILES['mano'])
    np.save(root / SYNTHETIC_FILES['h36m_regressor'], make_synthetic_h36m_regressor(body))
    MeshHierarchy.build(body['v_template'], body['f'], factors=(4, 4)).save(
        root / SYNTHETIC_FILES['body_hierarchy'])
    MeshHierarchy.build(hand['v_template'], hand['f'], factors=(4, 4, 4, 4)).save(
        root / SYNTHETIC_FILES['hand_hierarchy'])
    return root
