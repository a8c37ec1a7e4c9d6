"""The one offscreen renderer (pyrender with OSMesa or EGL), with no toolbox dependency.

:mod:`fastmetro_mm.visualization` draws its overlays with it and :mod:`fastmetro_mm.synthetic`
its dataset images. Importing this package selects OSMesa for PyOpenGL unless
``PYOPENGL_PLATFORM`` is set (see :mod:`.offscreen_gl`); pyrender is imported only when a
:class:`MeshRenderer` is made.
"""
from .lighting import OVERLAY_LIGHTING, Lighting
from .mesh_renderer import MeshRenderer, RenderResult
from .offscreen_gl import GL_HELP
from .person_colours import PERSON_COLOURS, person_colour
from .vertex_normals import vertex_normals

__all__ = ['MeshRenderer', 'RenderResult', 'Lighting', 'OVERLAY_LIGHTING', 'GL_HELP',
           'PERSON_COLOURS', 'person_colour', 'vertex_normals']
