"""MeshInferencer on an image, a folder and a video (files, counts, the same numbers as
inference_mesh); .glb round trips through trimesh; a user's intrinsics K (fx != fy, an
off-centre principal point) are honoured by the translation, the 2D points and the overlay."""
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

from fastmetro_mm.apis import (MeshInferencer, inference_mesh, mesh_faces, save_glb,
                               save_person_mesh)
from fastmetro_mm.apis import model_names
from fastmetro_mm.mesh.image_camera import ImageCamera, weak_perspective_to_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'visualization'))
from scene_helpers import posed_body, render_ground_truth  # noqa: E402

WIDTH, HEIGHT = 320, 240
#: A user's camera: non-square pixels and a principal point away from the image centre.
K = np.array([[3000.0, 0.0, 150.0], [0.0, 2970.0, 131.0], [0.0, 0.0, 1.0]])


@pytest.fixture(scope='module')
def inferencer(mesh_checkpoint):
    return MeshInferencer(mesh_checkpoint['config'], mesh_checkpoint['checkpoint'],
                          cfg_options=mesh_checkpoint['cfg_options'])


@pytest.fixture(scope='module')
def scene(synthetic_data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp('inferencer_images')
    images, boxes = [], []
    for seed in (0, 1):
        body = posed_body(synthetic_data_dir, seed)
        gt = render_ground_truth(body['vertices'], body['faces'], WIDTH, HEIGHT, seed)
        image = np.ascontiguousarray(gt['image'][..., ::-1])  # BGR
        cv2.imwrite(str(folder / f'person{seed}.png'), image)
        images.append(image)
        boxes.append(np.concatenate([gt['uv'].min(0), gt['uv'].max(0)]).astype(np.float32))
    return dict(folder=folder, images=images, boxes=boxes)


def test_glb_round_trip_keeps_vertices_colours_and_the_camera(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=2)
    rng = np.random.default_rng(0)
    meshes = np.stack([sphere.vertices * 0.3 + [0.2, -0.1, 6.0],
                       sphere.vertices * 0.2 + [-0.5, 0.3, 8.0]])
    camera = ImageCamera.from_intrinsics(K, WIDTH, HEIGHT)
    path = save_glb(tmp_path / 'people.glb', meshes, sphere.faces, camera=camera)
    scene = trimesh.load(path, process=False)
    assert list(scene.geometry) == ['person0', 'person1']
    for index, mesh in enumerate(scene.geometry.values()):
        back = np.asarray(mesh.vertices) * [1, -1, -1]  # glTF axes -> OpenCV axes
        np.testing.assert_allclose(back, meshes[index], atol=1e-6)  # float32 in the file
        np.testing.assert_array_equal(mesh.faces, sphere.faces)
    extras = scene.metadata
    assert extras['frame'] == 'camera'
    np.testing.assert_allclose(extras['intrinsics'], K)
    # The glTF camera's field of view is the image's: tan(yfov / 2) = (H / 2) / fy.
    with open(path, 'rb') as stream:
        data = stream.read()
    tree = json.loads(data[20:20 + int.from_bytes(data[12:16], 'little')])
    perspective = tree['cameras'][0]['perspective']
    assert math.tan(perspective['yfov'] / 2) == pytest.approx(HEIGHT / 2 / 2970.0)
    assert perspective['aspectRatio'] * HEIGHT / 2 / 2970.0 == pytest.approx(WIDTH / 2 / 3000)
    camera_node = [node for node in tree['nodes'] if node.get('camera') == 0]
    assert len(camera_node) == 1 and camera_node[0]['translation'] == [0.0, 0.0, 0.0]

    colours = rng.uniform(0, 1, (len(sphere.vertices), 3))
    coloured = trimesh.load(save_glb(tmp_path / 'c.glb', meshes[0], sphere.faces, colours),
                            process=False, force='mesh')
    np.testing.assert_allclose(coloured.visual.vertex_colors[:, :3] / 255, colours,
                               atol=0.5 / 255 + 1e-9)
    with pytest.raises(FileExistsError, match='overwrite=True'):
        save_glb(path, meshes, sphere.faces)
    with pytest.raises(ValueError, match=r'vertex_colours must have shape \(162, 3\|4\)'):
        save_glb(tmp_path / 'bad.glb', meshes[0], sphere.faces, colours[:10])
    with pytest.raises(ValueError, match='.glb'):
        save_glb(tmp_path / 'bad.gltf', meshes[0], sphere.faces)


def test_known_intrinsics_place_the_meshes_in_the_image(inferencer, scene, tmp_path):
    from fastmetro_mm.visualization.prediction_overlay import render_predictions
    image, box = scene['images'][0], scene['boxes'][0]
    person, = inference_mesh(inferencer.model, image, box[None], camera_intrinsics=K)
    np.testing.assert_allclose(person.intrinsics, K)
    # The root (the origin of the root-relative mesh) projects with K exactly where the
    # network's crop camera puts it ...
    root = K @ person.cam_t / person.cam_t[2]
    weak_root = weak_perspective_to_image(np.zeros((1, 1, 3)), person.cam[None],
                                          person.crop_center[None], person.crop_scale[None])[0]
    np.testing.assert_allclose(root[:2], weak_root[0], atol=1e-3)
    # ... and the camera-frame joints project with K onto the network's 2D joints within a
    # fraction of a pixel; the residual is what image_camera's docstring says: a joint's
    # depth within the body X_z / T_z of its distance from the principal point, and
    # sqrt(fx / fy) - 1 (0.5 %) of its distance from the root.
    projected = (person.keypoints_3d_cam @ K.T)[:, :2] / person.keypoints_3d_cam[:, 2:]
    weak = weak_perspective_to_image(person.keypoints_3d[None], person.cam[None],
                                     person.crop_center[None], person.crop_scale[None])[0]
    error = np.abs(projected - weak)
    depth_share = np.abs(person.keypoints_3d[:, 2:]) / person.cam_t[2]
    aspect = np.array([math.sqrt(K[0, 0] / K[1, 1]) - 1, math.sqrt(K[1, 1] / K[0, 0]) - 1])
    bound = 1.05 * (depth_share * np.abs(weak - K[:2, 2]) + np.abs(aspect * (weak - weak_root)))
    assert np.all(error <= bound) and error.max() < 1.0
    np.testing.assert_allclose(person.keypoints_2d, projected, atol=1e-3)
    # The overlay lands on the projected mesh: the rendered silhouette lies in the projected
    # triangles filled by cv2 (which also fills the pixels that thin spikes of this
    # random-weight mesh only touch) and has the same centre of mass.
    from fastmetro_mm.render import MeshRenderer
    faces = mesh_faces(inferencer.model)
    overlay = render_predictions(MeshRenderer(faces), np.zeros((HEIGHT, WIDTH, 3), np.uint8),
                                 [person], alpha=1.0)
    rendered = overlay.max(axis=2) > 0
    filled = np.zeros((HEIGHT, WIDTH), np.uint8)
    triangles = np.round(person.vertices_2d[faces] * 256).astype(np.int32)
    cv2.fillPoly(filled, list(triangles), 1, lineType=cv2.LINE_8, shift=8)
    filled = filled > 0
    assert rendered.sum() > 500 and (rendered & filled).sum() > 0.95 * rendered.sum()
    centres = [np.argwhere(mask).mean(0) for mask in (rendered, filled)]
    # Measured: 0.2 px apart; a renderer taking fx for fy too puts it 0.56 px off in y.
    assert np.abs(centres[0] - centres[1]).max() < 0.35
    # The root-centred .glb puts the camera at -cam_t: the root again lands on the camera's
    # axis at depth cam_t_z, in glTF axes.
    path = save_person_mesh(tmp_path / 'root.glb', person, mesh_faces(inferencer.model),
                            frame='root', image_size=(WIDTH, HEIGHT))
    extras = trimesh.load(path, process=False).metadata
    assert extras['frame'] == 'root-centred'
    np.testing.assert_allclose(extras['camera_position'], -person.cam_t * [1, -1, -1],
                               rtol=1e-6)
    with pytest.raises(ValueError, match='both'):
        inference_mesh(inferencer.model, image, box[None], focal_length=1000.0,
                       camera_intrinsics=K)
    with pytest.raises(ValueError, match='no skew'):
        inference_mesh(inferencer.model, image, box[None],
                       camera_intrinsics=K + np.array([[0, 1.0, 0], [0, 0, 0], [0, 0, 0]]))


def test_inferencer_on_an_image_and_a_folder_writes_and_matches_inference_mesh(
        inferencer, scene, tmp_path):
    box = scene['boxes'][0]
    out = tmp_path / 'out'
    results = list(inferencer(str(scene['folder']), batch_size=2, out_dir=str(out),
                              bboxes=box[None], return_vis=True))
    assert len(results) == 1 and results[0]['names'] == ['person0.png', 'person1.png']
    expected = inference_mesh(inferencer.model, scene['images'], [box[None]] * 2)
    for people, reference in zip(results[0]['predictions'], expected):
        assert len(people) == 1
        np.testing.assert_allclose(people[0].vertices_cam, reference[0].vertices_cam, atol=1e-5)
    assert [v.shape for v in results[0]['visualization']] == [(HEIGHT, WIDTH, 3)] * 2
    assert sorted(p.name for p in (out / 'visualizations').iterdir()) == \
        ['person0.png', 'person1.png']
    numbers = json.loads((out / 'predictions' / 'person1.json').read_text())['people']
    np.testing.assert_allclose(numbers[0]['cam_t'], expected[1][0].cam_t, rtol=1e-6)
    meshes = sorted(p.name for p in (out / 'predictions' / 'meshes').iterdir())
    assert meshes == ['person0_person0.glb', 'person0_person0.obj', 'person1_person0.glb',
                      'person1_person0.obj']
    obj = (out / 'predictions' / 'meshes' / 'person0_person0.obj').read_text()
    assert '# frame: camera' in obj
    loaded = trimesh.load(out / 'predictions' / 'meshes' / 'person0_person0.glb',
                          process=False, force='mesh')
    np.testing.assert_allclose(np.asarray(loaded.vertices) * [1, -1, -1],
                               expected[0][0].vertices_cam, atol=1e-4)
    with pytest.raises(FileExistsError, match='person0.png'):
        next(inferencer(str(scene['folder']), out_dir=str(out), bboxes=box[None]))
    # One image, no box and no detector: the whole image is the box.
    single, = inferencer(scene['images'][1], pred_out_dir=str(tmp_path / 'one'),
                         mesh_formats=(), pred_format='npz')
    np.testing.assert_array_equal(single['predictions'][0][0].bbox, [0, 0, WIDTH, HEIGHT])
    assert [p.name for p in (tmp_path / 'one').iterdir()] == ['00000000.npz']


def test_inferencer_on_a_video_writes_one_video_and_numbers_for_every_frame(
        inferencer, scene, tmp_path):
    video = tmp_path / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 10.0, (WIDTH, HEIGHT))
    frames = [scene['images'][0], scene['images'][1], scene['images'][0]]
    for frame in frames:
        writer.write(frame)
    writer.release()
    capture = cv2.VideoCapture(str(video))
    decoded = [capture.read()[1] for _ in frames]
    box = scene['boxes'][0]
    out = tmp_path / 'out'
    results = list(inferencer(str(video), batch_size=2, out_dir=str(out), bboxes=box[None],
                              mesh_formats=('glb', )))
    assert [len(r['names']) for r in results] == [2, 1]
    people = [frame for r in results for frame in r['predictions']]
    assert [p[0].track_id for p in people] == [0, 0, 0]  # one track through the clip
    expected = inference_mesh(inferencer.model, decoded, [box[None]] * 3)
    for got, reference in zip(people, expected):
        np.testing.assert_allclose(got[0].vertices_cam, reference[0].vertices_cam, atol=1e-5)
    written = cv2.VideoCapture(str(out / 'visualizations' / 'clip.mp4'))
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    numbers = json.loads((out / 'predictions' / 'clip.json').read_text())['people']
    assert [row['image'] for row in numbers] == ['0', '1', '2']
    assert sorted(p.name for p in (out / 'predictions' / 'meshes').iterdir()) == [
        f'clip_frame{i:06d}_person0.glb' for i in range(3)]
    # With smoothing (video_inference's One Euro filter per track) the first frame is as
    # predicted, the next one pulled towards it.
    smoothed = [frame for r in inferencer(str(video), batch_size=3, bboxes=box[None],
                                          smoothing=True) for frame in r['predictions']]
    raw = [frame[0].vertices_cam for frame in people]
    np.testing.assert_allclose(smoothed[0][0].vertices_cam, raw[0], atol=1e-5)
    step = np.linalg.norm(raw[1] - raw[0])
    assert 0 < np.linalg.norm(smoothed[1][0].vertices_cam - raw[0]) < step
    with pytest.raises(ValueError, match='not to images'):
        next(inferencer(scene['images'][0], smoothing=True))


