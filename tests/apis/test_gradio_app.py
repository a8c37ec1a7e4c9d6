"""demo/gradio_app.py: the app's work on good and bad uploads, and the page in a real browser.

The browser test starts the app on a free port, drives Debian's chromium through playwright
(no browser download), uploads a rendered synthetic person, waits for the overlay, downloads
the .glb and reads it with trimesh. Screenshots of the page before and after the upload go to
``/tmp/gradio_shots/``. It is skipped, saying why, where chromium, playwright or gradio is
missing (``make env`` installs them where it can).
"""
import importlib.util
import shutil
import socket
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'visualization'))
from scene_helpers import posed_body, render_ground_truth  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
SHOTS = Path('/tmp/gradio_shots')
WIDTH, HEIGHT = 240, 320


def _gradio_app_module():
    folder = str(ROOT / 'demo')
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the demos import demo_setup beside them
    spec = importlib.util.spec_from_file_location('demo_gradio_app',
                                                  ROOT / 'demo' / 'gradio_app.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def gradio_app():
    return _gradio_app_module()


@pytest.fixture(scope='module')
def mesh_app(gradio_app, mesh_checkpoint, tmp_path_factory):
    from fastmetro_mm.apis import init_model
    model = init_model(mesh_checkpoint['config'], mesh_checkpoint['checkpoint'],
                       cfg_options=mesh_checkpoint['cfg_options'])
    limits = gradio_app.UploadLimits(max_megabytes=1.0, max_side=1000, max_frames=3)
    return gradio_app.MeshApp(model, None, tmp_path_factory.mktemp('app_out'), limits)


@pytest.fixture(scope='module')
def person_png(synthetic_data_dir, tmp_path_factory) -> Path:
    """A rendered synthetic person filling most of a 240 x 320 photo."""
    body = posed_body(synthetic_data_dir, 3)
    image = render_ground_truth(body['vertices'], body['faces'], WIDTH, HEIGHT, 1)['image']
    path = tmp_path_factory.mktemp('upload') / 'person.png'
    cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))
    return path


def test_image_upload_gives_overlay_glb_obj_and_json(mesh_app, person_png):
    result = mesh_app.process(str(person_png))
    assert result.message.startswith('1 person in person.png')
    assert 'whole image' in result.message  # no detector: the note says what was assumed
    assert result.overlay.shape == (HEIGHT, 2 * WIDTH, 3)  # overlay | side view
    assert sorted(path.suffix for path in result.files) == ['.glb', '.json', '.obj']
    scene = trimesh.load(result.glb)
    (mesh, ) = scene.geometry.values()
    assert mesh.vertices.shape == (6890, 3)
    obj_path = next(p for p in result.files if p.suffix == '.obj')
    assert '# frame: camera' in obj_path.read_text()  # the .obj says its frame
    obj = trimesh.load(obj_path, process=False)
    # The .glb holds the mesh around its root in glTF axes (y up, z to the viewer).
    centred = obj.vertices - obj.vertices.mean(0)
    np.testing.assert_allclose(mesh.vertices - mesh.vertices.mean(0),
                               centred * [1, -1, -1], atol=1e-4)


