"""METRO-style encoder-only baseline built from fastmetro_mm's parts.

Importing this package (``custom_imports=dict(imports=['fastmetro_mm',
'projects.metro_baseline.metro_baseline'])``) registers ``METROHead`` in MMPose's MODELS.
"""
from .encoder_block import METROEncoderBlock
from .metro_head import METROHead
from .metro_network import METRONetwork

#: Names this package adds to mmpose.registry.MODELS.
REGISTERED_MODELS = ('METROHead', )

__all__ = ['METROEncoderBlock', 'METROHead', 'METRONetwork', 'REGISTERED_MODELS']
