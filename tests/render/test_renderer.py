"""The one offscreen renderer: the mesh overlay lands on the person.

Ground truth comes from the synthetic dataset's scene (``tests/visualization/scene_helpers.py``:
a random perspective camera, placement, background and light, as
``fastmetro_mm.synthetic`` renders its images); the overlays describe the same body with the
weak-perspective crop camera and must cover the same pixels.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastmetro_mm.mesh.image_camera import (ImageCamera, crop_cam_to_translation, fit_crop_cam,
                                            translation_to_crop_cam, weak_perspective_to_image)
from fastmetro_mm.render import Lighting, MeshRenderer, person_colour
from fastmetro_mm.synthetic.scene import make_dataset_renderer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'visualization'))
from scene_helpers import posed_body, render_ground_truth, square_box  # noqa: E402

WIDTH, HEIGHT = 320, 240


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture(scope='module')
def renderer(synthetic_data_dir):
    body = posed_body(synthetic_data_dir, 0)
    with MeshRenderer(body['faces']) as mesh_renderer:
        yield mesh_renderer


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_overlay_through_weak_perspective_camera_covers_the_silhouette(synthetic_data_dir,
                                                                       renderer, seed):
    body = posed_body(synthetic_data_dir, seed)
    # A long lens (8-12 degrees): the regime where a weak-perspective crop camera describes
    # the picture, which is the camera model FastMETRO predicts.
    gt = render_ground_truth(body['vertices'], body['faces'], WIDTH, HEIGHT, seed,
                             fov_range=(8.0, 12.0))
    center, side = square_box(gt['uv'])
    root_relative = body['vertices'] - body['vertices'].mean(0)
    cam = fit_crop_cam(root_relative, gt['uv'], center, side)
    camera = ImageCamera.for_image(WIDTH, HEIGHT)
    cam_t = crop_cam_to_translation(cam[None], center[None], np.array([side]), camera)
    result = renderer.render(root_relative + cam_t, camera, gt['image'])
    assert gt['mask'].sum() > 2000
    assert iou(result.mask, gt['mask']) > 0.9
    # The weak-perspective picture itself, projected by the pinhole camera: within 1.5 px.
    weak = weak_perspective_to_image(root_relative[None], cam[None], center[None],
                                     np.array([side]))[0]
    assert np.abs(camera.project(root_relative + cam_t[0]) - weak).max() < 1.5


def test_renderer_matches_the_dataset_renderer_through_the_same_pinhole(synthetic_data_dir,
                                                                       renderer):
    """The overlays' renderer and the dataset's (another material, a light drawn per image)
    cover the same pixels through the same camera."""
    body = posed_body(synthetic_data_dir, 3)
    camera = ImageCamera.for_image(WIDTH, HEIGHT, focal_length=400.0)
    vertices = body['vertices'] - body['vertices'].mean(0) + np.array([0.3, 0.1, 5.0])
    reference = make_dataset_renderer(body['faces'])
    try:
        mask = reference.render(vertices, camera, np.zeros((HEIGHT, WIDTH, 3), np.uint8),
                                colours=[np.full(3, 0.5)],
                                lighting=Lighting.from_rotvec(np.zeros(3), 3.0, 0.3)).mask
    finally:
        reference.close()
    result = renderer.render(vertices, camera)
    assert mask.sum() > 2000
    assert iou(result.mask, mask) > 0.99
    # The projected vertices fall inside the silhouette (pixel centres at integers).
    uv = np.round(camera.project(vertices)).astype(int)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < WIDTH) & (uv[:, 1] >= 0) & (uv[:, 1] < HEIGHT)
    assert inside.all()
    dilated = result.mask | np.roll(result.mask, 1, 0) | np.roll(result.mask, -1, 0) \
        | np.roll(result.mask, 1, 1) | np.roll(result.mask, -1, 1)
    assert dilated[uv[:, 1], uv[:, 0]].mean() > 0.99


def test_crop_camera_conversion_round_trips_and_keeps_the_root_pixel():
    rng = np.random.default_rng(0)
    camera = ImageCamera.for_image(640, 480)
    cam = np.column_stack([rng.uniform(0.5, 1.5, 5), rng.uniform(-0.3, 0.3, (5, 2))])
    center = rng.uniform(100, 400, (5, 2))
    scale = rng.uniform(80, 300, 5)
    cam_t = crop_cam_to_translation(cam, center, np.stack([scale, scale], 1), camera)
    np.testing.assert_allclose(translation_to_crop_cam(cam_t, center, scale, camera), cam)
    # The root (X = 0) projects where the weak-perspective camera puts it, exactly.
    root_weak = weak_perspective_to_image(np.zeros((5, 1, 3)), cam, center, scale)[:, 0]
    np.testing.assert_allclose(camera.project(cam_t), root_weak, atol=1e-9)
    # Depth is inversely proportional to the apparent size: twice the scale, half the depth.
    doubled = crop_cam_to_translation(cam * [2, 1, 1], center, scale, camera)
    np.testing.assert_allclose(doubled[:, 2], cam_t[:, 2] / 2)
    with pytest.raises(ValueError, match='square'):
        crop_cam_to_translation(cam, center, np.stack([scale, 2 * scale], 1), camera)
    with pytest.raises(ValueError, match='positive'):
        crop_cam_to_translation(cam * [-1, 1, 1], center, scale, camera)


def test_nearer_person_hides_the_farther_one(synthetic_data_dir, renderer):
    body = posed_body(synthetic_data_dir, 0)
    camera = ImageCamera.for_image(WIDTH, HEIGHT, focal_length=600.0)
    root_relative = body['vertices'] - body['vertices'].mean(0)
    near = root_relative + np.array([-0.15, 0.0, 6.0])
    far = root_relative + np.array([0.25, 0.0, 7.0])
    both = renderer.render(np.stack([far, near]), camera)  # far one listed first
    alone_near = renderer.render(near, camera)
    alone_far = renderer.render(far, camera)
    overlap = alone_near.mask & alone_far.mask
    assert overlap.sum() > 200
    np.testing.assert_allclose(both.depth[overlap], alone_near.depth[overlap], rtol=1e-4)
    assert np.array_equal(both.mask, alone_near.mask | alone_far.mask)
    # The overlap shows the near person's colour (index 1 in the list: pink, red-dominant).
    assert np.all(person_colour(1)[0] > person_colour(1)[2])
    pixels = both.image[overlap].astype(float)
    assert np.mean(pixels[:, 0] > pixels[:, 2]) > 0.95


def test_side_view_turns_the_person(synthetic_data_dir, renderer):
    body = posed_body(synthetic_data_dir, 1)
    camera = ImageCamera.for_image(WIDTH, HEIGHT, focal_length=600.0)
    vertices = body['vertices'] - body['vertices'].mean(0) + np.array([0.0, 0.0, 6.0])
    front = renderer.render(vertices, camera)
    side = renderer.render_side_view(vertices, camera)
    assert side.image.shape == (HEIGHT, WIDTH, 3)
    assert (side.image[~side.mask] == 255).all()  # white background
    # Turning by 90 degrees swaps the horizontal extent for the depth extent.
    rows_front, cols_front = np.nonzero(front.mask)
    rows_side, cols_side = np.nonzero(side.mask)
    width_front = cols_front.max() - cols_front.min()
    width_side = cols_side.max() - cols_side.min()
    depth_extent = np.ptp(vertices[:, 2]) * camera.focal_length / 6.0
    assert abs(width_side - depth_extent) < 0.25 * depth_extent
    assert abs(width_side - width_front) > 5
    # The height stays, up to perspective (parts now nearer or farther than before).
    height_front = rows_front.max() - rows_front.min()
    assert abs((rows_side.max() - rows_side.min()) - height_front) < 0.08 * height_front


def test_missing_offscreen_gl_names_the_package_to_install():
    code = ('import numpy as np\n'
            'from fastmetro_mm.render import MeshRenderer\n'
            'MeshRenderer(np.array([[0, 1, 2]]))\n')
    env = dict(os.environ, PYOPENGL_PLATFORM='no_such_platform')
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert 'RuntimeError' in proc.stderr
    assert 'libosmesa6' in proc.stderr and 'libegl1' in proc.stderr


def test_the_former_import_path_still_works():
    """User code that imports the renderer from fastmetro_mm.visualization keeps working."""
    from fastmetro_mm.visualization import renderer as former
    assert former.MeshRenderer is MeshRenderer and former.person_colour is person_colour
