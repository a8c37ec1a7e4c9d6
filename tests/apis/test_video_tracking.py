"""Tracking people across frames, temporal smoothing, the video API and the video demo."""
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from fastmetro_mm.apis import inference_mesh, inference_video, init_model
from fastmetro_mm.apis.bbox_file import read_bbox_file
from fastmetro_mm.apis.mesh_prediction import MeshPrediction
from fastmetro_mm.apis.person_tracking import IoUTracker, box_iou, track_boxes
from fastmetro_mm.apis.temporal_smoothing import (SmoothingParams, TemporalSmoother,
                                                  nearest_rotation)
from fastmetro_mm.mesh.image_camera import ImageCamera

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'visualization'))
from scene_helpers import posed_body  # noqa: E402


def _box(cx: float, cy: float, w: float = 40.0, h: float = 80.0) -> list:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def test_box_iou_known_values():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10],
                                                        [20, 20, 30, 30]]))
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])


@pytest.mark.parametrize('seed', range(8))
def test_crossing_people_keep_their_ids(seed):
    # A walks right, B walks left at the same height: their boxes coincide at frame 10,
    # where which id goes to which (identical) box cannot matter.
    frames = [np.array([_box(100 + 8 * t, 100), _box(260 - 8 * t, 100)]) for t in range(21)]
    # The detector lists people in no particular order: shuffle the rows per frame (without
    # the tracker's motion prediction about half of these seeds swap the ids).
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(2) for _ in frames]
    ids = track_boxes([boxes[order] for boxes, order in zip(frames, orders)])
    walker_a = [int(frame_ids[np.argsort(order)][0]) for frame_ids, order in zip(ids, orders)]
    walker_b = [int(frame_ids[np.argsort(order)][1]) for frame_ids, order in zip(ids, orders)]
    del walker_a[10], walker_b[10]
    assert set(walker_a) == {walker_a[0]} and set(walker_b) == {walker_b[0]}
    assert walker_a[0] != walker_b[0]


def test_without_motion_prediction_crossing_would_be_ambiguous():
    # Guards the test above: just after the crossing both boxes overlap both previous
    # (identical) boxes equally, so only the predicted motion tells who is who.
    before = np.array([_box(180, 100), _box(180, 100)])
    now = np.array([_box(188, 100), _box(172, 100)])
    iou = box_iou(now, before)
    assert np.allclose(iou, iou[0, 0])


def test_track_survives_a_gap_up_to_max_age():
    tracker = IoUTracker(max_age=3)
    first = tracker.update(np.array([_box(100, 100)]), 0)
    tracker.update(np.array([_box(102, 100)]), 1)
    # not seen in frames 2, 3, 4 (a gap of 3)
    again = tracker.update(np.array([_box(110, 100)]), 5)
    assert again.tolist() == first.tolist()
    # a gap of 4 > max_age ends the track: a new id
    later = tracker.update(np.array([_box(110, 100)]), 10)
    assert later[0] != first[0]


def test_a_person_leaves_and_a_new_one_enters():
    boxes = ([np.array([_box(50, 100), _box(200, 100)])] * 3
             + [np.array([_box(200, 100)])] * 3
             + [np.array([_box(200, 100), _box(320, 100)])] * 3)
    ids = track_boxes(boxes, max_age=1)
    assert ids[0].tolist() == [0, 1]
    assert [frame.tolist() for frame in ids[3:6]] == [[1]] * 3
    assert [frame.tolist() for frame in ids[6:]] == [[1, 2]] * 3  # new id, 0 not reused


def test_tracker_refuses_bad_input():
    with pytest.raises(ValueError, match='iou_threshold'):
        IoUTracker(iou_threshold=0)
    with pytest.raises(ValueError, match='max_age'):
        IoUTracker(max_age=-1)
    tracker = IoUTracker()
    tracker.update(np.zeros((0, 4)), 4)
    with pytest.raises(ValueError, match='does not come after'):
        tracker.update(np.zeros((0, 4)), 4)
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        tracker.update(np.zeros((2, 3)), 5)


# ---------------------------------------------------------------- temporal smoothing

CAMERA = ImageCamera.for_image(160, 120)


