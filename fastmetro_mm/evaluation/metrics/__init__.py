"""Metrics registered in ``mmpose.registry.METRICS``."""
from .mesh_errors import fscore
from .mesh_metric import MeshMetric

__all__ = ['MeshMetric', 'fscore']
