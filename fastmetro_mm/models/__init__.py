"""Modules registered in ``mmpose.registry.MODELS``."""
from . import heads, losses, necks, pose_estimators  # noqa: F401  (register on import)
from .mesh_components import build_joint_regressor, build_mesh_upsampler
from .losses import SMPLParameterLoss
from .smpl_parameter_regressor import SMPLParameterRegressor, project_to_rotation

# Names this package adds to mmpose.registry.MODELS (checked by tools/check_environment.py).
REGISTERED_MODELS = ('MeshUpsampler', 'JointRegressor', 'MeshLoss', 'MeshHead',
                     'FastMETRONetwork', 'FastMETROHead',
                     'TopdownMeshEstimator', 'HRNetClassificationNeck',
                     'SMPLParameterRegressor', 'SMPLParameterLoss', 'JointRegressionHead')

__all__ = ['REGISTERED_MODELS', 'SMPLParameterLoss', 'SMPLParameterRegressor',
           'build_joint_regressor', 'build_mesh_upsampler', 'project_to_rotation']
