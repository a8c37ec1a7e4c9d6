"""Pose estimators registered in ``mmpose.registry.MODELS``."""
from .mesh_estimator import TopdownMeshEstimator

__all__ = ['TopdownMeshEstimator']