def _person(vertices: np.ndarray, cam_t: np.ndarray, pose: np.ndarray) -> MeshPrediction:
    """A prediction with V vertices, 2 joints (the first two vertices) and an SMPL pose."""
    vertices = vertices.astype(np.float32)
    cam_t = cam_t.astype(np.float32)
    return MeshPrediction(
        bbox=np.array([10, 10, 60, 100], np.float32), bbox_score=1.0,
        crop_center=np.array([35, 55], np.float32), crop_scale=np.array([90, 90], np.float32),
        cam=np.array([0.9, 0.0, 0.1], np.float32), vertices=vertices,
        keypoints_3d=vertices[:2].copy(), cam_t=cam_t, focal_length=CAMERA.focal_length,
        principal_point=np.asarray(CAMERA.principal_point, np.float32),
        vertices_cam=vertices + cam_t, keypoints_3d_cam=vertices[:2] + cam_t,
        vertices_2d=CAMERA.project(vertices + cam_t).astype(np.float32),
        keypoints_2d=CAMERA.project(vertices[:2] + cam_t).astype(np.float32),
        smpl_pose=pose.astype(np.float32), smpl_betas=np.zeros(10, np.float32))


def test_nearest_rotation_returns_rotations_close_to_the_input():
    rng = np.random.default_rng(0)
    rotations = Rotation.random(6, random_state=1).as_matrix()
    noisy = rotations + 0.01 * rng.standard_normal(rotations.shape)
    fixed = nearest_rotation(noisy)
    np.testing.assert_allclose(fixed @ np.swapaxes(fixed, -1, -2), np.broadcast_to(np.eye(3),
                               fixed.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(fixed), 1.0)
    assert np.abs(fixed - rotations).max() < 0.03
    assert np.linalg.det(nearest_rotation(-np.eye(3))) == pytest.approx(1.0)  # no reflection


def test_smoother_keeps_a_still_person_and_reprojects_consistently():
    rng = np.random.default_rng(0)
    still = _person(rng.normal(0, 0.3, (5, 3)), np.array([0.1, 0.2, 30.0]),
                    Rotation.random(3, random_state=0).as_matrix())
    smoother = TemporalSmoother(30.0)
    for frame in range(5):
        out = smoother([still], [7], frame, CAMERA)[0]
    for name in ('vertices', 'keypoints_3d', 'cam_t', 'cam', 'smpl_pose', 'smpl_betas'):
        np.testing.assert_allclose(getattr(out, name), getattr(still, name), atol=1e-6)
    np.testing.assert_allclose(out.vertices_cam, out.vertices + out.cam_t, atol=1e-6)
    np.testing.assert_allclose(out.vertices_2d, CAMERA.project(out.vertices_cam), atol=1e-3)


def test_smoother_reduces_noise_per_track_and_keeps_rotations_valid():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 0.3, (5, 3))
    pose = Rotation.random(3, random_state=2).as_matrix()
    smoother = TemporalSmoother(30.0, SmoothingParams(min_cutoff=1.0, beta=0.0,
                                                      translation_beta=0.0))
    raw, smooth = [], []
    for frame in range(90):
        noisy = _person(base + 0.02 * rng.standard_normal((5, 3)),
                        np.array([0.0, 0.0, 30.0]) + 0.3 * rng.standard_normal(3),
                        nearest_rotation(pose + 0.05 * rng.standard_normal(pose.shape)))
        # a second person far away: its filters must not touch the first's
        other = _person(base + 5.0, np.array([2.0, 0.0, 40.0]), pose)
        out = smoother([other, noisy], [3, 1], frame, CAMERA)
        np.testing.assert_allclose(out[0].vertices, other.vertices, atol=1e-5)
        raw.append(noisy)
        smooth.append(out[1])
    settled = slice(30, None)
    for name in ('vertices', 'cam_t', 'smpl_pose'):
        before = np.stack([getattr(p, name) for p in raw])[settled]
        after = np.stack([getattr(p, name) for p in smooth])[settled]
        assert after.var(axis=0).mean() < before.var(axis=0).mean() / 4, name
    poses = np.stack([p.smpl_pose for p in smooth]).astype(np.float64)
    np.testing.assert_allclose(np.linalg.det(poses), 1.0, atol=1e-5)


def test_smoothing_options_are_checked():
    assert SmoothingParams.from_option(None) is None
    assert SmoothingParams.from_option(True) == SmoothingParams()
    assert SmoothingParams.from_option({'beta': 0.5}).beta == 0.5
    with pytest.raises(ValueError, match=r"unknown parameters \['mincutoff'\]"):
        SmoothingParams.from_option({'mincutoff': 1.0})
    with pytest.raises(ValueError, match='min_cutoff'):
        SmoothingParams(min_cutoff=0.0)
    smoother = TemporalSmoother(30.0)
    person = _person(np.zeros((5, 3)), np.array([0, 0, 30.0]), np.tile(np.eye(3), (3, 1, 1)))
    with pytest.raises(ValueError, match='same track id twice'):
        smoother([person, person], [1, 1], 0, CAMERA)


# ---------------------------------------------------------------- per-frame box files


