"""Mesh recovery on an image or a folder of images: overlays, .obj meshes, all numbers.

Examples:
    # after `make quickstart`: its model on your photo of one person (the whole image is the box)
    python demo/image_demo.py configs/quickstart/fastmetro_s_r18_synthetic_quickstart.py \\
        $(cat work_dirs/quickstart/last_checkpoint) --input photo.jpg --out-dir out --side-view
    # people found by MMPose's RTMDet person detector (its config ships with MMPose)
    python demo/image_demo.py CONFIG CHECKPOINT --input photo.jpg --out-dir out \\
        --det-config rtmdet_m_640-8xb32_coco-person.py --det-checkpoint \\
        https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth
    python demo/image_demo.py CONFIG CHECKPOINT --input images/ --out-dir out \\
        --bbox 100 50 300 480 --side-view --attention-joint L_Wrist

Writes, per image ``NAME``: ``OUT/NAME_mesh.png`` (meshes over the image, with --side-view a
side view to the right), ``OUT/meshes/NAME_personK.obj`` (the mesh of person K in the image's
camera frame, metres), with --attention-joint ``OUT/attention/NAME_personK_JOINT.png``; and
``OUT/predictions.npz`` (or .json) with every person's numbers (see
``fastmetro_mm.apis.MeshPrediction``).

An image of the folder that does not decode is skipped with a warning naming it, and the
skipped files are listed again at the end; the others are processed and written.
Files this run would write that already exist in ``--out-dir`` are refused (the first few
named) unless ``--overwrite``; every file is written atomically (complete or not at all).
"""
from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path
from typing import List, Optional

import cv2

from demo_setup import add_common_args, build, fixed_boxes, inference_kwargs, profiling

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common_args(parser)
    parser.add_argument('--input', required=True, help='an image file or a folder of images')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--numbers', choices=('npz', 'json'), default='npz',
                        help='format of the file with all numbers')
    parser.add_argument('--no-obj', action='store_true', help='do not write .obj meshes')
    parser.add_argument('--attention-joint', default=None,
                        help="draw this joint's attention maps (name, e.g. L_Wrist, or index)")
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing files in --out-dir that this run writes')
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


def existing_outputs(images: List[Path], args: argparse.Namespace) -> List[Path]:
    """The files in --out-dir that a run over ``images`` would write and that exist already.

    The number of people per image is known only after the run, so every
    ``NAME_personK.obj`` (and, with --attention-joint, ``NAME_personK_JOINT.png``) counts.
    """
    out_dir = Path(args.out_dir)
    if not out_dir.is_dir():
        return []
    stems = {path.stem for path in images}
    found = [out_dir / f'predictions.{args.numbers}']
    found += [out_dir / f'{path.stem}_mesh.png' for path in images]
    found = [path for path in found if path.exists()]
    per_person = []  # (folder, what follows NAME in a file name of that folder)
    if not args.no_obj:
        per_person.append(('meshes', r'_person\d+\.obj'))
    if args.attention_joint is not None:
        joint = args.attention_joint
        joint = r'.+' if joint.isdigit() else re.escape(joint)  # an index: any joint name
        per_person.append(('attention', rf'_person\d+_{joint}\.png'))
    for folder, ending in per_person:
        if not (out_dir / folder).is_dir():
            continue
        for path in sorted((out_dir / folder).iterdir()):
            # NAME may itself hold '_person1', so every split of the file name is tried.
            splits = (m.start() for m in re.finditer('_person', path.name))
            if any(path.name[:at] in stems and re.fullmatch(ending, path.name[at:])
                   for at in splits):
                found.append(path)
    return found


def check_outputs(images: List[Path], args: argparse.Namespace) -> None:
    """Refuses, before any work, names that collide or files that would be replaced."""
    stems: dict = {}
    for path in images:
        if path.stem in stems:
            raise SystemExit(f'--input {args.input}: {stems[path.stem].name} and {path.name} '
                             f'would both write {path.stem}_mesh.png; rename one')
        stems[path.stem] = path
    existing = [] if args.overwrite else existing_outputs(images, args)
    if existing:
        shown = ', '.join(str(p) for p in existing[:3])
        more = f' and {len(existing) - 3} more' if len(existing) > 3 else ''
        raise SystemExit(f'--out-dir {args.out_dir} holds files this run would write '
                         f'({shown}{more}); pass --overwrite to replace them or choose '
                         'another folder')


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
    # The arguments first: --help and a mistyped option answer before torch and MMPose load.
    args = parse_args(argv)
    from mmengine.utils import ProgressBar

    from fastmetro_mm.apis import (inference_mesh, mesh_faces, save_image, save_person_mesh,
                                   save_predictions, stage)
    from fastmetro_mm.visualization.attention_maps import attention_figure, network_upsamplers
    from fastmetro_mm.visualization.prediction_overlay import render_predictions

    images = list_images(Path(args.input))
    check_outputs(images, args)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, detector, renderer = build(args)
    faces = mesh_faces(model)
    joint = None if args.attention_joint is None else joint_index(model, args.attention_joint)
    boxes = fixed_boxes(args)
    frames, done, skipped = [], [], []
    profile, profiled = profiling(args)
    progress = ProgressBar(len(images))
    try:
        with profiled:
            for path in images:
                with stage('reading'):
                    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    # One damaged file does not cost the folder's other results: it is named
                    # now and in the summary, and left out of the predictions file.
                    warnings.warn(f'image_demo: {path} cannot be decoded (not an image file '
                                  'OpenCV reads, or damaged); skipped', UserWarning)
                    skipped.append(path)
                    progress.update()
                    continue
                image = image[..., ::-1]
                people = inference_mesh(model, str(path), boxes, detector=detector,
                                        return_attention=joint is not None,
                                        **inference_kwargs(args))
                frames.append(people)
                done.append(path)
                with stage('rendering'):
                    picture = render_predictions(renderer, image, people,
                                                 side_view=args.side_view, alpha=args.alpha,
                                                 draw_boxes=args.draw_boxes)
                with stage('writing'):
                    save_image(out_dir / f'{path.stem}_mesh.png', picture,
                               overwrite=args.overwrite)
                for index, person in enumerate(people):
                    if not args.no_obj:
                        with stage('writing'):
                            save_person_mesh(
                                out_dir / 'meshes' / f'{path.stem}_person{index}.obj', person,
                                faces, overwrite=args.overwrite)
                    if joint is not None:
                        name = model.head.joint_set.names[joint]
                        with stage('rendering'):
                            figure = attention_figure(
                                renderer, person, network_upsamplers(model), joint,
                                len(model.head.joint_set), joint_name=name,
                                image_size=(image.shape[1], image.shape[0]))
                        with stage('writing'):
                            save_image(out_dir / 'attention'
                                       / f'{path.stem}_person{index}_{name}.png',
                                       figure, overwrite=args.overwrite)
                progress.update()
    finally:
        renderer.close()
    if skipped:
        warnings.warn(f'image_demo: skipped {len(skipped)} of {len(images)} images that do '
                      f'not decode: {[str(path) for path in skipped]}', UserWarning)
    if not done:
        raise SystemExit(f'--input {args.input}: none of its {len(images)} images decodes')
    with profiled, stage('writing'):
        save_predictions(out_dir / f'predictions.{args.numbers}', frames,
                         [path.name for path in done], overwrite=args.overwrite)
    print(f'\n{sum(len(f) for f in frames)} people in {len(done)} images -> {out_dir}'
          + (f' ({len(skipped)} skipped: do not decode)' if skipped else ''))
    if profile is not None:
        print(profile.format(f'stage profile of {len(done)} images'))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
