"""Mesh recovery on an image or a folder of images: overlays, .obj meshes, all numbers.

Examples:
    python demo/image_demo.py CONFIG CHECKPOINT --input photo.jpg --out-dir out \\
        --det-config rtmdet_m_640-8xb32_coco-person.py --det-checkpoint rtmdet_m.pth
    python demo/image_demo.py CONFIG CHECKPOINT --input images/ --out-dir out \\
        --bbox 100 50 300 480 --side-view --attention-joint L_Wrist

Writes, per image ``NAME``: ``OUT/NAME_mesh.png`` (meshes over the image, with --side-view a
side view to the right), ``OUT/meshes/NAME_personK.obj`` (the mesh of person K in the image's
camera frame, metres), with --attention-joint ``OUT/attention/NAME_personK_JOINT.png``; and
``OUT/predictions.npz`` (or .json) with every person's numbers (see
``fastmetro_mm.apis.MeshPrediction``).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

import cv2

from demo_setup import add_common_args, build, fixed_boxes, inference_kwargs

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument('--input', required=True, help='an image file or a folder of images')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--numbers', choices=('npz', 'json'), default='npz',
                        help='format of the file with all numbers')
    parser.add_argument('--no-obj', action='store_true', help='do not write .obj meshes')
    parser.add_argument('--attention-joint', default=None,
                        help="draw this joint's attention maps (name, e.g. L_Wrist, or index)")
    return parser.parse_args(argv)


def list_images(path: Path) -> List[Path]:
    """The image, or the folder's images sorted by name."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SystemExit(f'--input {path}: no such file or folder')
    images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise SystemExit(f'--input {path}: no images ({", ".join(IMAGE_SUFFIXES)})')
    return images


def joint_index(model, joint: str) -> int:
    """Index of a joint given by name or number, among the head's joints."""
    names = model.head.joint_set.names
    if joint.isdigit() and int(joint) < len(names):
        return int(joint)
    if joint not in names:
        raise SystemExit(f'--attention-joint {joint!r}: expected an index < {len(names)} or '
                         f'one of {list(names)}')
    return names.index(joint)


def main(argv: Optional[List[str]] = None) -> int:
    from mmengine.utils import ProgressBar

    from fastmetro_mm.apis import inference_mesh, mesh_faces, save_obj, save_predictions
    from fastmetro_mm.visualization.attention_maps import attention_figure, network_upsamplers
    from fastmetro_mm.visualization.prediction_overlay import render_predictions

    args = parse_args(argv)
    images = list_images(Path(args.input))
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, detector, renderer = build(args)
    faces = mesh_faces(model)
    joint = None if args.attention_joint is None else joint_index(model, args.attention_joint)
    boxes = fixed_boxes(args)
    frames = []
    progress = ProgressBar(len(images))
    try:
        for path in images:
            people = inference_mesh(model, str(path), boxes, detector=detector,
                                    return_attention=joint is not None,
                                    **inference_kwargs(args))
            frames.append(people)
            image = cv2.imread(str(path))[..., ::-1]
            picture = render_predictions(renderer, image, people, side_view=args.side_view,
                                         alpha=args.alpha, draw_boxes=args.draw_boxes)
            cv2.imwrite(str(out_dir / f'{path.stem}_mesh.png'), picture[..., ::-1])
            for index, person in enumerate(people):
                if not args.no_obj:
                    save_obj(out_dir / 'meshes' / f'{path.stem}_person{index}.obj',
                             person.vertices_cam, faces)
                if joint is not None:
                    figure = attention_figure(renderer, person, network_upsamplers(model),
                                              joint, len(model.head.joint_set))
                    name = model.head.joint_set.names[joint]
                    target = out_dir / 'attention' / f'{path.stem}_person{index}_{name}.png'
                    target.parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(target), figure[..., ::-1])
            progress.update()
    finally:
        renderer.close()
    save_predictions(out_dir / f'predictions.{args.numbers}', frames,
                     [path.name for path in images])
    print(f'\n{sum(len(f) for f in frames)} people in {len(images)} images -> {out_dir}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
