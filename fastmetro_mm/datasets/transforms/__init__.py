"""Transforms registered in ``mmpose.registry.TRANSFORMS``: 3D-consistent augmentation and
packing of mesh samples."""
from .formatting import PackMeshInputs
from .mesh_transforms import (MeshRandomFlip, MeshRandomScaleRotation, MeshTopdownAffine,
                              RandomChannelNoise)
from .pose_geometry import (camera_z_rotation, flip_axis_angle_pose, flip_points,
                            rotate_global_orient, rotate_points)

__all__ = [
    'PackMeshInputs', 'MeshRandomFlip', 'MeshRandomScaleRotation', 'MeshTopdownAffine',
    'RandomChannelNoise', 'camera_z_rotation', 'flip_axis_angle_pose', 'flip_points',
    'rotate_global_orient', 'rotate_points'
]
