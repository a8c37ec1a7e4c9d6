"""An offscreen OpenGL context for pyrender, with one explanation of what to install.

pyrender draws through PyOpenGL, which picks its platform (OSMesa, EGL, GLX) from
``PYOPENGL_PLATFORM`` the first time PyOpenGL is imported, anywhere in the process. Importing
this module (and so :mod:`fastmetro_mm.render`) therefore selects OSMesa, which needs no
display or GPU, unless the variable is already set (``egl`` on a GPU machine); pyrender itself
is imported only when a renderer is made.
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import Any, Tuple

#: Platform used when ``PYOPENGL_PLATFORM`` is not set.
DEFAULT_PLATFORM = 'osmesa'

os.environ.setdefault('PYOPENGL_PLATFORM', DEFAULT_PLATFORM)

#: What to install when no offscreen OpenGL context can be made.
GL_HELP = ('offscreen OpenGL is not available. Install OSMesa (Debian/Ubuntu: '
           "'apt-get install libosmesa6') and use PYOPENGL_PLATFORM=osmesa (the default here), "
           "or, on a machine with a GPU driver, install EGL ('apt-get install libegl1') and set "
           'PYOPENGL_PLATFORM=egl before Python starts')


def open_offscreen_renderer(caller: str) -> Tuple[ModuleType, Any]:
    """Imports pyrender and makes a (64 x 64, resized per render) offscreen renderer.

    Args:
        caller: name that opens the error message (e.g. ``'MeshRenderer'``).

    Returns:
        The pyrender module and a ``pyrender.OffscreenRenderer``.

    Raises:
        RuntimeError: naming libosmesa6 / libegl1 and ``PYOPENGL_PLATFORM`` when no offscreen
            context can be made.
    """
    try:
        import pyrender
        renderer = pyrender.OffscreenRenderer(64, 64)
    except Exception as exc:  # ImportError, OSError, GL errors: all mean "no offscreen GL"
        platform = os.environ.get('PYOPENGL_PLATFORM')
        raise RuntimeError(f'{caller}: {GL_HELP} (PYOPENGL_PLATFORM={platform!r}; '
                           f'{type(exc).__name__}: {exc})') from exc
    return pyrender, renderer
