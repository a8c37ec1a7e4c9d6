"""Metrics registered in ``mmpose.registry.METRICS``, and the official protocols' parts."""
from .emdb_metric import EMDBMetric
from .freihand_protocol import freihand_align, pck_auc
from .freihand_submission import write_freihand_submission
from .mesh_errors import fscore
from .mesh_metric import MeshMetric

__all__ = ['MeshMetric', 'EMDBMetric', 'fscore', 'freihand_align', 'pck_auc',
           'write_freihand_submission']
