"""Mesh recovery on a video file or a webcam: an overlay video and all numbers.

Examples:
    python demo/video_demo.py CONFIG CHECKPOINT --input clip.mp4 --out-file out/clip_mesh.mp4 \\
        --det-config DET_CONFIG --det-checkpoint DET_CHECKPOINT --smooth
    python demo/video_demo.py CONFIG CHECKPOINT --input clip.mp4 --out-file out/clip_mesh.mp4 \\
        --bbox-file boxes.csv --smooth min_cutoff=0.5 beta=2
    python demo/video_demo.py CONFIG CHECKPOINT --input 0 --show --bbox 200 40 440 470  # webcam

People come from a detector, fixed boxes (``--bbox``), or per-frame boxes (``--bbox-file``,
CSV ``frame,x1,y1,x2,y2[,track_id]`` or JSON, see docs/video.md); without any of them the
whole frame is one person's box. They are tracked across frames (``--no-track`` to switch it
off; a bbox file's track ids replace the tracker) and, with ``--smooth``, their meshes,
joints, cameras and SMPL parameters are smoothed per person with One Euro filters.
Frames are read with OpenCV and processed ``--frames-per-batch`` at a time (all their people
in one batch of crops). Writes ``--out-file`` (same frame rate and size, with --side-view twice
as wide; codec from the suffix: .mp4 mp4v, .avi MJPG) and ``--save-predictions`` (default: next
to the video, ``.npz``) with every person of every frame and its ``track_id``; ``--obj-dir``
also writes per-frame meshes ``frameNNNNNN_personK.obj`` (K: the track id when tracked).
An existing ``--out-file`` or ``--save-predictions`` file, or ``frameNNNNNN_personK.obj`` files
in ``--obj-dir``, are refused (the first few named) unless ``--overwrite``. Every file is
written atomically: the video appears when it is complete (not after an error or Ctrl-C).
A webcam (an integer ``--input``) runs until ``--max-frames`` or, with --show, until q / Esc.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import re
import warnings
from pathlib import Path
from typing import Deque, Dict, Iterator, List, Optional

import cv2
import numpy as np

from demo_setup import add_common_args, build, fixed_boxes, inference_kwargs, profiling

CODECS = {'.mp4': 'mp4v', '.avi': 'MJPG', '.mkv': 'mp4v', '.mov': 'mp4v'}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common_args(parser)
    parser.add_argument('--input', required=True, help='video file, or a webcam id (0, 1, ...)')
    parser.add_argument('--out-file', help='output video (.mp4 or .avi)')
    parser.add_argument('--save-predictions', metavar='PATH',
                        help='.npz or .json with all numbers (default: the output video with '
                        '.npz)')
    parser.add_argument('--numbers', metavar='PATH', help=argparse.SUPPRESS)  # deprecated
    parser.add_argument('--obj-dir', help='folder for per-frame .obj meshes')
    parser.add_argument('--show', action='store_true', help='show the frames in a window')
    parser.add_argument('--max-frames', type=int, default=None, help='stop after N frames')
    parser.add_argument('--frames-per-batch', type=int, default=8,
                        help='frames whose people go through the model together')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out-file / --save-predictions file and '
                        'existing .obj files in --obj-dir')
    video = parser.add_argument_group('people over time')
    video.add_argument('--bbox-file', metavar='FILE',
                       help='per-frame person boxes, CSV (header frame,x1,y1,x2,y2[,track_id]) '
                       'or JSON ([{"frame": 0, "bbox": [x1, y1, x2, y2], "track_id": 1}, ...]); '
                       'instead of --bbox or a detector')
    video.add_argument('--track', action=argparse.BooleanOptionalAction, default=True,
                       help='give each person a track id across frames (IoU tracker)')
    video.add_argument('--track-max-age', type=int, default=10,
                       help='frames a person may be missed and keep the track id')
    video.add_argument('--track-iou-thr', type=float, default=0.3,
                       help='least IoU of a box with a track\'s predicted box to continue it')
    video.add_argument('--smooth', nargs='*', metavar='KEY=VALUE', default=None,
                       help='smooth each person over time (One Euro filters); optional '
                       'parameters min_cutoff, beta, d_cutoff, translation_min_cutoff, '
                       'translation_beta (defaults in docs/video.md)')
    args = parser.parse_args(argv)
    if args.numbers is not None:
        warnings.warn('--numbers is deprecated in video_demo.py (in image_demo.py it names a '
                      'format); use --save-predictions PATH', DeprecationWarning, stacklevel=2)
        if args.save_predictions is not None:
            parser.error('give --save-predictions only (--numbers is its deprecated alias)')
        args.save_predictions = args.numbers
    if args.out_file is None and not args.show:
        parser.error('give --out-file or --show')
    if args.out_file is not None and Path(args.out_file).suffix.lower() not in CODECS:
        parser.error(f'--out-file must end in one of {sorted(CODECS)}')
    if args.bbox_file is not None and (args.bbox is not None or args.det_config is not None):
        parser.error('--bbox-file replaces --bbox and the detector; give only one of them')
    args.smoothing = smoothing_option(parser, args.smooth)
    if args.smoothing is not None and not args.track and args.bbox_file is None:
        parser.error('--smooth works per tracked person: drop --no-track (or give track ids '
                     'in --bbox-file)')
    if not args.overwrite:
        for option, target in (('--out-file', args.out_file),
                               ('--save-predictions', predictions_file(args))):
            if target is not None and Path(target).exists():
                raise SystemExit(f'{option} {target} exists; pass --overwrite to replace it '
                                 'or choose another file')
        existing = existing_objs(args.obj_dir)
        if existing:
            shown = ', '.join(str(path) for path in existing[:3])
            more = f' and {len(existing) - 3} more' if len(existing) > 3 else ''
            raise SystemExit(f'--obj-dir {args.obj_dir} holds .obj files this run would write '
                             f'({shown}{more}); pass --overwrite to replace them or choose '
                             'another folder')
    return args


def smoothing_option(parser: argparse.ArgumentParser,
                     values: Optional[List[str]]) -> Optional[Dict[str, float]]:
    """--smooth [KEY=VALUE ...] as the ``smoothing`` dict of inference_video (None: off)."""
    if values is None:
        return None
    from fastmetro_mm.apis.temporal_smoothing import SmoothingParams
    option = {}
    for item in values:
        key, sep, value = item.partition('=')
        try:
            option[key] = float(value)
        except ValueError:
            sep = ''
        if not sep:
            parser.error(f'--smooth takes KEY=VALUE with a number, got {item!r}')
    try:
        SmoothingParams.from_option(option)
    except ValueError as err:
        parser.error(f'--smooth: {err}')
    return option


def existing_objs(obj_dir: Optional[str]) -> List[Path]:
    """The per-frame meshes already in ``obj_dir`` (a run's length is not known beforehand,
    so every ``frameNNNNNN_personK.obj`` counts)."""
    if obj_dir is None or not Path(obj_dir).is_dir():
        return []
    return [path for path in sorted(Path(obj_dir).iterdir())
            if re.fullmatch(r'frame\d{6,}_person\d+\.obj', path.name)]


def predictions_file(args: argparse.Namespace) -> Optional[str]:
    """--save-predictions, by default the output video with .npz (None without either)."""
    if args.save_predictions is not None:
        return args.save_predictions
    return str(Path(args.out_file).with_suffix('.npz')) if args.out_file else None


def open_capture(source: str) -> cv2.VideoCapture:
    """A capture of a video file or, for an integer, a camera."""
    if source.isdigit():
        capture = cv2.VideoCapture(int(source))
        what = f'camera {source}'
    else:
        if not Path(source).is_file():
            raise SystemExit(f'--input {source}: no such video file')
        capture = cv2.VideoCapture(source)
        what = source
    if not capture.isOpened():
        raise SystemExit(f'cannot open {what} with OpenCV')
    return capture


def read_frames(capture: cv2.VideoCapture, max_frames: Optional[int], stop: List[bool],
                pending: Deque[np.ndarray]) -> Iterator[np.ndarray]:
    """The capture's frames until its end, ``max_frames`` or ``stop[0]`` (q / Esc).

    Each frame is also kept in ``pending`` until its people come back from the model (a
    batch of frames later) to be drawn on it.
    """
    from fastmetro_mm.apis import stage
    count = 0
    while not stop[0] and (max_frames is None or count < max_frames):
        with stage('reading'):
            ok, frame = capture.read()
        if not ok:
            return
        count += 1
        pending.append(frame)
        yield frame


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)  # before the heavy imports, so that --help answers at once
    from mmengine.utils import ProgressBar

    from fastmetro_mm.apis import mesh_faces, save_person_mesh, save_predictions, stage
    from fastmetro_mm.apis.bbox_file import read_bbox_file
    from fastmetro_mm.apis.video_inference import iter_inference_video
    from fastmetro_mm.mesh.atomic_file import atomic_path
    from fastmetro_mm.visualization.prediction_overlay import render_predictions

    frame_boxes = None
    if args.bbox_file is not None:
        try:
            frame_boxes = read_bbox_file(args.bbox_file)
        except (OSError, ValueError) as err:
            raise SystemExit(f'--bbox-file: {err}') from None
    capture = open_capture(args.input)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if args.max_frames is not None:
        total = min(total, args.max_frames) if total > 0 else args.max_frames
    # The shared builder wants --bbox or a detector; per-frame boxes need neither.
    model, detector, renderer = build(argparse.Namespace(**{
        **vars(args), 'bbox': [] if frame_boxes is not None else args.bbox}))
    faces = mesh_faces(model)
    boxes = frame_boxes.boxes if frame_boxes is not None else fixed_boxes(args)
    writer = None
    frames, names = [], []
    progress = ProgressBar(total) if total > 0 else None
    stop = [False]
    pending: Deque[np.ndarray] = collections.deque()
    profile, profiled = profiling(args)
    if args.out_file is not None:
        Path(args.out_file).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as publish:
        # The video is written to a temporary file beside --out-file that takes its name
        # only when complete; after an error or Ctrl-C it is removed.
        video = None if args.out_file is None else publish.enter_context(atomic_path(
            args.out_file, overwrite=args.overwrite,
            exists_hint='pass --overwrite to replace it or choose another file'))
        publish.enter_context(profiled)  # --profile: records until the video is complete
        try:
            people_per_frame = iter_inference_video(
                model, read_frames(capture, args.max_frames, stop, pending), boxes,
                detector=detector, track=args.track, smoothing=args.smoothing, fps=fps,
                track_ids_per_frame=None if frame_boxes is None else frame_boxes.track_ids,
                frames_per_batch=args.frames_per_batch, iou_threshold=args.track_iou_thr,
                max_age=args.track_max_age, **inference_kwargs(args))
            for index, people in enumerate(people_per_frame):
                frame = pending.popleft()
                with stage('rendering'):
                    picture = render_predictions(
                        renderer, frame[..., ::-1], people, side_view=args.side_view,
                        alpha=args.alpha, draw_boxes=args.draw_boxes)[..., ::-1]
                if video is not None:
                    if writer is None:
                        codec = CODECS[Path(args.out_file).suffix.lower()]
                        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*codec),
                                                 fps, (picture.shape[1], picture.shape[0]))
                        if not writer.isOpened():
                            raise SystemExit(f'OpenCV cannot write {args.out_file} ({codec})')
                    with stage('writing'):
                        writer.write(picture)
                if args.obj_dir is not None:
                    with stage('writing'):
                        for position, person in enumerate(people):
                            label = person.track_id if person.track_id >= 0 else position
                            save_person_mesh(
                                Path(args.obj_dir) / f'frame{index:06d}_person{label}.obj',
                                person, faces, overwrite=args.overwrite)
                if args.show:
                    with stage('display'):
                        cv2.imshow('FastMETRO', picture)
                        if cv2.waitKey(1) & 0xFF in (ord('q'), 27):
                            stop[0] = True
                frames.append(people)
                names.append(str(index))
                if progress is not None:
                    progress.update()
        finally:
            capture.release()
            if writer is not None:
                writer.release()
            renderer.close()
            if args.show:
                cv2.destroyAllWindows()
        if video is not None and writer is None:
            raise SystemExit(f'--input {args.input}: no frame could be read; '
                             f'{args.out_file} not written')
    numbers = predictions_file(args)
    if numbers is not None:
        with profiled, stage('writing'):
            save_predictions(numbers, frames, names, overwrite=args.overwrite)
    print(f'\n{len(names)} frames, {sum(len(f) for f in frames)} people'
          + (f' -> {args.out_file}' if args.out_file else ''))
    if profile is not None:
        print(profile.format(f'stage profile of {len(names)} frames'))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
