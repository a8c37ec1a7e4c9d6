"""Modules registered in ``mmpose.registry.MODELS``."""
from .mesh_components import build_joint_regressor, build_mesh_upsampler

# Names this package adds to mmpose.registry.MODELS (checked by tools/check_environment.py).
REGISTERED_MODELS = ('MeshUpsampler', 'JointRegressor')

__all__ = ['REGISTERED_MODELS', 'build_joint_regressor', 'build_mesh_upsampler']
