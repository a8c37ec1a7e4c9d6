"""Rendering meshes over images, the runner's mesh visualizer and attention maps.

pyrender (and with it PyOpenGL) is imported only when a renderer is made, so importing this
package does not choose an OpenGL platform.
"""
# The image camera is geometry (fastmetro_mm.mesh); re-exported here, where renderers use it.
from fastmetro_mm.mesh.image_camera import (ImageCamera, crop_cam_to_translation, fit_crop_cam,
                                            translation_to_crop_cam, weak_perspective_to_image)
from .mesh_visualizer import MeshLocalVisualizer

# Names this package adds to mmpose.registry.VISUALIZERS (checked by tools/check_environment.py).
REGISTERED_VISUALIZERS = ('MeshLocalVisualizer', )

__all__ = ['REGISTERED_VISUALIZERS', 'MeshLocalVisualizer', 'ImageCamera',
           'crop_cam_to_translation', 'translation_to_crop_cam',
           'weak_perspective_to_image', 'fit_crop_cam']
