"""Licence-free stand-ins for the SMPL body and MANO hand model files.

``make_synthetic_smpl`` and ``make_synthetic_mano`` build model dicts with the keys, shapes and
dtypes of the official ``.pkl`` files (a smooth synthetic figure, meshed to exactly 6890 / 778
vertices and rigged on SMPL's 24 / MANO's 16 joints); ``write_model_file`` stores them so that
``smplx.SMPL`` and ``smplx.MANO`` load them unchanged.
"""
from .body import make_synthetic_smpl, smpl_file_name
from .h36m_regressor import make_synthetic_h36m_regressor
from .hand import make_synthetic_mano, mano_file_name
from .model_writer import write_model_file

__all__ = ['make_synthetic_smpl', 'make_synthetic_mano', 'make_synthetic_h36m_regressor',
           'write_model_file', 'smpl_file_name', 'mano_file_name']