@pytest.mark.parametrize('name, content, expected', [
    ('notes.txt', b'not a picture', 'not an image OpenCV can decode'),
    ('photo.jpg', b'\xff\xd8\xff' + b'\x00' * 64, 'not an image OpenCV can decode'),
    ('clip.mp4', b'\x00\x00\x00\x18ftypmp42' + b'\x01' * 200, 'not a video OpenCV can decode'),
    ('big.png', b'\x00' * 1_100_000, 'the limit is 1 MB'),
], ids=['text', 'broken-jpeg', 'broken-mp4', 'too-large'])
def test_bad_uploads_are_answered_with_a_message(mesh_app, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    result = mesh_app.process(str(path))
    assert expected in result.message and result.message.startswith('**Cannot use')
    assert result.overlay is None and result.glb is None and not result.files


def test_too_large_image_and_short_video(mesh_app, person_png, tmp_path):
    cv2.imwrite(str(tmp_path / 'wide.png'), np.zeros((20, 1200, 3), np.uint8))
    assert 'longest side may be 1000' in mesh_app.process(str(tmp_path / 'wide.png')).message
    frame = cv2.imread(str(person_png))
    writer = cv2.VideoWriter(str(tmp_path / 'clip.avi'), cv2.VideoWriter_fourcc(*'MJPG'), 10,
                             (WIDTH, HEIGHT))
    for _ in range(5):
        writer.write(frame)
    writer.release()
    result = mesh_app.process(str(tmp_path / 'clip.avi'))
    assert 'in 3 frames of clip.avi (3 person boxes' in result.message  # limits.max_frames
    assert 'first 3 of its 5 frames' in result.message
    capture = cv2.VideoCapture(str(result.video))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert result.video.suffix == '.webm' and count == 3
    numbers = np.load(next(p for p in result.files if p.suffix == '.npz'))
    assert list(numbers['image']) == ['0', '1', '2']


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_page_in_a_headless_browser(gradio_app, mesh_app, person_png, tmp_path):
    if not Path(CHROMIUM).is_file():
        pytest.skip('no chromium: install it (Debian: apt-get install chromium; `make env` does '
                    'as root) to run the browser test')
    pytest.importorskip('playwright', reason='playwright is not installed (requirements/demo.txt)')
    pytest.importorskip('gradio', reason='gradio is not installed (requirements/demo.txt)')
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    page_app = gradio_app.build_page(mesh_app)
    port = _free_port()
    page_app.launch(server_name='127.0.0.1', server_port=port, prevent_thread_lock=True,
                    quiet=True, allowed_paths=[str(mesh_app.out_root)])
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport=dict(width=1280, height=900))
            page.goto(f'http://127.0.0.1:{port}/', wait_until='networkidle')
            page.wait_for_selector('#upload input[type=file]', state='attached')
            page.screenshot(path=str(SHOTS / 'before_upload.png'), full_page=True)

            page.set_input_files('#upload input[type=file]', str(person_png))
            page.wait_for_selector('#overlay img', timeout=45_000)
            page.wait_for_function("document.querySelector('#status').innerText"
                                   ".includes('1 person')", timeout=20_000)
            link = page.locator('#downloads a[download$=".glb"]').first
            link.wait_for(timeout=20_000)
            with page.expect_download() as download:
                link.click()
            glb = tmp_path / 'downloaded.glb'
            download.value.save_as(glb)
            page.wait_for_timeout(1500)  # let the 3D viewer draw before the picture
            page.screenshot(path=str(SHOTS / 'after_upload.png'), full_page=True)

            text_file = tmp_path / 'notes.txt'
            text_file.write_text('not a picture')
            page.click('#upload button[aria-label="Clear"]')  # back to an empty upload box
            page.set_input_files('#upload input[type=file]', str(text_file))
            page.wait_for_function("document.querySelector('#status').innerText"
                                   ".includes('not an image')", timeout=20_000)
            page.screenshot(path=str(SHOTS / 'bad_upload.png'), full_page=True)

            clip = tmp_path / 'clip.avi'
            writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*'MJPG'), 10,
                                     (WIDTH, HEIGHT))
            for _ in range(2):
                writer.write(cv2.imread(str(person_png)))
            writer.release()
            page.click('#upload button[aria-label="Clear"]')
            page.set_input_files('#upload input[type=file]', str(clip))
            page.wait_for_selector('#overlay-video video', timeout=45_000)
            page.wait_for_function("document.querySelector('#status').innerText"
                                   ".includes('in 2 frames of clip.avi')", timeout=20_000)
            page.wait_for_timeout(2500)  # the 3D viewer loads the frame's .glb
            page.screenshot(path=str(SHOTS / 'after_video.png'), full_page=True)
            browser.close()
    finally:
        page_app.close()
    (mesh, ) = trimesh.load(glb).geometry.values()
    assert mesh.vertices.shape == (6890, 3) and mesh.faces.shape == (13776, 3)


