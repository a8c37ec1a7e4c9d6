"""Heads registered in ``mmpose.registry.MODELS``."""
from .fastmetro_head import FastMETROHead
from .joint_regression_head import JointRegressionHead
from .mesh_facts import build_with_facts
from .mesh_head import MeshHead
from .mesh_targets import MeshTargets

__all__ = ['FastMETROHead', 'JointRegressionHead', 'MeshHead', 'MeshTargets',
           'build_with_facts']
