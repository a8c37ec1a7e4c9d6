"""Heads registered in ``mmpose.registry.MODELS``."""
from .fastmetro_head import FastMETROHead
from .joint_regression_head import JointRegressionHead

__all__ = ['FastMETROHead', 'JointRegressionHead']
