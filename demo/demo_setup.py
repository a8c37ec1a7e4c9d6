"""Command-line pieces shared by the demos: model, detector or fixed boxes, renderer."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))


#: The person detector of MMPose's own demos: its config ships inside mmpose
#: (``mmpose/.mim/demo/mmdetection_cfg/``, found by file name) and its weights are here.
DEFAULT_DET_CONFIG = 'rtmdet_m_640-8xb32_coco-person.py'
DEFAULT_DET_CHECKPOINT = ('https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/'
                          'rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth')


def resolve_det_config(name: str) -> str:
    """A detector config path; a bare file name that is not a file here is looked up among
    the MMDetection configs MMPose ships (``mmpose/.mim/demo/mmdetection_cfg/``)."""
    if Path(name).is_file():
        return name
    import mmpose
    shipped = Path(mmpose.__file__).parent / '.mim' / 'demo' / 'mmdetection_cfg'
    if Path(name).name == name and (shipped / name).is_file():
        return str(shipped / name)
    choices = sorted(p.name for p in shipped.glob('*.py')) if shipped.is_dir() else []
    raise SystemExit(f'--det-config {name}: no such file, and not one of the MMDetection '
                     f'configs that MMPose ships ({choices})')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Model, person boxes, batching and drawing options of every demo."""
    from mmengine.config import DictAction
    parser.add_argument('config', help='FastMETRO config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--device', default='cpu', help="torch device, e.g. 'cuda:0'")
    parser.add_argument('--backend', choices=('pytorch', 'onnxruntime'), default='pytorch',
                        help='where the network runs: PyTorch, or ONNX Runtime on CPU from '
                        '--onnx (pipeline and post-processing stay in PyTorch)')
    parser.add_argument('--onnx', metavar='FILE', default=None,
                        help='with --backend onnxruntime: the file that '
                        'tools/deployment/export_onnx.py wrote from this config')
    parser.add_argument('--allow-partial-load', action='store_true',
                        help='use a checkpoint that does not fit the model (missing, unexpected '
                        'or reshaped keys) with the matching part loaded; refused without it')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='config overrides key=value (e.g. body-model paths)')
    people = parser.add_argument_group('people (a detector, or fixed boxes)')
    people.add_argument('--det-config', help='MMDetection config of the person detector: '
                        f'a file, or the name of one MMPose ships (e.g. {DEFAULT_DET_CONFIG}, '
                        'with --det-checkpoint ' + DEFAULT_DET_CHECKPOINT + ')')
    people.add_argument('--det-checkpoint', help='its checkpoint file or URL')
    people.add_argument('--det-cat-id', type=int, default=0, help='person label (COCO: 0)')
    people.add_argument('--bbox-thr', type=float, default=0.5, help='detection score threshold')
    people.add_argument('--nms-thr', type=float, default=0.3, help='NMS IoU threshold')
    people.add_argument('--bbox', type=float, nargs=4, action='append',
                        metavar=('X1', 'Y1', 'X2', 'Y2'),
                        help='a person box used in every image / frame (repeatable), instead '
                        'of a detector')
    parser.add_argument('--batch-size', type=int, default=16, help='crops per forward pass')
    add_camera_args(parser)
    parser.add_argument('--side-view', action='store_true',
                        help='add a side view of the meshes to each picture')
    parser.add_argument('--draw-boxes', action='store_true', help='draw the person boxes')
    parser.add_argument('--alpha', type=float, default=0.9, help='mesh opacity')
    parser.add_argument('--profile', action='store_true',
                        help='print the time and share of each stage of the run (reading, '
                        'detector, crop and pipeline, backbone, head network, upsampling, SMPL '
                        'regressor, post-processing, rendering, writing)')


def add_camera_args(parser: argparse.ArgumentParser) -> None:
    """The user's camera: --focal-length or --intrinsics (one of them)."""
    camera = parser.add_mutually_exclusive_group()
    camera.add_argument('--focal-length', type=float, default=None,
                        help='focal length (px) of the image camera the meshes are placed '
                        'and rendered in; default 5000 * max(H, W) / 256 (a narrow view: '
                        'meshes far from the camera)')
    camera.add_argument('--intrinsics', type=float, nargs=4, default=None,
                        metavar=('FX', 'FY', 'CX', 'CY'),
                        help="your camera's intrinsics in pixels (pixel centres at integers, "
                        "as OpenCV's calibration): the meshes' translation, 2D points, "
                        'overlay and exports follow them')


def camera_intrinsics(args: argparse.Namespace) -> Optional[Any]:
    """The camera_intrinsics argument of inference_mesh from --focal-length / --intrinsics."""
    return args.intrinsics if args.intrinsics is not None else args.focal_length


def build(args: argparse.Namespace) -> Tuple[Any, Optional[Any], Any]:
    """The model, the detector (None without --det-config, or with --bbox) and a renderer
    for the model's mesh; with neither boxes nor detector the whole image is one box."""
    from fastmetro_mm.apis import init_model, init_person_detector, mesh_faces
    from fastmetro_mm.engine import CheckpointMismatchError
    from fastmetro_mm.render import MeshRenderer

    if args.bbox is None and args.det_config is None:
        print('note: no --bbox and no --det-config: the whole image (frame) is taken as one '
              "person's box, which fits a photo of one person filling it; for other pictures "
              'give --bbox X1 Y1 X2 Y2 (repeatable) or a person detector (--det-config '
              f'{DEFAULT_DET_CONFIG} --det-checkpoint CHECKPOINT, MMDetection)')
    if (args.backend == 'onnxruntime') != (args.onnx is not None):
        raise SystemExit('--backend onnxruntime needs --onnx FILE, and --onnx needs '
                         '--backend onnxruntime')
    if args.backend == 'onnxruntime' and getattr(args, 'attention_joint', None) is not None:
        raise SystemExit('--attention-joint needs the PyTorch backend: the exported network '
                         'returns no attention maps')
    try:
        model = init_model(args.config, args.checkpoint, args.device,
                           cfg_options=args.cfg_options, strict=not args.allow_partial_load,
                           backend=args.backend, onnx_file=args.onnx)
    except CheckpointMismatchError as err:
        raise SystemExit(str(err)) from None  # it names --allow-partial-load
    detector = None
    if args.bbox is None and args.det_config is not None:
        detector = init_person_detector(resolve_det_config(args.det_config),
                                        args.det_checkpoint, args.device)
    return model, detector, MeshRenderer(mesh_faces(model))


def profiling(args: argparse.Namespace) -> Tuple[Optional[Any], Any]:
    """With --profile a :class:`StageProfile` and itself as the context to record in;
    without, None and a no-op context. Either context may be entered several times."""
    import contextlib

    from fastmetro_mm.apis import StageProfile
    if not args.profile:
        return None, contextlib.nullcontext()
    profile = StageProfile()
    return profile, profile


def fixed_boxes(args: argparse.Namespace) -> Optional[np.ndarray]:
    """(N, 4) boxes from --bbox, or None."""
    return None if args.bbox is None else np.asarray(args.bbox, dtype=np.float32)


def inference_kwargs(args: argparse.Namespace) -> dict:
    """Keyword arguments of inference_mesh from the command line."""
    return dict(batch_size=args.batch_size, det_cat_id=args.det_cat_id,
                bbox_thr=args.bbox_thr, nms_thr=args.nms_thr,
                camera_intrinsics=camera_intrinsics(args))
