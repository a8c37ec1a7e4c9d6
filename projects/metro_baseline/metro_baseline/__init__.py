"""METRO-style encoder-only baseline built from fastmetro_mm's parts.

Importing this package (``custom_imports=dict(imports=['fastmetro_mm',
'projects.metro_baseline.metro_baseline'])``) registers ``METRONetwork``, used as
``MeshHead(network=dict(type='METRONetwork'))``, and the ``METROHead`` preset in MMPose's
MODELS.
"""
from .encoder_block import METROEncoderBlock
from .metro_head import METROHead
from .metro_network import METRONetwork

#: Names this package adds to mmpose.registry.MODELS.
REGISTERED_MODELS = ('METRONetwork', 'METROHead')

__all__ = ['METROEncoderBlock', 'METROHead', 'METRONetwork', 'REGISTERED_MODELS']
