"""The renderer under its former name: it lives in :mod:`fastmetro_mm.render` now.

Kept so that ``from fastmetro_mm.visualization.renderer import MeshRenderer`` in user code keeps
working; new code imports :mod:`fastmetro_mm.render`.
"""
from fastmetro_mm.render import (GL_HELP, PERSON_COLOURS, MeshRenderer, RenderResult,
                                 person_colour)

__all__ = ['MeshRenderer', 'RenderResult', 'GL_HELP', 'PERSON_COLOURS', 'person_colour']
