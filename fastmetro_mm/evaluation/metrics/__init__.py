"""Metrics registered in ``mmpose.registry.METRICS``."""
from .mesh_metric import MeshMetric, fscore

__all__ = ['MeshMetric', 'fscore']
