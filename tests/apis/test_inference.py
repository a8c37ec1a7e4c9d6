"""inference_mesh on a synthetic render with given boxes: fields, shapes and known numbers."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fastmetro_mm.apis import MeshPrediction, inference_mesh, init_model, mesh_faces
from fastmetro_mm.mesh.image_camera import weak_perspective_to_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'visualization'))
from scene_helpers import posed_body, render_ground_truth  # noqa: E402

WIDTH, HEIGHT = 320, 240


@pytest.fixture(scope='module')
def model(mesh_checkpoint):
    return init_model(mesh_checkpoint['config'], mesh_checkpoint['checkpoint'], 'cpu',
                      cfg_options=mesh_checkpoint['cfg_options'])


@pytest.fixture(scope='module')
def scene(synthetic_data_dir, tmp_path_factory):
    body = posed_body(synthetic_data_dir, 0)
    gt = render_ground_truth(body['vertices'], body['faces'], WIDTH, HEIGHT, 0)
    image = np.ascontiguousarray(gt['image'][..., ::-1])  # BGR, as cv2.imread gives
    path = tmp_path_factory.mktemp('api_images') / 'person.png'
    cv2.imwrite(str(path), image)
    box = np.concatenate([gt['uv'].min(0), gt['uv'].max(0)]).astype(np.float32)
    return dict(image=image, path=path, box=box)


def test_results_have_the_documented_fields_and_shapes(model, scene, mesh_checkpoint):
    FIXED_CAM = mesh_checkpoint['cam']
    boxes = np.stack([scene['box'], [10, 20, 90, 200]]).astype(np.float32)
    people = inference_mesh(model, scene['image'], boxes)
    assert len(people) == 2 and all(isinstance(p, MeshPrediction) for p in people)
    for person, box in zip(people, boxes):
        assert person.vertices.shape == person.vertices_cam.shape == (6890, 3)
        assert person.vertices_2d.shape == (6890, 2)
        assert person.keypoints_3d.shape == person.keypoints_3d_cam.shape == (14, 3)
        assert person.keypoints_2d.shape == (14, 2)
        assert person.cam.shape == person.cam_t.shape == (3, )
        np.testing.assert_array_equal(person.bbox, box)
        assert person.bbox_score == 1.0
        # The test pipeline's crop: the box centre, padded to a square (padding 1.0).
        np.testing.assert_allclose(person.crop_center, 0.5 * (box[:2] + box[2:]), atol=1e-4)
        side = max(box[2] - box[0], box[3] - box[1])
        np.testing.assert_allclose(person.crop_scale, [side, side], rtol=1e-5)
        np.testing.assert_allclose(person.cam, FIXED_CAM, atol=1e-6)
        # Eq. (2) of image_camera with f = 5000 * 320 / 256 and p = image centre.
        focal = 5000.0 * WIDTH / 256
        assert person.focal_length == pytest.approx(focal)
        np.testing.assert_allclose(person.principal_point, [(WIDTH - 1) / 2, (HEIGHT - 1) / 2])
        s, t = FIXED_CAM[0], np.array(FIXED_CAM[1:])
        expected_t = np.append(t + 2 * (person.crop_center - person.principal_point) / (s * side),
                               2 * focal / (s * side))
        np.testing.assert_allclose(person.cam_t, expected_t, rtol=1e-4)
        np.testing.assert_allclose(person.vertices_cam, person.vertices + person.cam_t,
                                   atol=1e-5)
        # The 2D joints are where the weak-perspective camera puts them, within a pixel.
        weak = weak_perspective_to_image(person.keypoints_3d[None], person.cam[None],
                                         person.crop_center[None], person.crop_scale[None])[0]
        assert np.abs(person.keypoints_2d - weak).max() < 1.0
        assert np.all(np.isfinite(person.vertices_2d))
    assert mesh_faces(model).shape == (13776, 3)
    assert 'vertices' in people[0].to_dict()
    assert 'vertices' not in people[0].to_dict(with_vertices=False)


def test_batches_paths_and_box_formats_give_the_same_numbers(model, scene):
    box = scene['box']
    other = np.array([[40, 30, 150, 220, 0.7]], np.float32)
    one_by_one = inference_mesh(model, [scene['image'], scene['path']],
                                [box[None], other], batch_size=1)
    together = inference_mesh(model, [scene['image'], scene['path']],
                              [box[None], other], batch_size=16)
    assert [len(frame) for frame in together] == [1, 1]
    for a, b in zip(one_by_one, together):
        np.testing.assert_allclose(a[0].vertices, b[0].vertices, atol=1e-4)
    assert together[1][0].bbox_score == pytest.approx(0.7)
    xywh = np.append(box[:2], box[2:] - box[:2])[None]
    as_xywh = inference_mesh(model, scene['image'], xywh, bbox_format='xywh')
    np.testing.assert_allclose(as_xywh[0].vertices, together[0][0].vertices, atol=1e-4)
    np.testing.assert_allclose(as_xywh[0].bbox, box, atol=1e-4)


def test_attention_maps_and_crop_on_request(model, scene):
    person, = inference_mesh(model, scene['image'], scene['box'][None], return_attention=True)
    self_attn = person.attention['decoder_self_attention']
    cross_attn = person.attention['decoder_cross_attention']
    layers = self_attn.shape[1]  # FastMETRO-S: 1 decoder layer per transformer
    assert self_attn.shape == (2, layers, 14 + 431, 14 + 431)
    assert cross_attn.shape[:3] == (2, layers, 14 + 431)
    np.testing.assert_allclose(self_attn.sum(-1), 1.0, atol=1e-4)  # softmax rows
    assert person.crop.shape == (128, 128, 3) and person.crop.dtype == np.uint8
    plain, = inference_mesh(model, scene['image'], scene['box'][None])
    assert plain.attention is None and plain.crop is None
    assert model.test_cfg.get('output_attention', False) is False  # restored


def test_no_boxes_and_no_detector_take_the_whole_image(model, scene):
    person, = inference_mesh(model, scene['image'])
    np.testing.assert_array_equal(person.bbox, [0, 0, WIDTH, HEIGHT])
    given, = inference_mesh(model, scene['image'], [[0, 0, WIDTH, HEIGHT]])
    np.testing.assert_array_equal(person.vertices_cam, given.vertices_cam)
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        inference_mesh(model, scene['image'], np.zeros((1, 3)))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        inference_mesh(model, 'missing.png', scene['box'][None])


def test_a_mesh_predicted_behind_the_camera_is_kept_root_relative_and_not_drawn(model, scene):
    """A non-positive weak-perspective scale: NaN placement, a warning, no crash."""
    import torch
    from fastmetro_mm.render import MeshRenderer
    from fastmetro_mm.visualization import render_predictions

    camera_head = model.head.network.camera_head
    saved = camera_head.weight.detach().clone(), camera_head.bias.detach().clone()
    with torch.no_grad():
        camera_head.weight.zero_()
        camera_head.bias.copy_(torch.tensor([-1.0, 0.0, 0.0]))
    try:
        with pytest.warns(UserWarning, match=r'scale is -1 <= 0'):
            person, = inference_mesh(model, scene['image'], scene['box'][None])
    finally:
        with torch.no_grad():
            camera_head.weight.copy_(saved[0])
            camera_head.bias.copy_(saved[1])
    assert np.isfinite(person.vertices).all() and np.isfinite(person.keypoints_3d).all()
    assert np.isnan(person.cam_t).all() and np.isnan(person.vertices_2d).all()
    rgb = np.ascontiguousarray(scene['image'][..., ::-1])
    with MeshRenderer(mesh_faces(model)) as renderer:
        drawn = render_predictions(renderer, rgb, [person])
    np.testing.assert_array_equal(drawn, rgb)  # nothing drawn over the image
