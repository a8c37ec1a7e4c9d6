"""Evaluation for mesh recovery, registered in MMPose's registries on import."""
from .metrics import MeshMetric, fscore

# Names this package adds to mmpose.registry.METRICS.
REGISTERED_METRICS = ('MeshMetric', )

__all__ = ['MeshMetric', 'fscore', 'REGISTERED_METRICS']
