"""Mesh datasets and transforms registered in MMPose's ``DATASETS`` and ``TRANSFORMS``."""
from . import transforms  # noqa: F401  (registers on import)
from .combined_dataset import MeshCombinedDataset
from .emdb_dataset import EMDBDataset
from .freihand_dataset import FreiHANDMeshDataset
from .mesh_dataset import MeshDataset, make_mesh_sample
from .sample_seeding import PerSampleRandomness, seeded_generators
from .metainfo import J24_BODY_METAINFO, MANO21_HAND_METAINFO
from .sampling import MixedSourceSampler
from .spin_npz_dataset import SPINNpzDataset
from .transforms import (MeshRandomFlip, MeshRandomScaleRotation, MeshTopdownAffine,
                         PackMeshInputs, RandomChannelNoise)
from .tsv_dataset import MeshTSVDataset
from .tsv_file import TSVFile, write_lineidx

# Names this package adds to mmpose.registry.TRANSFORMS.
REGISTERED_TRANSFORMS = ('MeshRandomFlip', 'MeshRandomScaleRotation', 'RandomChannelNoise',
                         'MeshTopdownAffine', 'PackMeshInputs')
# Names this package adds to mmpose.registry.DATASETS.
REGISTERED_DATASETS = ('SPINNpzDataset', 'MeshTSVDataset', 'FreiHANDMeshDataset',
                       'MeshCombinedDataset', 'EMDBDataset')
# Names this package adds to mmpose.registry.DATA_SAMPLERS.
REGISTERED_SAMPLERS = ('MixedSourceSampler', )

__all__ = [
    'REGISTERED_TRANSFORMS', 'REGISTERED_DATASETS', 'REGISTERED_SAMPLERS', 'MeshRandomFlip',
    'MeshRandomScaleRotation', 'MeshTopdownAffine', 'PackMeshInputs', 'RandomChannelNoise',
    'MeshDataset', 'make_mesh_sample', 'SPINNpzDataset', 'MeshTSVDataset',
    'FreiHANDMeshDataset', 'MeshCombinedDataset', 'EMDBDataset', 'PerSampleRandomness',
    'seeded_generators', 'MixedSourceSampler', 'TSVFile', 'write_lineidx',
    'J24_BODY_METAINFO', 'MANO21_HAND_METAINFO'
]
