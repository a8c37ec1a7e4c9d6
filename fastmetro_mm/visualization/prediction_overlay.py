"""Drawing :class:`fastmetro_mm.apis.MeshPrediction` lists over their images (demos)."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from fastmetro_mm.mesh.image_camera import ImageCamera


def render_predictions(renderer: Any, image: np.ndarray, people: Sequence[Any],
                       side_view: bool = False, alpha: float = 0.9,
                       draw_boxes: bool = False) -> np.ndarray:
    """Meshes of one image's people over it, optionally with a side view to the right.

    Args:
        renderer: a :class:`fastmetro_mm.render.MeshRenderer` with the
            model's faces.
        image: (H, W, 3) uint8 RGB.
        people: the image's :class:`MeshPrediction` list (all with the same camera).
        side_view: append the side view (meshes turned by 90 degrees, white background).
        alpha: mesh opacity.
        draw_boxes: draw each person's box in its mesh colour.

    Returns:
        (H, W, 3) or (H, 2W, 3) uint8 RGB.
    """
    from fastmetro_mm.render import person_colour

    height, width = image.shape[:2]
    # A person predicted at or behind the camera (NaN placement, see inference_mesh) has no
    # image to be drawn in; inference_mesh has warned about it.
    people = [p for p in people if np.isfinite(p.cam_t).all()]
    if people:
        cameras = {p.intrinsics_key() for p in people}
        if len(cameras) != 1:
            raise ValueError(f'render_predictions: the people of one image must share one '
                             f'camera, got (fx, fy, cx, cy) = {sorted(cameras)}')
        fx, fy, cx, cy = cameras.pop()
        camera = ImageCamera(fx, (cx, cy), (width, height), None if fy == fx else fy)
        vertices = np.stack([p.vertices_cam for p in people])
    else:
        camera = ImageCamera.for_image(width, height)
        vertices = np.zeros((0, renderer.num_vertices, 3))
    overlay = renderer.render(vertices, camera, image, alpha=alpha).image
    if draw_boxes and people:
        import cv2
        overlay = np.ascontiguousarray(overlay)
        for index, person in enumerate(people):
            x1, y1, x2, y2 = (int(round(v)) for v in person.bbox)
            colour = tuple(int(255 * c) for c in person_colour(index))
            cv2.rectangle(overlay, (x1, y1), (x2, y2), colour, 2)
    if not side_view:
        return overlay
    side = renderer.render_side_view(vertices, camera).image
    return np.concatenate([overlay, side], axis=1)


def draw_joints(image: np.ndarray, joints_2d: np.ndarray,
                colour: Optional[tuple] = (255, 0, 0)) -> np.ndarray:
    """(K, 2) pixel positions drawn as dots on a copy of (H, W, 3) ``image``."""
    import cv2
    out = np.ascontiguousarray(image.copy())
    radius = max(2, int(round(0.006 * max(image.shape[:2]))))
    for x, y in np.asarray(joints_2d):
        cv2.circle(out, (int(round(x)), int(round(y))), radius, colour, -1, cv2.LINE_AA)
    return out
