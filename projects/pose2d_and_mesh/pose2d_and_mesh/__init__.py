"""A 2D heatmap head and the FastMETRO mesh head on one backbone, trained jointly.

Importing this package (``custom_imports=dict(imports=['fastmetro_mm',
'projects.pose2d_and_mesh.pose2d_and_mesh'])``) registers its parts in MMPose's registries.
"""
from .keypoint_metric_adapter import KeypointMetricAdapter
from .pack_pose_mesh_inputs import PackPoseMeshInputs
from .pose_mesh_estimator import PoseMeshEstimator

#: Names this package adds to mmpose.registry.MODELS / TRANSFORMS / METRICS.
REGISTERED_MODELS = ('PoseMeshEstimator', )
REGISTERED_TRANSFORMS = ('PackPoseMeshInputs', )
REGISTERED_METRICS = ('KeypointMetricAdapter', )

__all__ = ['KeypointMetricAdapter', 'PackPoseMeshInputs', 'PoseMeshEstimator',
           'REGISTERED_MODELS', 'REGISTERED_TRANSFORMS', 'REGISTERED_METRICS']
