"""A picture to judge mesh predictions by: a few test images, one row each.

Each row shows (a) the input image, (b) the predicted mesh over it, and (c) the predicted and
the ground-truth mesh side by side, both turned to be seen from the side. The overlay shows how
well the prediction fits the pixels; the side view shows what an overlay hides: depth, lean
and the bend of the limbs towards or away from the camera, compared with the truth.

Drawing only: the caller supplies the images, the predicted meshes placed in each image's
camera (:class:`fastmetro_mm.apis.MeshPrediction`) and the root-centred predicted and GT
meshes; ``tools/analysis/prediction_figure.py`` gathers them from a checkpoint and a test set.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from fastmetro_mm.mesh.image_camera import ImageCamera
from fastmetro_mm.render.person_colours import person_colour

#: Mesh colours (RGB in [0, 1]): the prediction in the overlay's light blue, the ground
#: truth in orange, far apart in hue so that the two read apart at a glance.
PRED_COLOUR = person_colour(0)
GT_COLOUR = np.array([0.96, 0.62, 0.26])
#: Text colours (RGB 0-255), darker than the meshes so that they read on white.
PRED_TEXT = (40, 90, 170)
GT_TEXT = (190, 95, 10)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Seen from this far (metres), the side view is nearly orthographic: both meshes keep their
#: true proportions whatever their depth extent.
_SIDE_VIEW_DISTANCE = 20.0


@dataclass
class FigureRow:
    """What one row of the figure shows.

    Attributes:
        image: (H, W, 3) uint8 RGB input image.
        vertices_cam: (V, 3) predicted mesh in the image camera's frame (OpenCV axes, metres).
        focal_length: the image camera's focal length, pixels.
        principal_point: (2,) the image camera's principal point, pixels.
        pred_vertices: (V, 3) predicted mesh, centred on its root.
        gt_vertices: (V, 3) ground-truth mesh, centred on its root the same way.
        caption: text over the row (e.g. the image name and its errors).
        bbox: (4,) person box x1, y1, x2, y2 in image pixels: the input and overlay show a
            square around it, zoomed (the person is often a small part of the image); None
            shows the whole image.
    """

    image: np.ndarray
    vertices_cam: np.ndarray
    focal_length: float
    principal_point: Tuple[float, float]
    pred_vertices: np.ndarray
    gt_vertices: np.ndarray
    caption: str = ''
    bbox: Optional[np.ndarray] = None


def put_text(image: np.ndarray, text: str, origin: Tuple[int, int],
             colour: Tuple[int, int, int] = (0, 0, 0), scale: float = 0.6,
             thickness: int = 1) -> None:
    """Writes ``text`` on (H, W, 3) uint8 RGB ``image`` in place; ``origin`` is its baseline
    start."""
    cv2.putText(image, text, origin, _FONT, scale, colour, thickness, cv2.LINE_AA)


def view_region(row: FigureRow) -> Tuple[float, float, float, float]:
    """The part of a row's image the figure shows: (left, top, width, height) in pixel-edge
    coordinates (the image spans 0..W, 0..H).

    With a box: a square 1.4 times its longer side around its centre, the person with some
    of their surroundings (it may reach past the image, shown grey); without: the image.
    """
    if row.bbox is None:
        return 0.0, 0.0, float(row.image.shape[1]), float(row.image.shape[0])
    x1, y1, x2, y2 = (float(v) for v in np.asarray(row.bbox).reshape(4))
    side = 1.4 * max(x2 - x1, y2 - y1, 1.0)
    # Box corners are pixel centres: edges lie half a pixel further out.
    centre_x, centre_y = (x1 + x2) / 2 + 0.5, (y1 + y2) / 2 + 0.5
    return centre_x - side / 2, centre_y - side / 2, side, side


def overlay_view(renderer, row: FigureRow, height: int, alpha: float = 0.75
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """The input (:func:`view_region` of it) and the predicted mesh over it, ``height``
    pixels high.

    The mesh is rendered at the output size (the camera zoomed with the image) rather than
    rendered small and enlarged, so that its edges stay sharp; it is a little transparent so
    that the person under it shows where the two disagree.

    Args:
        renderer: a :class:`fastmetro_mm.render.MeshRenderer` with the mesh's faces.
        row: the row's image and predicted mesh.
        height: output height in pixels.
        alpha: mesh opacity.

    Returns:
        ``(image, overlay)``, each (height, W', 3) uint8 RGB.
    """
    left, top, region_w, region_h = view_region(row)
    factor = height / region_h
    width = int(round(region_w * factor))
    # Pixel centres at integers: x (image) -> (x + 0.5 - left) * factor - 0.5 (view).
    shift_x = (0.5 - left) * factor - 0.5
    shift_y = (0.5 - top) * factor - 0.5
    warp = np.array([[factor, 0.0, shift_x], [0.0, factor, shift_y]])
    image = cv2.warpAffine(row.image, warp, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(128, 128, 128))
    cx, cy = row.principal_point
    camera = ImageCamera(row.focal_length * factor,
                         (cx * factor + shift_x, cy * factor + shift_y), (width, height))
    if not np.isfinite(row.vertices_cam).all():
        # Predicted at or behind the camera (inference_mesh warned): nothing to overlay.
        return image, image.copy()
    overlay = renderer.render(row.vertices_cam, camera, image, colours=[PRED_COLOUR],
                              alpha=alpha).image
    return image, overlay


def side_by_side_view(renderer, pred: np.ndarray, gt: np.ndarray, size: Tuple[int, int],
                      angle: float = 90.0, margin: float = 0.08) -> np.ndarray:
    """The predicted and the GT mesh turned about the vertical axis, next to each other.

    Both meshes turn about their root (the origin of their root-centred frames) and keep
    their heights: the roots sit at the same height, the prediction centred in the left half
    and the ground truth in the right half, at one scale fitted to the larger of the two, so
    that a difference in lean or limb depth is a difference in the picture.

    Args:
        renderer: a :class:`fastmetro_mm.render.MeshRenderer` with the meshes' faces.
        pred: (V, 3) root-centred predicted mesh (camera axes: x right, y down, z forward).
        gt: (V, 3) root-centred GT mesh, same axes.
        size: (width, height) of the view in pixels.
        angle: degrees of the turn; 90 shows the people from the image's right side.
        margin: fraction of each half left empty around the meshes.

    Returns:
        (height, width, 3) uint8 RGB on white, labelled "prediction" and "ground truth".
    """
    width, height = size
    turn = Rotation.from_euler('y', angle, degrees=True).as_matrix()
    meshes = np.stack([np.asarray(pred, np.float64), np.asarray(gt, np.float64)]) @ turn.T
    top, bottom = meshes[..., 1].min(), meshes[..., 1].max()
    half_depth = np.abs(meshes[..., 0]).max()  # the widest mesh's reach from its root
    label_room = 28  # pixels kept free for the labels at the top
    usable_h = (height - label_room) * (1 - 2 * margin)
    usable_w = width / 2 * (1 - 2 * margin)
    pixels_per_metre = min(usable_h / max(bottom - top, 1e-6),
                           usable_w / max(2 * half_depth, 1e-6))
    # Far enough that even a wildly wrong prediction (metres deep) stays in front of the camera.
    distance = max(_SIDE_VIEW_DISTANCE, 10 * np.abs(meshes[..., 2]).max())
    focal = pixels_per_metre * distance
    # Roots a quarter and three quarters across; the pair's vertical middle at the middle of
    # the space below the labels.
    offsets = np.array([[-width / 4, 0.0], [width / 4, 0.0]]) / pixels_per_metre
    placed = meshes.copy()
    placed[..., 0] += offsets[:, None, 0]
    placed[..., 1] -= (top + bottom) / 2
    placed[..., 2] += distance
    camera = ImageCamera(focal, ((width - 1) / 2, label_room + (height - label_room - 1) / 2),
                         (width, height))
    background = np.full((height, width, 3), 255, np.uint8)
    view = renderer.render(placed, camera, background, colours=[PRED_COLOUR, GT_COLOUR]).image
    view = np.ascontiguousarray(view)
    for text, colour, centre in (('prediction', PRED_TEXT, width // 4),
                                 ('ground truth', GT_TEXT, 3 * width // 4)):
        (text_w, _), _ = cv2.getTextSize(text, _FONT, 0.6, 2)
        put_text(view, text, (centre - text_w // 2, 20), colour, thickness=2)
    return view


def prediction_figure(renderer, rows: Sequence[FigureRow], row_height: int = 288,
                      title: Optional[str] = None, gap: int = 6) -> np.ndarray:
    """The whole figure: a header, then one captioned row per test image.

    Args:
        renderer: a :class:`fastmetro_mm.render.MeshRenderer` with the meshes' faces.
        rows: the rows, top to bottom.
        row_height: pixel height of each row's pictures (captions come on top).
        title: a line over the column headers, e.g. the checkpoint's name.
        gap: white pixels between the pictures of a row.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    if not rows:
        raise ValueError('prediction_figure: no rows to draw')
    side_size = (int(round(1.25 * row_height)), row_height)
    # All views of one size first, then the other: an OSMesa context is remade (~0.2 s)
    # whenever the render size changes.
    overlays = [overlay_view(renderer, row, row_height) for row in rows]
    sides = [side_by_side_view(renderer, row.pred_vertices, row.gt_vertices, side_size)
             for row in rows]
    strips = []
    for row, (image, overlay), side in zip(rows, overlays, sides):
        spacer = np.full((row_height, gap, 3), 255, np.uint8)
        pictures = np.concatenate([image, spacer, overlay, spacer, side], axis=1)
        caption = np.full((26, pictures.shape[1], 3), 255, np.uint8)
        put_text(caption, row.caption, (4, 19), scale=0.55)
        strips.append(np.concatenate([caption, pictures], axis=0))
    width = max(strip.shape[1] for strip in strips)
    strips = [np.pad(s, ((0, gap), (0, width - s.shape[1]), (0, 0)), constant_values=255)
              for s in strips]

    # Column headers over the three kinds of picture of the first row.
    image_w = overlays[0][0].shape[1]
    header = np.full((58 if title else 30, width, 3), 255, np.uint8)
    y = 22
    if title:
        put_text(header, title, (4, y), scale=0.6, thickness=2)
        y += 28
    first = 'input (around the person box)' if rows[0].bbox is not None else 'input'
    for text, left in ((first, 0), ('predicted mesh over it', image_w + gap),
                       ('seen from the side (turned 90 deg)', 2 * (image_w + gap))):
        put_text(header, text, (left + 4, y), (60, 60, 60), scale=0.55)
    return np.concatenate([header, *strips], axis=0)
