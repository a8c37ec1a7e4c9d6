"""Browser demo: upload a photo or a short video, see the meshes, take them away as files.

After ``make quickstart`` one command starts it with the quickstart's trained model and the
synthetic body model (``make demo-app``, or)::

    python demo/gradio_app.py                       # http://127.0.0.1:7860
    python demo/gradio_app.py CONFIG CHECKPOINT --det-config DET_CONFIG --det-checkpoint DET_CKPT

The page shows the meshes over the upload (beside a side view), the meshes in a 3D viewer
(.glb) and offers per-person .obj, the .glb and all numbers (.json for an image, .npz for a
video) for download. Without a person detector the whole image (every frame) is taken as one
person's box, which fits a photo of one person filling the frame; with ``--det-config`` an
MMDetection detector finds the people. An upload that is too large, is neither an image nor a
video OpenCV decodes, or holds no person is answered with a message in the page.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from demo_setup import DEFAULT_DET_CHECKPOINT, DEFAULT_DET_CONFIG, ROOT, resolve_det_config

QUICKSTART_CONFIG = ROOT / 'configs' / 'quickstart' / 'fastmetro_s_r18_synthetic_quickstart.py'
QUICKSTART_DIR = ROOT / 'work_dirs' / 'quickstart'
SYNTHETIC_MODEL_DIR = ROOT / 'data' / 'synthetic'
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg')


class UploadError(ValueError):
    """An upload the app cannot use; its message is shown in the page as it is."""


@dataclass
class UploadLimits:
    """What the app accepts.

    Attributes:
        max_megabytes: largest upload, MB (10**6 bytes).
        max_side: longest image (or frame) side, pixels.
        max_frames: frames of a video processed; later frames are left out, and the page
            says so.
    """

    max_megabytes: float = 25.0
    max_side: int = 4096
    max_frames: int = 60


@dataclass
class AppResult:
    """What one upload gives the page.

    Attributes:
        message: Markdown for the page: counts, notes, or what was wrong with the upload.
        overlay: (H, W', 3) uint8 RGB meshes over the image (the first frame with people
            of a video) and the side view; None after an error.
        video: the overlay video (.webm, VP8, which browsers play) of a video upload.
        glb: the .glb shown in the 3D viewer.
        files: everything offered for download.
    """

    message: str
    overlay: Optional[np.ndarray] = None
    video: Optional[Path] = None
    glb: Optional[Path] = None
    files: List[Path] = field(default_factory=list)


def quickstart_checkpoint(work_dir: Path) -> Path:
    """The checkpoint ``make quickstart`` left in ``work_dir``: the one mmengine's
    ``last_checkpoint`` names, else the highest ``epoch_N.pth``."""
    pointer = work_dir / 'last_checkpoint'
    if pointer.is_file():
        named = Path(pointer.read_text().strip())
        named = named if named.is_absolute() else ROOT / named  # training runs from ROOT
        if named.is_file():
            return named
    epochs = sorted(work_dir.glob('epoch_*.pth'),
                    key=lambda path: int(path.stem.split('_')[1]) if path.stem.split('_')[1]
                    .isdigit() else -1)
    if not epochs:
        raise SystemExit(f'gradio_app: no checkpoint in {work_dir} (expected last_checkpoint or '
                         'epoch_N.pth); run `make quickstart` first, or give CONFIG CHECKPOINT')
    return epochs[-1]


def synthetic_model_options(model_dir: Path) -> Dict[str, str]:
    """Config overrides pointing the quickstart config at the synthetic body model files."""
    files = {'model.head.hierarchy_file': 'synthetic_downsampling.npz',
             'model.head.body_model.model_path': 'SMPL_NEUTRAL.pkl',
             'model.head.joint_regressor_file': 'J_regressor_h36m_synthetic.npy'}
    missing = [name for name in files.values() if not (model_dir / name).is_file()]
    if missing:
        raise SystemExit(f'gradio_app: --model-dir {model_dir} lacks {missing}; run `make '
                         'quickstart` (or tools/make_synthetic_models.py --out-dir '
                         f'{model_dir})')
    return {key: str(model_dir / name) for key, name in files.items()}


class MeshApp:
    """The app's work, without the page: one upload in, an :class:`AppResult` out.

    Args:
        model: from :func:`fastmetro_mm.apis.init_model`.
        detector: from :func:`fastmetro_mm.apis.init_person_detector`, or None for the
            whole-image box.
        out_root: folder under which each upload gets a new folder for its files.
        limits: what uploads are accepted (default: :class:`UploadLimits`'s defaults).
        detector_kwargs: ``det_cat_id``, ``bbox_thr``, ``nms_thr`` of ``inference_mesh``.
    """

    def __init__(self, model: Any, detector: Optional[Any], out_root: Path,
                 limits: Optional[UploadLimits] = None,
                 detector_kwargs: Optional[Dict[str, Any]] = None) -> None:
        from fastmetro_mm.apis import mesh_faces
        self.model = model
        self.detector = detector
        self.out_root = Path(out_root)
        self.limits = limits or UploadLimits()
        self.detector_kwargs = detector_kwargs or {}
        self.faces = mesh_faces(model)
        # One upload at a time: the model and the offscreen GL context are not shared.
        self._lock = threading.Lock()

    def process(self, upload: Optional[str]) -> AppResult:
        """Runs the model on an uploaded file; a bad upload gives a message, not an error."""
        if not upload:
            return AppResult('Upload an image (.jpg, .png, ...) or a short video (.mp4, ...).')
        path = Path(upload)
        try:
            self._check_size(path)
            with self._lock:
                if path.suffix.lower() in VIDEO_SUFFIXES:
                    return self._process_video(path)
                return self._process_image(path)
        except UploadError as err:
            return AppResult(f'**Cannot use this upload.** {err}')

    def _check_size(self, path: Path) -> None:
        megabytes = path.stat().st_size / 1e6
        if megabytes > self.limits.max_megabytes:
            raise UploadError(f'{path.name} is {megabytes:.1f} MB; the limit is '
                              f'{self.limits.max_megabytes:g} MB.')

    def _check_pixels(self, name: str, width: int, height: int) -> None:
        if max(height, width) > self.limits.max_side:
            raise UploadError(f'{name} is {width} x {height} pixels; the longest side may be '
                              f'{self.limits.max_side} pixels.')

    def _infer(self, frames: Sequence[np.ndarray]) -> List[list]:
        from fastmetro_mm.apis import inference_mesh
        return inference_mesh(self.model, list(frames), detector=self.detector,
                              **self.detector_kwargs)

    def _box_note(self) -> str:
        if self.detector is not None:
            return ''
        return ('\n\nNo person detector is configured: the whole image is taken as one '
                "person's box. Crop the photo around one person, or start the app with "
                '`--det-config` / `--det-checkpoint`.')

    def _new_folder(self) -> Path:
        self.out_root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix='upload_', dir=self.out_root))

    def _check_image_header(self, path: Path) -> None:
        """Refuses an image too large before decoding it: a small file may hold a huge
        image (a few kB of PNG can decode to gigabytes)."""
        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(path) as header:  # reads the header only
                width, height = header.size
        except Image.DecompressionBombError as err:
            raise UploadError(f'{path.name} is too large an image ({err})') from None
        except (UnidentifiedImageError, OSError):
            return  # not an image Pillow knows: OpenCV decides
        self._check_pixels(path.name, width, height)

    def _process_image(self, path: Path) -> AppResult:
        import cv2

        from fastmetro_mm.apis import save_person_mesh, save_predictions
        self._check_image_header(path)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            videos = ', '.join(VIDEO_SUFFIXES)
            raise UploadError(f'{path.name} is not an image OpenCV can decode (or it is '
                              f'damaged); upload a .jpg or .png photo, or a video ({videos}).')
        self._check_pixels(path.name, image.shape[1], image.shape[0])
        people = self._infer([image])[0]
        if not people:
            raise UploadError(f'No person found in {path.name} (detector score threshold '
                              f'{self.detector_kwargs.get("bbox_thr", 0.5)}).')
        folder = self._new_folder()
        stem = path.stem
        overlay = self._render(image[..., ::-1], people)
        files = [save_person_mesh(folder / f'{stem}_person{index}.obj', person, self.faces)
                 for index, person in enumerate(people)]
        glb = self._save_glb(folder / f'{stem}.glb', people, image.shape)
        files += [glb, save_predictions(folder / f'{stem}_predictions.json', [people],
                                        [path.name])]
        height, width = image.shape[:2]
        return AppResult(f'{len(people)} {"person" if len(people) == 1 else "people"} in '
                         f'{path.name} ({width} x {height}).' + self._box_note(),
                         overlay=overlay, glb=glb, files=files)

    def _process_video(self, path: Path) -> AppResult:
        frames, fps, total = self._read_video(path)
        frame_people = []
        for start in range(0, len(frames), 8):
            frame_people += self._infer(frames[start:start + 8])
        with_people = [index for index, people in enumerate(frame_people) if people]
        if not with_people:
            raise UploadError(f'No person found in any of the {len(frames)} frames of '
                              f'{path.name}.')
        folder = self._new_folder()
        stem = path.stem
        video = self._write_video(folder / f'{stem}_mesh.webm', frames, frame_people, fps)
        first = with_people[0]
        overlay = self._render(frames[first][..., ::-1], frame_people[first])
        glb = self._save_glb(folder / f'{stem}_frame{first}.glb', frame_people[first],
                             frames[first].shape)
        from fastmetro_mm.apis import save_predictions
        numbers = save_predictions(folder / f'{stem}_predictions.npz', frame_people,
                                   [str(index) for index in range(len(frames))])
        people = sum(len(p) for p in frame_people)
        left_out = (f' Only the first {len(frames)} of its {total} frames were processed.'
                    if total > len(frames) else '')
        return AppResult(f'Meshes in {len(frames)} frames of {path.name} ({people} person boxes '
                         f'in all); the 3D view shows frame {first}.{left_out}'
                         + self._box_note(), overlay=overlay,
                         video=video, glb=glb, files=[video, glb, numbers])

    def _read_video(self, path: Path) -> Tuple[List[np.ndarray], float, int]:
        """Up to ``max_frames`` BGR frames, the frame rate and the frame count it reports."""
        import cv2
        capture = cv2.VideoCapture(str(path))
        frames: List[np.ndarray] = []
        try:
            total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
            fps = float(capture.get(cv2.CAP_PROP_FPS)) if capture.isOpened() else 0.0
            while capture.isOpened() and len(frames) < self.limits.max_frames:
                ok, frame = capture.read()
                if not ok:
                    break
                if not frames:
                    self._check_pixels(path.name, frame.shape[1], frame.shape[0])
                frames.append(frame)
        finally:
            capture.release()
        if not frames:
            raise UploadError(f'{path.name} is not a video OpenCV can decode (no frame could be '
                              'read); upload an .mp4 (H.264 or MPEG-4) or .avi file.')
        return frames, fps if 0 < fps <= 240 else 25.0, max(total, len(frames))

    def _render(self, image_rgb: np.ndarray, people: list) -> np.ndarray:
        from fastmetro_mm.render import MeshRenderer
        from fastmetro_mm.visualization import render_predictions
        with MeshRenderer(self.faces) as renderer:
            return render_predictions(renderer, image_rgb, people, side_view=True)

    def _write_video(self, path: Path, frames: Sequence[np.ndarray], frame_people: List[list],
                     fps: float) -> Path:
        import cv2

        from fastmetro_mm.mesh.atomic_file import atomic_path
        from fastmetro_mm.render import MeshRenderer
        from fastmetro_mm.visualization import render_predictions
        height, width = frames[0].shape[:2]
        with atomic_path(path) as temporary, MeshRenderer(self.faces) as renderer:
            writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*'VP80'), fps,
                                     (width, height))
            if not writer.isOpened():
                raise RuntimeError(f'gradio_app: this OpenCV cannot write VP8 .webm videos '
                                   f'({temporary}); install opencv-python-headless from PyPI')
            try:
                for frame, people in zip(frames, frame_people):
                    picture = render_predictions(renderer, frame[..., ::-1], people)
                    writer.write(np.ascontiguousarray(picture[..., ::-1]))
            finally:
                writer.release()
        return path

    def _save_glb(self, path: Path, people: list, shape: Tuple[int, ...]) -> Path:
        """The people around their mean root (a viewer frames them), with the image camera."""
        from fastmetro_mm.apis.glb_export import save_glb
        from fastmetro_mm.mesh.image_camera import ImageCamera
        fx, fy, cx, cy = people[0].intrinsics_key()
        height, width = shape[:2]
        camera = ImageCamera(fx, (cx, cy), (width, height), None if fy == fx else fy)
        centre = np.mean([person.cam_t for person in people], axis=0)
        vertices = np.stack([person.vertices_cam - centre for person in people])
        return save_glb(path, vertices, self.faces, camera=camera, camera_position=-centre)


def build_page(app: MeshApp, title: str = 'FastMETRO: 3D people from a photo') -> Any:
    """The Gradio page around ``app``: an upload, the overlay, the 3D view and the files."""
    # Gradio reports usage to its makers unless told not to; a local demo has no reason to.
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    import gradio as gr

    def run(upload: Optional[str]):
        result = app.process(upload)
        video = None if result.video is None else str(result.video)
        return (result.message, result.overlay, gr.update(value=video, visible=video is not None),
                None if result.glb is None else str(result.glb),
                [str(path) for path in result.files] or None)

    with gr.Blocks(title=title) as page:
        gr.Markdown(f'# {title}\nUpload a photo or a short video (at most '
                    f'{app.limits.max_megabytes:g} MB, {app.limits.max_side} pixels a side, '
                    f'the first {app.limits.max_frames} frames of a video).')
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(label='Image or short video', elem_id='upload')
                status = gr.Markdown(elem_id='status')
                downloads = gr.File(label='Downloads (.obj per person, .glb, numbers)',
                                    file_count='multiple', elem_id='downloads')
            with gr.Column(scale=2):
                overlay = gr.Image(label='Meshes over the image, and from the side',
                                   type='numpy', elem_id='overlay', interactive=False)
                video = gr.Video(label='Meshes over the video', elem_id='overlay-video',
                                 interactive=False, visible=False, height=360)
                model_3d = gr.Model3D(label='3D meshes (drag to turn)', elem_id='mesh-3d',
                                      clear_color=(1.0, 1.0, 1.0, 1.0))
        upload.upload(run, inputs=upload, outputs=[status, overlay, video, model_3d, downloads])
    return page


def _shown(path: Path) -> str:
    """A path in the checkout relative to its root (as the README writes it), others whole."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', nargs='?', default=_shown(QUICKSTART_CONFIG),
                        help='FastMETRO config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file; None with the quickstart config: the last one in '
                        f'{_shown(QUICKSTART_DIR)}/')
    parser.add_argument('--model-dir', default=None,
                        help='folder of the synthetic body model files; None with the '
                        f'quickstart config: {_shown(SYNTHETIC_MODEL_DIR)}/')
    parser.add_argument('--device', default='cpu', help="torch device, e.g. 'cuda:0'")
    parser.add_argument('--det-config', help='MMDetection config of a person detector: a '
                        f'file, or the name of one MMPose ships (e.g. {DEFAULT_DET_CONFIG} with '
                        f'--det-checkpoint {DEFAULT_DET_CHECKPOINT}); without one the whole '
                        'image is one person')
    parser.add_argument('--det-checkpoint', help='its checkpoint file or URL')
    parser.add_argument('--det-cat-id', type=int, default=0, help='person label (COCO: 0)')
    parser.add_argument('--bbox-thr', type=float, default=0.5, help='detection score threshold')
    parser.add_argument('--nms-thr', type=float, default=0.3, help='NMS IoU threshold')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to serve on (0.0.0.0: reachable from other machines)')
    parser.add_argument('--port', type=int, default=7860, help='port to serve on')
    parser.add_argument('--max-megabytes', type=float, default=UploadLimits.max_megabytes,
                        help='largest upload, MB')
    parser.add_argument('--max-side', type=int, default=UploadLimits.max_side,
                        help='longest image side, pixels')
    parser.add_argument('--max-frames', type=int, default=UploadLimits.max_frames,
                        help='frames of a video that are processed')
    parser.add_argument('--out-dir', default=None,
                        help='folder for the files of each upload (default: a new temporary '
                        'folder)')
    return parser.parse_args(argv)