def test_bbox_file_csv_and_json_hold_the_same_boxes(tmp_path):
    csv_file = tmp_path / 'boxes.csv'
    csv_file.write_text('frame,x1,y1,x2,y2,track_id\n0,1,2,30,40,5\n0,50,2,80,40,6\n'
                        '2,3,2,32,40,5\n\n')
    json_file = tmp_path / 'boxes.json'
    json_file.write_text(json.dumps([
        {'frame': 0, 'bbox': [1, 2, 30, 40], 'track_id': 5},
        {'frame': 0, 'bbox': [50, 2, 80, 40], 'track_id': 6},
        {'frame': 2, 'bbox': [3, 2, 32, 40], 'track_id': 5}]))
    for path in (csv_file, json_file):
        boxes = read_bbox_file(path)
        np.testing.assert_array_equal(boxes.boxes_of(0), [[1, 2, 30, 40], [50, 2, 80, 40]])
        assert boxes.boxes_of(1).shape == (0, 4)  # a frame without rows has no people
        assert boxes.track_ids_of(0).tolist() == [5, 6]
        assert boxes.track_ids_of(2).tolist() == [5]
    plain = tmp_path / 'plain.csv'
    plain.write_text('frame,x1,y1,x2,y2\n4,1,2,30,40\n')
    assert read_bbox_file(plain).track_ids is None


