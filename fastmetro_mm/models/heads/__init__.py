"""Heads registered in ``mmpose.registry.MODELS``."""
from .fastmetro_head import FastMETROHead

__all__ = ['FastMETROHead']
