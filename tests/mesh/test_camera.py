"""Tests for fastmetro_mm.mesh.camera: known answers for the weak-perspective camera."""
import pytest
import torch

from fastmetro_mm.mesh.camera import (crop_to_image, image_to_crop,
                                      weak_perspective_project,
                                      weak_perspective_to_translation)


def test_projection_known_answer():
    points = torch.tensor([[[0.1, -0.2, 5.0], [0.0, 0.0, -3.0]]])
    cam = torch.tensor([[2.0, 0.3, -0.1]])
    out = weak_perspective_project(points, cam)
    expected = torch.tensor([[[2.0 * 0.4, 2.0 * -0.3], [2.0 * 0.3, 2.0 * -0.1]]])
    torch.testing.assert_close(out, expected)
    assert out.shape == (1, 2, 2)


def test_projection_is_differentiable_and_batched():
    points = torch.randn(4, 14, 3, requires_grad=True)
    cam = torch.randn(4, 3, requires_grad=True)
    out = weak_perspective_project(points, cam)
    out.sum().backward()
    # d/ds sum = sum(X[..., :2] + t); d/dt = s * K per coordinate; depth has no influence.
    expected_ds = (points[..., :2] + cam[:, None, 1:]).sum(dim=(1, 2))
    torch.testing.assert_close(cam.grad[:, 0], expected_ds.detach())
    torch.testing.assert_close(cam.grad[:, 1], 14 * cam[:, 0].detach())
    assert torch.all(points.grad[..., 2] == 0)


def test_crop_image_round_trip_and_corners():
    center = torch.tensor([[100.0, 50.0], [0.0, 0.0]])
    scale = torch.tensor([[200.0, 100.0], [10.0, 10.0]])
    corners = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]).expand(2, 3, 2)
    pixels = crop_to_image(corners, center, scale)
    expected = torch.tensor([[[0.0, 0.0], [200.0, 100.0], [100.0, 50.0]],
                             [[-5.0, -5.0], [5.0, 5.0], [0.0, 0.0]]])
    torch.testing.assert_close(pixels, expected)
    torch.testing.assert_close(image_to_crop(pixels, center, scale), corners)
    # A (B,) scale means a square box.
    torch.testing.assert_close(crop_to_image(corners, center, scale[:, 1]),
                               crop_to_image(corners, center, scale[:, [1, 1]]))


def test_translation_for_rendering():
    cam = torch.tensor([[0.8, 0.1, -0.2], [2.0, 0.0, 0.0]])
    trans = weak_perspective_to_translation(cam, focal_length=5000.0, img_size=224.0)
    expected = torch.tensor([[0.1, -0.2, 2 * 5000.0 / (224.0 * 0.8)],
                             [0.0, 0.0, 2 * 5000.0 / (224.0 * 2.0)]])
    torch.testing.assert_close(trans, expected)


def test_perspective_matches_weak_perspective_for_a_distant_point():
    # A point at the origin's depth projects the same way under both cameras.
    focal, size = 1000.0, 224.0
    cam = torch.tensor([[0.9, 0.05, -0.1]])
    point = torch.tensor([[[0.2, -0.3, 0.0]]])
    weak = weak_perspective_project(point, cam)  # crop coordinates in [-1, 1]
    t = weak_perspective_to_translation(cam, focal, size)
    p = point[0, 0] + t[0]
    pixels = focal * p[:2] / p[2] + size / 2
    torch.testing.assert_close(pixels / (size / 2) - 1, weak[0, 0])


def test_shape_errors():
    with pytest.raises(ValueError, match=r'cam must have shape \(2, 3\)'):
        weak_perspective_project(torch.zeros(2, 5, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r'points must have shape \(B, K, 3\)'):
        weak_perspective_project(torch.zeros(2, 5, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r'scale must have shape \(2,\) or \(2, 2\)'):
        crop_to_image(torch.zeros(2, 5, 2), torch.zeros(2, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r'center must have shape \(2, 2\)'):
        image_to_crop(torch.zeros(2, 5, 2), torch.zeros(1, 2), torch.zeros(2))


def test_crop_image_numpy_and_model_input_pixels():
    import numpy as np

    # A 224 x 224 input covering the box centred at (100, 50) of size 200 x 100.
    center, scale, size = np.array([100.0, 50.0]), np.array([200.0, 100.0]), np.array([224, 224])
    crop_pixels = np.array([[[0.0, 0.0], [224.0, 224.0], [112.0, 112.0]]])  # (1, 3, 2)
    image = crop_to_image(crop_pixels, center, scale, input_size=size)
    assert isinstance(image, np.ndarray) and image.shape == (1, 3, 2)
    np.testing.assert_allclose(image, [[[0.0, 0.0], [200.0, 100.0], [100.0, 50.0]]])
    # MMPose's own crop-to-image expression, bit for bit (float32 as the estimator runs it).
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 224, (1, 14, 2)).astype(np.float32)
    c32, s32, z32 = center.astype(np.float32), scale.astype(np.float32), size.astype(np.float32)
    mmpose = points / z32 * s32 + c32 - 0.5 * s32
    ours = crop_to_image(points, c32, s32, input_size=z32)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, mmpose)
    np.testing.assert_allclose(image_to_crop(ours, c32, s32, input_size=z32), points,
                               atol=1e-4)
    # Normalised coordinates: numpy gives what torch gives.
    corners = np.array([[[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]])
    np.testing.assert_allclose(crop_to_image(corners, center, scale), image)
    torch.testing.assert_close(
        crop_to_image(torch.from_numpy(corners), torch.from_numpy(center[None]),
                      torch.from_numpy(scale[None])), torch.from_numpy(image))
    np.testing.assert_allclose(image_to_crop(image, center, scale), corners)
    # A scalar scale is a square box; tuples are accepted for numpy points.
    np.testing.assert_allclose(crop_to_image(corners, (0.0, 0.0), 10.0)[0, 1], [5.0, 5.0])
    with pytest.raises(ValueError, match=r'input_size must be the model input \(w, h\)'):
        crop_to_image(crop_pixels, center, scale, input_size=np.array([224]))