def test_model_names_say_where_the_checkpoint_goes(monkeypatch, tmp_path):
    with pytest.raises(KeyError, match="'quickstart'"):
        model_names.resolve_model_name('no_such_model')
    (tmp_path / 'configs' / 'official').mkdir(parents=True)
    (tmp_path / 'configs' / 'official' / 'fastmetro_l_h64_3dpw_release.py').write_text('')
    monkeypatch.setattr(model_names, 'REPO_ROOT', tmp_path)
    expected = tmp_path / 'work_dirs' / 'official' / 'fastmetro_l_h64_3dpw.pth'
    with pytest.raises(FileNotFoundError, match=f'{expected}.*FastMETRO-L-H64_3dpw_state_dict'):
        MeshInferencer('fastmetro_l_h64_3dpw')


def test_inferencer_demo_writes_root_centred_meshes_with_the_given_intrinsics(
        mesh_checkpoint, scene, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'demo'))
    import inferencer_demo
    options = [f'{key}={value}' for key, value in mesh_checkpoint['cfg_options'].items()]
    image = scene['folder'] / 'person0.png'
    argv = [mesh_checkpoint['config'], '--weights', mesh_checkpoint['checkpoint'], '--input',
            str(image), '--out-dir', str(tmp_path), '--intrinsics', '3000', '2970', '150',
            '131', '--mesh-frame', 'root', '--mesh-formats', 'obj', '--bbox',
            *map(str, scene['boxes'][0]), '--cfg-options', *options]
    assert inferencer_demo.main(argv) == 0
    person = json.loads((tmp_path / 'predictions' / 'person0.json').read_text())['people'][0]
    assert (person['focal_length'], person['focal_length_y']) == (3000.0, 2970.0)
    obj = tmp_path / 'predictions' / 'meshes' / 'person0_person0.obj'
    assert '# frame: root-centred' in obj.read_text()
    np.testing.assert_allclose(trimesh.load(obj, process=False).vertices, person['vertices'],
                               atol=1e-5)
    with pytest.raises(SystemExit, match='overwrite'):
        inferencer_demo.main(argv)
