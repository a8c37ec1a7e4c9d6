"""Losses registered in ``mmpose.registry.MODELS``."""
from .mesh_loss import MeshLoss

__all__ = ['MeshLoss']
