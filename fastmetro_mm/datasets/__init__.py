"""Mesh datasets and transforms registered in MMPose's ``DATASETS`` and ``TRANSFORMS``."""
from . import transforms  # noqa: F401  (registers on import)
from .transforms import (MeshRandomFlip, MeshRandomScaleRotation, MeshTopdownAffine,
                         PackMeshInputs, RandomChannelNoise)

# Names this package adds to mmpose.registry.TRANSFORMS.
REGISTERED_TRANSFORMS = ('MeshRandomFlip', 'MeshRandomScaleRotation', 'RandomChannelNoise',
                         'MeshTopdownAffine', 'PackMeshInputs')

__all__ = [
    'REGISTERED_TRANSFORMS', 'MeshRandomFlip', 'MeshRandomScaleRotation', 'MeshTopdownAffine',
    'PackMeshInputs', 'RandomChannelNoise'
]
