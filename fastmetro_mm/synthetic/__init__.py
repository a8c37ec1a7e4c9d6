"""Licence-free stand-ins: the synthetic body and hand models and datasets rendered from them.

- Model files: ``make_synthetic_smpl`` and ``make_synthetic_mano`` build model dicts with the
  keys, shapes and dtypes of the official ``.pkl`` files (a smooth synthetic figure, meshed to
  exactly 6890 / 778 vertices and rigged on SMPL's 24 / MANO's 16 joints);
  ``write_model_file`` stores them so that ``smplx.SMPL`` and ``smplx.MANO`` load them
  unchanged; ``write_synthetic_models`` fills a data folder with them, an H36M regressor and
  the mesh hierarchies.
- Datasets: ``make_synthetic_dataset`` renders posed bodies (SPIN's npz format) or hands
  (FreiHAND's layout) over random backgrounds with :mod:`fastmetro_mm.render`;
  ``make_synthetic_emdb_sequences`` renders short videos of the body in EMDB's release layout.

Nothing here imports mmengine / mmpose / mmcv (tests, the quickstart and CI use it without a
licensed file). Generating the models needs scikit-image (``pip install -e .[synthetic]``);
rendering datasets needs pyrender and offscreen OpenGL.
"""
from .body import make_synthetic_smpl, smpl_file_name
from .dataset import make_synthetic_dataset
from .dataset_options import SyntheticDatasetOptions
from .emdb_sequences import EMDBSequenceOptions, make_synthetic_emdb_sequences
from .h36m_regressor import make_synthetic_h36m_regressor
from .hand import make_synthetic_mano, mano_file_name
from .model_files import (BODY_HIERARCHY_FILE, H36M_REGRESSOR_FILE, HAND_HIERARCHY_FILE,
                          write_synthetic_models)
from .model_writer import write_model_file

__all__ = ['make_synthetic_smpl', 'make_synthetic_mano', 'make_synthetic_h36m_regressor',
           'write_model_file', 'smpl_file_name', 'mano_file_name', 'write_synthetic_models',
           'H36M_REGRESSOR_FILE', 'BODY_HIERARCHY_FILE', 'HAND_HIERARCHY_FILE',
           'make_synthetic_dataset', 'SyntheticDatasetOptions', 'EMDBSequenceOptions',
           'make_synthetic_emdb_sequences']
