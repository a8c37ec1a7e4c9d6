"""Mesh recovery with MeshInferencer: an image, a folder, a video or a webcam in one command.

Examples:
    python demo/inferencer_demo.py quickstart --input photo.jpg --out-dir out
    python demo/inferencer_demo.py fastmetro_l_h64_3dpw --input clip.mp4 --out-dir out \\
        --det-config rtmdet_m_640-8xb32_coco-person.py --det-checkpoint RTMDET_CHECKPOINT --smooth
    python demo/inferencer_demo.py CONFIG.py --weights CHECKPOINT --input webcam:0
    python demo/inferencer_demo.py --list-models

MODEL is a config file (with --weights) or a short name (--list-models shows them, their
config and the checkpoint file each expects). Writes ``OUT/visualizations/NAME`` (the meshes
over each image; a video: ``NAME.mp4``) and under ``OUT/predictions/`` ``NAME.json`` with every
number and ``meshes/NAME_personK.obj|.glb`` (a video: ``NAME_frameNNNNNN_personK``). Without
--bbox and a detector the whole image is one person's box. No existing file is replaced
unless --overwrite.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from demo_setup import DEFAULT_DET_CONFIG, add_camera_args, camera_intrinsics, resolve_det_config


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('model', nargs='?', help='config file or short model name')
    parser.add_argument('--list-models', action='store_true',
                        help='list the short model names and exit')
    parser.add_argument('--weights', default=None,
                        help='checkpoint (default for a name: the file it expects)')
    parser.add_argument('--input', help="an image, a folder, a video, or 'webcam[:ID]'")
    parser.add_argument('--out-dir', default=None, help='output folder')
    parser.add_argument('--show', action='store_true', help='show each picture in a window')
    parser.add_argument('--device', default='cpu', help="torch device, e.g. 'cuda:0'")
    parser.add_argument('--cfg-options', nargs='+', default=None, metavar='KEY=VALUE',
                        help='config overrides (e.g. body-model paths)')
    parser.add_argument('--batch-size', type=int, default=1, help='images (frames) per batch')
    parser.add_argument('--det-config', help='MMDetection config of a person detector: a file '
                        f'or one MMPose ships, e.g. {DEFAULT_DET_CONFIG}')
    parser.add_argument('--det-checkpoint', help="the detector's checkpoint file or URL")
    parser.add_argument('--bbox-thr', type=float, default=0.5, help='detection score threshold')
    parser.add_argument('--bbox', type=float, nargs=4, action='append',
                        metavar=('X1', 'Y1', 'X2', 'Y2'),
                        help='a person box used in every image / frame (repeatable)')
    add_camera_args(parser)
    parser.add_argument('--mesh-formats', nargs='*', choices=('obj', 'glb'),
                        default=['obj', 'glb'], help='mesh files per person (none: no meshes)')
    parser.add_argument('--mesh-frame', choices=('camera', 'root'), default='camera',
                        help="meshes in the image camera's frame, or centred on their root")
    parser.add_argument('--pred-format', choices=('json', 'npz'), default='json',
                        help='file format of the numbers')
    parser.add_argument('--no-track', action='store_true',
                        help='video: no track ids (each frame on its own)')
    parser.add_argument('--smooth', action='store_true',
                        help='video: smooth each tracked person over time (One Euro filter)')
    parser.add_argument('--side-view', action='store_true', help='add a side view')
    parser.add_argument('--draw-boxes', action='store_true', help='draw the person boxes')
    parser.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    args = parser.parse_args(argv)
    if not args.list_models and (args.model is None or args.input is None):
        parser.error('give MODEL and --input (or --list-models)')
    if not args.list_models and args.out_dir is None and not args.show:
        parser.error('give --out-dir, --show or both: otherwise nothing is kept')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    # The arguments first: --help and a mistyped option answer before torch and MMPose load.
    args = parse_args(argv)
    from mmengine.config import DictAction

    from fastmetro_mm.apis import MODEL_NAMES, MeshInferencer
    from fastmetro_mm.apis.inference_inputs import VIDEO_SUFFIXES
    if args.list_models:
        for name, entry in MODEL_NAMES.items():
            print(f'{name:28s} {entry.mesh_type:5s} {entry.config}\n{"":34s}checkpoint: '
                  f'{entry.checkpoint}'.replace('{max_epochs}', '<max_epochs of the config>'))
        return 0
    options = None
    if args.cfg_options:
        holder = argparse.Namespace()
        DictAction(option_strings=[], dest='options')(None, holder, args.cfg_options)
        options = holder.options
    try:
        inferencer = MeshInferencer(
            args.model, args.weights, args.device, cfg_options=options,
            det_model=None if args.det_config is None else resolve_det_config(args.det_config),
            det_weights=args.det_checkpoint, bbox_thr=args.bbox_thr)
    except (KeyError, FileNotFoundError) as err:
        raise SystemExit(str(err).strip('"')) from None
    stream = args.input.lower().startswith('webcam') or args.input.lower().endswith(
        VIDEO_SUFFIXES)
    extra = dict(track=not args.no_track, smoothing=True if args.smooth else None) \
        if stream else {}
    if not extra and (args.smooth or args.no_track):
        raise SystemExit('--smooth and --no-track apply to a video or a webcam input')
    people = images = 0
    try:
        for result in inferencer(args.input, batch_size=args.batch_size, out_dir=args.out_dir,
                                 overwrite=args.overwrite, show=args.show,
                                 bboxes=args.bbox, camera_intrinsics=camera_intrinsics(args),
                                 mesh_formats=tuple(args.mesh_formats),
                                 mesh_frame=args.mesh_frame, pred_format=args.pred_format,
                                 side_view=args.side_view, draw_boxes=args.draw_boxes,
                                 **extra):
            images += len(result['names'])
            people += sum(len(found) for found in result['predictions'])
    except FileExistsError as err:
        raise SystemExit(f'{err} (--overwrite)') from None
    print(f'{people} people in {images} images' + (f' -> {args.out_dir}' if args.out_dir else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
