"""demo/image_demo.py and demo/video_demo.py end to end on synthetic renders (given boxes)."""
import importlib.util
import json
import re
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'visualization'))
from scene_helpers import posed_body, render_ground_truth  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 160, 120
BOX = ['20', '5', '140', '115']


def _demo(script: str):
    """A demo script as a module (in-process: no second interpreter start-up)."""
    folder = str(ROOT / 'demo')
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the demos import demo_setup beside them
    spec = importlib.util.spec_from_file_location(f'demo_{script}', ROOT / 'demo' / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(script: str, mesh_checkpoint: dict, *extra: str) -> None:
    options = [f'{key}={value}' for key, value in mesh_checkpoint['cfg_options'].items()]
    argv = [mesh_checkpoint['config'], mesh_checkpoint['checkpoint'], *extra,
            '--cfg-options', *options]
    assert _demo(script).main(argv) == 0


@pytest.fixture(scope='module')
def frames(synthetic_data_dir):
    """Ten BGR frames of one synthetic person."""
    body = posed_body(synthetic_data_dir, 4)
    return [np.ascontiguousarray(
        render_ground_truth(body['vertices'], body['faces'], WIDTH, HEIGHT, seed)['image'][
            ..., ::-1]) for seed in range(10)]


def test_video_demo_writes_one_output_frame_per_input_frame(mesh_checkpoint, frames, tmp_path):
    clip = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*'MJPG'), 10, (WIDTH, HEIGHT))
    for frame in frames:
        writer.write(frame)
    writer.release()
    out = tmp_path / 'out' / 'clip_mesh.mp4'
    _run('video_demo.py', mesh_checkpoint, '--input', str(clip), '--out-file', str(out),
         '--bbox', *BOX, '--frames-per-batch', '4', '--side-view', '--obj-dir',
         str(tmp_path / 'objs'))
    capture = cv2.VideoCapture(str(out))
    count, shape = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count, shape = count + 1, frame.shape
    capture.release()
    assert count == 10
    assert shape == (HEIGHT, 2 * WIDTH, 3)  # overlay and side view
    numbers = np.load(out.with_suffix('.npz'))
    assert numbers['vertices_cam'].shape == (10, 6890, 3)
    assert list(numbers['image']) == [str(i) for i in range(10)]
    objs = sorted((tmp_path / 'objs').glob('*.obj'))
    assert len(objs) == 10
    # Each says which frame it is in, as every other mesh export does.
    assert 'frame: camera' in objs[0].read_text().split('\nv ', 1)[0]
    # Written through a temporary file beside it (atomically): nothing else is left.
    assert sorted(p.name for p in out.parent.iterdir()) == ['clip_mesh.mp4', 'clip_mesh.npz']


def test_image_demo_writes_overlays_obj_meshes_numbers_and_attention(mesh_checkpoint, frames,
                                                                     tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for index in range(2):
        cv2.imwrite(str(folder / f'img{index}.png'), frames[index])
    out = tmp_path / 'out'
    _run('image_demo.py', mesh_checkpoint, '--input', str(folder), '--out-dir', str(out),
         '--bbox', *BOX, '--bbox', '0', '0', '80', '120', '--numbers', 'json',
         '--attention-joint', 'L_Wrist')
    for index in range(2):
        picture = cv2.imread(str(out / f'img{index}_mesh.png'))
        assert picture.shape == (HEIGHT, WIDTH, 3)
        assert not np.array_equal(picture, frames[index])  # something was drawn
        figure = cv2.imread(str(out / 'attention' / f'img{index}_person0_L_Wrist.png'))
        # The 128-pixel crop scaled to 384, beside the coloured mesh, a title, a colour bar.
        assert figure.shape[0] > 384 and figure.shape[1] > 2 * 384
    # Person 1's box (0, 0, 80, 120) is padded to a square reaching left of the image: that
    # padding is masked grey in the image panel (at 44 + row, column 12 + col of the figure).
    figure = cv2.imread(str(out / 'attention' / 'img0_person1_L_Wrist.png'))
    assert np.all(figure[44 + 192, 12 + 5] == 128)
    assert not np.all(figure[44 + 192, 12 + 200] == 128)
    people = json.loads((out / 'predictions.json').read_text())['people']
    assert [(p['image'], p['person']) for p in people] == [
        ('img0.png', 0), ('img0.png', 1), ('img1.png', 0), ('img1.png', 1)]
    # The .obj files hold the camera-frame meshes, vertex order and faces kept, and say so.
    obj = out / 'meshes' / 'img1_person1.obj'
    header = [line for line in obj.read_text().splitlines() if line.startswith('#')]
    assert any(line.startswith('# frame: camera') for line in header), header
    mesh = trimesh.load(obj, process=False)
    np.testing.assert_allclose(mesh.vertices, np.asarray(people[3]['vertices_cam']), atol=1e-5)
    assert mesh.faces.shape == (13776, 3)


def test_demo_without_boxes_or_detector_takes_the_whole_image_and_says_so(
        mesh_checkpoint, frames, tmp_path, capsys):
    cv2.imwrite(str(tmp_path / 'img.png'), frames[0])
    _run('image_demo.py', mesh_checkpoint, '--input', str(tmp_path / 'img.png'), '--out-dir',
         str(tmp_path / 'out'))
    assert 'whole image' in capsys.readouterr().out  # the note, naming --bbox and a detector
    numbers = np.load(tmp_path / 'out' / 'predictions.npz')
    np.testing.assert_allclose(numbers['bbox'], [[0, 0, WIDTH, HEIGHT]])


def test_image_demo_profile_prints_every_stage(mesh_checkpoint, frames, tmp_path, capsys):
    from fastmetro_mm.apis.stage_profile import STAGES
    folder = tmp_path / 'images'
    folder.mkdir()
    cv2.imwrite(str(folder / 'img0.png'), frames[0])
    _run('image_demo.py', mesh_checkpoint, '--input', str(folder), '--out-dir',
         str(tmp_path / 'out'), '--bbox', *BOX, '--profile')
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        match = re.fullmatch(r'(\S.*?)\s+(\d+)\s+(-?\d+\.\d)\s+(-?\d+\.\d)%', line)
        if match:
            rows[match[1]] = (int(match[2]), float(match[3]), float(match[4]))
    assert set(STAGES) | {'other'} <= set(rows), sorted(rows)
    assert all(ms >= 0 and share >= 0 for _, ms, share in rows.values())
    assert sum(share for _, _, share in rows.values()) == pytest.approx(100, abs=0.5)
    # One image of one person, given boxes: no detector; the model's stages ran once.
    for name in ('backbone', 'head network', 'crop and pipeline', 'rendering'):
        assert rows[name][0] == 1 and rows[name][1] > 0, name
    assert rows['upsampling'][0] == 2  # the intermediate and the fine step
    assert rows['detector'][0] == 0 and rows['SMPL regressor'][0] == 0
    assert rows['writing'][0] == 3  # overlay, .obj, predictions file