def test_detector_that_finds_nobody_is_answered_with_a_message(gradio_app, mesh_app, person_png):
    pytest.importorskip('mmdet')
    import torch

    from fastmetro_mm.apis import init_person_detector
    config = (Path(__import__('mmdet').__file__).parent / '.mim' / 'configs' / 'rtmdet'
              / 'rtmdet_tiny_8xb32-300e_coco.py')
    if not config.is_file():
        pytest.skip(f'mmdet installed without its configs ({config})')
    detector = init_person_detector(config, None, 'cpu')
    with torch.no_grad():
        for conv in detector.bbox_head.rtm_cls:
            conv.weight.zero_()
            conv.bias.fill_(-10.0)  # nothing anywhere
    app = gradio_app.MeshApp(mesh_app.model, detector, mesh_app.out_root, mesh_app.limits)
    result = app.process(str(person_png))
    assert 'No person found in person.png' in result.message and result.glb is None


def test_command_line_builds_the_app_and_finds_the_quickstart_checkpoint(
        gradio_app, mesh_checkpoint, synthetic_data_dir, tmp_path):
    args = gradio_app.parse_args([mesh_checkpoint['config'], mesh_checkpoint['checkpoint'],
                                  '--model-dir', str(synthetic_data_dir), '--out-dir',
                                  str(tmp_path / 'out'), '--max-frames', '7'])
    app = gradio_app.make_app(args)
    assert app.detector is None and app.limits.max_frames == 7
    assert app.faces.shape == (13776, 3)
    # make quickstart's folder: mmengine's last_checkpoint names the checkpoint to use.
    (tmp_path / 'epoch_2.pth').write_bytes(b'')
    (tmp_path / 'epoch_10.pth').write_bytes(b'')
    assert gradio_app.quickstart_checkpoint(tmp_path).name == 'epoch_10.pth'
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert gradio_app.quickstart_checkpoint(tmp_path).name == 'epoch_2.pth'
    with pytest.raises(SystemExit, match='make quickstart'):
        gradio_app.quickstart_checkpoint(tmp_path / 'missing')
    with pytest.raises(SystemExit, match='SMPL_NEUTRAL.pkl'):
        gradio_app.synthetic_model_options(tmp_path)


def test_detector_config_by_the_name_mmpose_ships_it_under(gradio_app):
    from demo_setup import DEFAULT_DET_CONFIG, resolve_det_config
    path = Path(resolve_det_config(DEFAULT_DET_CONFIG))
    assert path.is_file() and path.parent.name == 'mmdetection_cfg'
    with pytest.raises(SystemExit) as error:
        resolve_det_config('rtmdet_nano.py')
    assert 'rtmdet_nano.py: no such file' in str(error.value)
    assert DEFAULT_DET_CONFIG in str(error.value)  # the shipped configs are listed


def test_no_arguments_start_the_quickstart_model(gradio_app, synthetic_data_dir, person_png,
                                                 tmp_path, monkeypatch):
    """`make demo-app`: the quickstart config, its last checkpoint and the synthetic body."""
    import torch

    from fastmetro_mm.apis import init_model
    options = gradio_app.synthetic_model_options(synthetic_data_dir)
    model = init_model(str(gradio_app.QUICKSTART_CONFIG), None, cfg_options=options)
    with torch.no_grad():  # random weights with a camera in front of the person
        model.head.network.camera_head.weight.zero_()
        model.head.network.camera_head.bias.copy_(torch.tensor([0.9, 0.0, 0.0]))
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'epoch_4.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_4.pth'))
    monkeypatch.setattr(gradio_app, 'QUICKSTART_DIR', tmp_path)
    monkeypatch.setattr(gradio_app, 'SYNTHETIC_MODEL_DIR', synthetic_data_dir)
    app = gradio_app.make_app(gradio_app.parse_args(['--out-dir', str(tmp_path / 'out')]))
    assert app.model.backbone.depth == 18  # the quickstart's ResNet-18
    result = app.process(str(person_png))
    assert result.message.startswith('1 person in person.png') and result.glb.is_file()
