"""Rendering meshes over images, the runner's mesh visualizer and attention maps.

What the demos draw, for use in one's own scripts (docs/visualization.md):

- :func:`render_predictions`: the meshes of one image's people over it (and a side view);
  :func:`draw_joints`: 2D joints as dots.
- :func:`attention_figure`: FastMETRO's attention of one joint (paper Fig. 6) to the image and
  to the mesh, with a title and a colour bar; :func:`joint_to_image_attention`,
  :func:`joint_to_vertex_attention`, :func:`coarse_to_mesh`, :func:`network_upsamplers` and
  :func:`colour_map` are its parts.
- :func:`prediction_figure`: predicted meshes beside the ground truth, one row per image.
- :class:`MeshLocalVisualizer`: MMPose's visualizer for mesh predictions (runner, test tools).

The renderer itself is :class:`fastmetro_mm.render.MeshRenderer`. pyrender (and with it
PyOpenGL) is imported only when a renderer is made, so importing this package does not choose
an OpenGL platform.
"""
# The image camera is geometry (fastmetro_mm.mesh); re-exported here, where renderers use it.
from fastmetro_mm.mesh.image_camera import (ImageCamera, crop_cam_to_translation, fit_crop_cam,
                                            translation_to_crop_cam, weak_perspective_to_image)
from .attention_maps import (attention_figure, coarse_to_mesh, colour_bar, colour_map,
                             heatmap_on_crop, joint_to_image_attention,
                             joint_to_vertex_attention, network_upsamplers, padding_mask)
from .mesh_visualizer import MeshLocalVisualizer
from .prediction_figure import FigureRow, prediction_figure
from .prediction_overlay import draw_joints, render_predictions

# Names this package adds to mmpose.registry.VISUALIZERS (checked by tools/check_environment.py).
REGISTERED_VISUALIZERS = ('MeshLocalVisualizer', )

__all__ = ['REGISTERED_VISUALIZERS', 'MeshLocalVisualizer', 'ImageCamera',
           'crop_cam_to_translation', 'translation_to_crop_cam',
           'weak_perspective_to_image', 'fit_crop_cam', 'render_predictions', 'draw_joints',
           'attention_figure', 'joint_to_image_attention', 'joint_to_vertex_attention',
           'coarse_to_mesh', 'network_upsamplers', 'colour_map', 'colour_bar', 'heatmap_on_crop',
           'padding_mask',
           'prediction_figure', 'FigureRow']
