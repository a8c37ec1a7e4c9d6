"""Mesh recovery on a video file or a webcam: an overlay video and all numbers.

Examples:
    python demo/video_demo.py CONFIG CHECKPOINT --input clip.mp4 --out-file out/clip_mesh.mp4 \\
        --det-config DET_CONFIG --det-checkpoint DET_CHECKPOINT
    python demo/video_demo.py CONFIG CHECKPOINT --input 0 --show --bbox 200 40 440 470  # webcam

Frames are read with OpenCV and processed ``--frames-per-batch`` at a time (all their people
in one batch of crops). Writes ``--out-file`` (same frame rate and size, with --side-view twice
as wide; codec from the suffix: .mp4 mp4v, .avi MJPG) and ``--numbers`` (default: next to the
video, ``.npz``) with every person of every frame; ``--obj-dir`` also writes per-frame meshes.
An existing ``--out-file`` or ``--numbers`` file, or ``frameNNNNNN_personK.obj`` files in
``--obj-dir``, are refused (the first few named) unless ``--overwrite``. Every file is written
atomically: the video appears when it is complete (not after an error or Ctrl-C).
A webcam (an integer ``--input``) runs until ``--max-frames`` or, with --show, until q / Esc.
"""
from __future__ import annotations

import argparse
import contextlib
import re
from pathlib import Path
from typing import List, Optional

import cv2

from demo_setup import add_common_args, build, fixed_boxes, inference_kwargs, profiling

CODECS = {'.mp4': 'mp4v', '.avi': 'MJPG', '.mkv': 'mp4v', '.mov': 'mp4v'}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument('--input', required=True, help='video file, or a webcam id (0, 1, ...)')
    parser.add_argument('--out-file', help='output video (.mp4 or .avi)')
    parser.add_argument('--numbers', help='.npz or .json with all numbers (default: the '
                        'output video with .npz)')
    parser.add_argument('--obj-dir', help='folder for per-frame .obj meshes')
    parser.add_argument('--show', action='store_true', help='show the frames in a window')
    parser.add_argument('--max-frames', type=int, default=None, help='stop after N frames')
    parser.add_argument('--frames-per-batch', type=int, default=8,
                        help='frames whose people go through the model together')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out-file / --numbers file and existing '
                        '.obj files in --obj-dir')
    args = parser.parse_args(argv)
    if args.out_file is None and not args.show:
        parser.error('give --out-file or --show')
    if args.out_file is not None and Path(args.out_file).suffix.lower() not in CODECS:
        parser.error(f'--out-file must end in one of {sorted(CODECS)}')
    if not args.overwrite:
        for option, target in (('--out-file', args.out_file), ('--numbers', numbers_file(args))):
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


def existing_objs(obj_dir: Optional[str]) -> List[Path]:
    """The per-frame meshes already in ``obj_dir`` (a run's length is not known beforehand,
    so every ``frameNNNNNN_personK.obj`` counts)."""
    if obj_dir is None or not Path(obj_dir).is_dir():
        return []
    return [path for path in sorted(Path(obj_dir).iterdir())
            if re.fullmatch(r'frame\d{6,}_person\d+\.obj', path.name)]


def numbers_file(args: argparse.Namespace) -> Optional[str]:
    """--numbers, by default the output video with .npz (None without either)."""
    if args.numbers is not None:
        return args.numbers
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


def main(argv: Optional[List[str]] = None) -> int:
    from mmengine.utils import ProgressBar

    from fastmetro_mm.apis import inference_mesh, mesh_faces, save_obj, save_predictions, stage
    from fastmetro_mm.mesh.atomic_file import atomic_path
    from fastmetro_mm.visualization.prediction_overlay import render_predictions

    args = parse_args(argv)
    capture = open_capture(args.input)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if args.max_frames is not None:
        total = min(total, args.max_frames) if total > 0 else args.max_frames
    model, detector, renderer = build(args)
    faces = mesh_faces(model)
    boxes = fixed_boxes(args)
    writer = None
    frames, names = [], []
    progress = ProgressBar(total) if total > 0 else None
    stop = False
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
            while not stop:
                batch = []
                while len(batch) < args.frames_per_batch:
                    if (args.max_frames is not None
                            and len(names) + len(batch) >= args.max_frames):
                        stop = True
                        break
                    with stage('reading'):
                        ok, frame = capture.read()
                    if not ok:
                        stop = True
                        break
                    batch.append(frame)
                if not batch:
                    break
                results = inference_mesh(model, batch,
                                         None if boxes is None else [boxes] * len(batch),
                                         detector=detector, **inference_kwargs(args))
                for frame, people in zip(batch, results):
                    index = len(names)
                    with stage('rendering'):
                        picture = render_predictions(
                            renderer, frame[..., ::-1], people, side_view=args.side_view,
                            alpha=args.alpha, draw_boxes=args.draw_boxes)[..., ::-1]
                    if video is not None:
                        if writer is None:
                            codec = CODECS[Path(args.out_file).suffix.lower()]
                            writer = cv2.VideoWriter(str(video),
                                                     cv2.VideoWriter_fourcc(*codec), fps,
                                                     (picture.shape[1], picture.shape[0]))
                            if not writer.isOpened():
                                raise SystemExit(f'OpenCV cannot write {args.out_file} '
                                                 f'({codec})')
                        with stage('writing'):
                            writer.write(picture)
                    if args.obj_dir is not None:
                        with stage('writing'):
                            for person_index, person in enumerate(people):
                                save_obj(Path(args.obj_dir)
                                         / f'frame{index:06d}_person{person_index}.obj',
                                         person.vertices_cam, faces, overwrite=args.overwrite)
                    if args.show:
                        with stage('display'):
                            cv2.imshow('FastMETRO', picture)
                            if cv2.waitKey(1) & 0xFF in (ord('q'), 27):
                                stop = True
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
    numbers = numbers_file(args)
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
