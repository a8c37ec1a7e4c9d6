"""Necks between an MMPose backbone and the FastMETRO head (registered in MMPose's MODELS)."""
from .hrnet_cls_neck import HRNetClassificationNeck

__all__ = ['HRNetClassificationNeck']
