"""Modules registered in ``mmpose.registry.MODELS``."""
from . import heads, losses, necks, pose_estimators  # noqa: F401  (register on import)
from .mesh_components import build_joint_regressor, build_mesh_upsampler

# Names this package adds to mmpose.registry.MODELS (checked by tools/check_environment.py).
REGISTERED_MODELS = ('MeshUpsampler', 'JointRegressor', 'MeshLoss', 'FastMETROHead',
                     'TopdownMeshEstimator', 'HRNetClassificationNeck')

__all__ = ['REGISTERED_MODELS', 'build_joint_regressor', 'build_mesh_upsampler']