def make_app(args: argparse.Namespace) -> MeshApp:
    """Model (and detector) from the command line; the quickstart's when none is given."""
    from fastmetro_mm.apis import init_model, init_person_detector
    config = Path(args.config)
    if not config.is_file() and (ROOT / config).is_file():
        config = ROOT / config  # the default, from any working folder
    quickstart = config.resolve() == QUICKSTART_CONFIG.resolve()
    checkpoint = args.checkpoint
    if checkpoint is None and quickstart:
        checkpoint = str(quickstart_checkpoint(QUICKSTART_DIR))
    if checkpoint is None:
        raise SystemExit('gradio_app: give CHECKPOINT with a CONFIG other than the quickstart\'s')
    options = None
    if quickstart or args.model_dir is not None:
        options = synthetic_model_options(Path(args.model_dir or SYNTHETIC_MODEL_DIR))
    model = init_model(str(config), checkpoint, args.device, cfg_options=options)
    detector = None
    if args.det_config is not None:
        detector = init_person_detector(resolve_det_config(args.det_config),
                                        args.det_checkpoint, args.device)
    out_root = Path(args.out_dir) if args.out_dir else Path(
        tempfile.mkdtemp(prefix='fastmetro_app_'))
    limits = UploadLimits(args.max_megabytes, args.max_side, args.max_frames)
    return MeshApp(model, detector, out_root, limits,
                   dict(det_cat_id=args.det_cat_id, bbox_thr=args.bbox_thr,
                        nms_thr=args.nms_thr))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    app = make_app(args)
    page = build_page(app)
    print(f'gradio_app: open http://{args.host}:{args.port} (files of each upload under '
          f'{app.out_root})')
    page.launch(server_name=args.host, server_port=args.port, show_error=True,
                allowed_paths=[str(app.out_root)],
                max_file_size=f'{int(app.limits.max_megabytes * 4)}mb')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
