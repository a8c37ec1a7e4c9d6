"""Losses registered in ``mmpose.registry.MODELS``."""
from .mesh_loss import MeshLoss
from .smpl_parameter_loss import SMPLParameterLoss

__all__ = ['MeshLoss', 'SMPLParameterLoss']
