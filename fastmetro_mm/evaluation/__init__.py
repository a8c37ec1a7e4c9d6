"""Evaluation for mesh recovery, registered in MMPose's registries on import."""
from .metrics import (EMDBMetric, MeshMetric, freihand_align, fscore, pck_auc,
                      write_freihand_submission)

# Names this package adds to mmpose.registry.METRICS.
REGISTERED_METRICS = ('MeshMetric', 'EMDBMetric')

__all__ = ['MeshMetric', 'EMDBMetric', 'fscore', 'freihand_align', 'pck_auc',
           'write_freihand_submission', 'REGISTERED_METRICS']