@pytest.mark.parametrize('name, text, match', [
    ('a.csv', 'frame,x,y,w,h\n0,1,2,3,4\n', 'header must be'),
    ('b.csv', 'frame,x1,y1,x2,y2\n0,1,2,30\n', 'line 2: expected 5 values'),
    ('c.csv', 'frame,x1,y1,x2,y2\n-1,1,2,30,40\n', 'line 2: frame must be an integer >= 0'),
    ('d.csv', 'frame,x1,y1,x2,y2\n0,30,2,1,40\n', 'line 2: empty box'),
    ('e.csv', 'frame,x1,y1,x2,y2,track_id\n0,1,2,30,40,1\n0,5,2,30,40,1\n', 'appears twice'),
    ('f.json', '[{"frame": 0, "bbox": [1, 2, 30, 40], "track_id": 1}, '
               '{"frame": 1, "bbox": [1, 2, 30, 40]}]', 'some rows have a track_id'),
    ('g.json', '[{"frame": 0, "box": [1, 2, 30, 40]}]', 'entry 0: expected an object'),
    ('h.json', '{"frame": 0}', 'expected a list'),
    ('i.txt', '', r"expected a \.csv or \.json"),
])
def test_bad_bbox_files_are_named(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as error:
        read_bbox_file(path)
    assert str(path) in str(error.value)


# ---------------------------------------------------------------- the video API and demo

WIDTH, HEIGHT, NUM_FRAMES = 160, 120, 7


def _walker_box(frame: int) -> list:
    return [10.0 + 8 * frame, 5.0, 90.0 + 8 * frame, 115.0]


@pytest.fixture(scope='module')
def walking_frames(synthetic_data_dir):
    """Seven BGR frames of one synthetic person moving right, and their boxes."""
    from fastmetro_mm.synthetic.scene import make_dataset_renderer
    body = posed_body(synthetic_data_dir, 4)
    vertices = body['vertices'] - body['vertices'].mean(0)
    camera = ImageCamera.for_image(WIDTH, HEIGHT, focal_length=150.0)
    frames = []
    with make_dataset_renderer(body['faces']) as renderer:
        for frame in range(NUM_FRAMES):
            placed = vertices + np.array([-0.9 + 0.1 * frame, 0.0, 4.0])
            image = renderer.render(placed, camera, np.full((HEIGHT, WIDTH, 3), 90, np.uint8),
                                    colours=[np.array([0.8, 0.6, 0.5])]).image
            frames.append(np.ascontiguousarray(image[..., ::-1]))
    return frames


@pytest.fixture(scope='module')
def video_model(mesh_checkpoint):
    return init_model(mesh_checkpoint['config'], mesh_checkpoint['checkpoint'],
                      cfg_options=mesh_checkpoint['cfg_options'])


def test_inference_video_tracks_smooths_and_warns_about_boxes_outside(video_model,
                                                                      walking_frames):
    boxes = {frame: np.array([_walker_box(frame)]) for frame in range(NUM_FRAMES)}
    boxes[4] = np.array([_walker_box(4), [100.0, 20.0, 170.0, 110.0]])  # a second person
    raw = inference_mesh(video_model, walking_frames,
                         [boxes[frame] for frame in range(NUM_FRAMES)])
    with pytest.warns(UserWarning, match=r'frame 4 \(160 x 120 pixels\) has boxes partly '
                      r'outside the image .*\[\[100\.0, 20\.0, 170\.0, 110\.0\]\]'):
        plain = inference_video(video_model, walking_frames, boxes, frames_per_batch=3)
    with pytest.warns(UserWarning, match='frame 4'):
        smooth = inference_video(video_model, iter(walking_frames), boxes, smoothing=True,
                                 frames_per_batch=3, fps=10.0)
    ids = [[person.track_id for person in people] for people in smooth]
    assert ids == [[0]] * 4 + [[0, 1]] + [[0]] * 2
    assert [[p.track_id for p in people] for people in plain] == ids
    for frame in range(NUM_FRAMES):  # without smoothing: inference_mesh's numbers (batched
        # otherwise, so equal up to float rounding)
        np.testing.assert_allclose(plain[frame][0].vertices_cam, raw[frame][0].vertices_cam,
                                   atol=1e-4)
    # smoothed: the first frame passes through, later ones move towards the past
    np.testing.assert_allclose(smooth[0][0].vertices, raw[0][0].vertices, atol=1e-6)
    assert not np.allclose(smooth[3][0].vertices, raw[3][0].vertices, atol=1e-4)
    last = smooth[-1][0]
    np.testing.assert_allclose(last.vertices_cam, last.vertices + last.cam_t, atol=1e-5)
    # a plain list of boxes is one set for every frame
    fixed = inference_video(video_model, walking_frames[:2], [_walker_box(0)])
    assert [len(people) for people in fixed] == [1, 1]
    with pytest.raises(ValueError, match='smoothing works per tracked person'):
        inference_video(video_model, walking_frames, boxes, track=False, smoothing=True)


def _demo_module():
    folder = str(Path(__file__).resolve().parents[2] / 'demo')
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import importlib.util
    spec = importlib.util.spec_from_file_location('video_demo_for_tracking',
                                                  Path(folder) / 'video_demo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_video_demo_with_a_bbox_file_tracks_and_smooths(mesh_checkpoint, walking_frames,
                                                        tmp_path):
    clip = tmp_path / 'walk.avi'
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*'MJPG'), 10, (WIDTH, HEIGHT))
    for frame in walking_frames:
        writer.write(frame)
    writer.release()
    rows = [f'{frame},' + ','.join(f'{v:g}' for v in _walker_box(frame)) + ',7'
            for frame in range(NUM_FRAMES) if frame != 2]  # missed in frame 2
    rows.append('5,120,30,175,110,9')  # reaches beyond the right border
    (tmp_path / 'boxes.csv').write_text('frame,x1,y1,x2,y2,track_id\n' + '\n'.join(rows))
    numbers = tmp_path / 'people.json'
    options = [f'{key}={value}' for key, value in mesh_checkpoint['cfg_options'].items()]
    with pytest.warns(UserWarning, match=r'frame 5 .*partly outside'):
        assert _demo_module().main([
            mesh_checkpoint['config'], mesh_checkpoint['checkpoint'], '--input', str(clip),
            '--out-file', str(tmp_path / 'walk_mesh.avi'), '--bbox-file',
            str(tmp_path / 'boxes.csv'), '--smooth', 'min_cutoff=0.5', 'beta=2',
            '--save-predictions', str(numbers), '--obj-dir', str(tmp_path / 'objs'),
            '--cfg-options', *options]) == 0
    people = json.loads(numbers.read_text())['people']
    assert [(p['image'], p['track_id']) for p in people] == [
        ('0', 7), ('1', 7), ('3', 7), ('4', 7), ('5', 7), ('5', 9), ('6', 7)]
    assert (tmp_path / 'objs' / 'frame000005_person9.obj').is_file()
    capture = cv2.VideoCapture(str(tmp_path / 'walk_mesh.avi'))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == NUM_FRAMES
    capture.release()


def test_video_demo_options_defaults_and_deprecated_numbers(tmp_path, capsys):
    demo = _demo_module()
    with pytest.raises(SystemExit):
        demo.parse_args(['--help'])
    assert '(default: 8)' in capsys.readouterr().out  # --frames-per-batch
    base = ['cfg.py', 'ckpt.pth', '--input', 'in.mp4', '--out-file', str(tmp_path / 'o.mp4')]
    with pytest.warns(DeprecationWarning, match='--save-predictions'):
        args = demo.parse_args(base + ['--numbers', str(tmp_path / 'n.npz')])
    assert args.save_predictions == str(tmp_path / 'n.npz')
    assert demo.parse_args(base + ['--smooth']).smoothing == {}
    with pytest.raises(SystemExit):
        demo.parse_args(base + ['--smooth', 'beta'])
    assert 'KEY=VALUE' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.parse_args(base + ['--smooth', '--no-track'])
    assert '--no-track' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.parse_args(base + ['--bbox-file', 'b.csv', '--bbox', '1', '2', '3', '4'])
