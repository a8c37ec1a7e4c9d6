"""One synthetic image: a random camera, placement, background, colour and light for a posed
mesh, rendered by :class:`fastmetro_mm.render.MeshRenderer`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from fastmetro_mm.mesh.image_camera import ImageCamera
from fastmetro_mm.render import MeshRenderer

from .appearance import sample_light, sample_mesh_colour
from .backgrounds import BACKGROUND_KINDS, sample_background
from .camera_placement import place_in_view, sample_intrinsics

#: Roughness of the synthetic people's material: a little more matte than the overlays'.
DATASET_ROUGHNESS = 0.7
#: Fixed near and far planes (metres): the synthetic people stand a few metres away, and a
#: fixed pair keeps every image of a dataset bit-identical to the ones this generator has
#: always made (fitted planes would flip the odd pixel where surfaces nearly touch).
DATASET_CLIP_PLANES = (0.05, 100.0)


@dataclass
class SceneSample:
    """One rendered image and the camera it was taken with.

    Attributes:
        K: (3, 3) intrinsics, pixel centres at integer coordinates.
        trans: (3,) translation that placed the mesh in the camera frame.
        image: (H, W, 3) uint8 RGB.
        mask: (H, W) bool, the pixels the mesh covers.
    """

    K: np.ndarray
    trans: np.ndarray
    image: np.ndarray
    mask: np.ndarray


def make_dataset_renderer(faces: np.ndarray) -> MeshRenderer:
    """The renderer of the synthetic images (the light is drawn per image).

    Raises:
        RuntimeError: naming what to install when no offscreen OpenGL context can be made.
    """
    return MeshRenderer(faces, roughness=DATASET_ROUGHNESS, clip_planes=DATASET_CLIP_PLANES)


def render_sample(renderer: MeshRenderer, vertices: np.ndarray, rng: np.random.Generator,
                  width: int, height: int, fill_range: Tuple[float, float],
                  backgrounds: Sequence[str] = BACKGROUND_KINDS,
                  part_colours: Optional[np.ndarray] = None) -> SceneSample:
    """Camera, placement, background, colour and light for one posed mesh; then render.

    The random draws happen in this order whatever the options, so that a dataset is
    reproduced bit for bit from its seed.

    Args:
        renderer: from :func:`make_dataset_renderer`.
        vertices: (V, 3) posed mesh in the camera frame's orientation, at the origin.
        rng: Random generator.
        width, height: Image size.
        fill_range: Range of the image fraction the mesh spans.
        backgrounds: Background kinds to draw from.
        part_colours: Optional (V, 3) per-vertex colours, dimmed at random per image; None:
            one colour per person that stands out from the background.

    Returns:
        The rendered :class:`SceneSample`.
    """
    K = sample_intrinsics(rng, width, height)
    trans = place_in_view(vertices, K, width, height, rng, fill_range=fill_range)
    background = sample_background(rng, width, height, backgrounds)
    colour = sample_mesh_colour(rng, background)  # drawn even when part colours replace it
    vertex_colours = None
    if part_colours is not None:
        vertex_colours = part_colours * rng.uniform(0.6, 1.0)
    lighting = sample_light(rng)
    # K's fx and fy are equal (square pixels, sample_intrinsics).
    camera = ImageCamera(float(K[0, 0]), (float(K[0, 2]), float(K[1, 2])), (width, height))
    result = renderer.render(vertices + trans, camera, background,
                             colours=None if vertex_colours is not None else [colour],
                             vertex_colours=vertex_colours, lighting=lighting)
    return SceneSample(K=K, trans=trans, image=result.image, mask=result.mask)
