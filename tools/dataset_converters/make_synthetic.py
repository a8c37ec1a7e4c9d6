"""Render a licence-free mesh dataset from the synthetic body (or hand) with pyrender.

Examples:
    python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \\
        --out-dir data/synthetic_dataset --num-train 2000 --num-test 200 --seed 0
    python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \\
        --out-dir data/synthetic_hand --num-train 2000 --num-test 200 --hand
    python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \\
        --out-dir data/synthetic_emdb --emdb-sequences 3 --frames 60

Body output: the SPIN / MMPose 0.x npz format, one person per full image
(``images/{train,test}/NNNNNN.jpg``, ``synthetic_{train,test}.npz``; see
``fastmetro_mm/synthetic/body_dataset.py`` for the keys). Hand output (``--hand``): FreiHAND's
release layout (``training/rgb/NNNNNNNN.jpg``, ``training_{xyz,K,mano,verts}.json``, test split
``evaluation/...``; see ``fastmetro_mm/synthetic/hand_dataset.py``). EMDB output
(``--emdb-sequences N``): N videos of ``--frames`` frames at 30 fps in EMDB's release layout
(``P{i}/{i:02d}_synthetic/images/%05d.jpg`` and ``..._data.pkl``; see
``fastmetro_mm/synthetic/emdb_sequences.py``); ``--num-train``, ``--num-test``,
``--max-hand-rotation`` and ``--save-masks`` do not apply; ``--max-yaw``, ``--pose-prototypes``
and ``--prototype-jitter`` (the same prototypes as the image dataset of the same ``--seed``),
``--part-colours``, ``--backgrounds`` and ``--image-size`` (default 240 x 320) do.

Missing model files in ``--model-dir`` are generated there (synthetic SMPL_NEUTRAL.pkl /
MANO_RIGHT.pkl). Output is identical bit for bit for the same seed and arguments. Exit status:
1 when the dataset exists (without --overwrite), 2 when rendering fails (without offscreen
OpenGL the message says what to install). The work is done by
:func:`fastmetro_mm.synthetic.make_synthetic_dataset`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from fastmetro_mm.synthetic import SyntheticDatasetOptions, make_synthetic_dataset
from fastmetro_mm.synthetic.backgrounds import BACKGROUND_KINDS
from fastmetro_mm.synthetic.emdb_sequences import (DEFAULT_EMDB_IMAGE_SIZE, MIN_FRAMES,
                                                   EMDBSequenceOptions,
                                                   make_synthetic_emdb_sequences)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model-dir', required=True, type=Path,
                        help='folder with SMPL_NEUTRAL.pkl / MANO_RIGHT.pkl (synthetic ones '
                        'are generated there when missing)')
    parser.add_argument('--out-dir', type=Path, default=None,
                        help='default data/synthetic_dataset (data/synthetic_emdb with '
                        '--emdb-sequences)')
    parser.add_argument('--num-train', type=int, default=1000)
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-yaw', type=float, default=180.0,
                        help='body: largest turn away from facing the camera, degrees (180: '
                        'any direction; the uniform synthetic figure has no face, so front '
                        'and back views are told apart only by the pose)')
    parser.add_argument('--max-hand-rotation', type=float, default=180.0,
                        help='hand: largest turn away from palm to the camera, fingers up, '
                        'degrees (180: any orientation)')
    parser.add_argument('--pose-prototypes', type=int, default=0, metavar='N',
                        help='draw N prototype poses (body) or hand articulations (shared by '
                        'train and test) and give every person or hand one of them, jittered '
                        '(default 0: every pose drawn independently within the joint limits)')
    parser.add_argument('--prototype-jitter', type=float, default=0.05,
                        help='with --pose-prototypes: largest change of each joint angle (hand: '
                        'of each curl, bend and spread), as a fraction of its range '
                        '(default 0.05)')
    parser.add_argument('--part-colours', action='store_true',
                        help='body: colour each body part like clothes (left and right alike) '
                        'instead of one colour per person')
    parser.add_argument('--backgrounds', nargs='+', choices=BACKGROUND_KINDS,
                        default=list(BACKGROUND_KINDS),
                        help='background kinds to draw from (default: all)')
    parser.add_argument('--image-size', type=int, nargs=2, metavar=('WIDTH', 'HEIGHT'),
                        default=None, help='default 320 240 (body), 224 224 (hand)')
    parser.add_argument('--hand', action='store_true',
                        help='render the right hand in FreiHAND format instead of the body')
    parser.add_argument('--save-masks', action='store_true',
                        help='also write the person silhouettes as PNG under masks/')
    parser.add_argument('--emdb-sequences', type=int, default=None, metavar='N',
                        help='render N body videos in EMDB\'s release layout instead of '
                        'the image dataset')
    parser.add_argument('--frames', type=int, default=None,
                        help=f'with --emdb-sequences: frames per sequence, 30 fps (at least '
                        f'{MIN_FRAMES}; default 60)')
    parser.add_argument('--emdb-video', action='store_true',
                        help='with --emdb-sequences: also write each sequence as '
                        '{P}_{sequence}_video.mp4')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing dataset in --out-dir')
    args = parser.parse_args(argv)
    if args.emdb_sequences is not None:
        if args.emdb_sequences < 1:
            parser.error(f'--emdb-sequences must be >= 1, got {args.emdb_sequences}')
        args.frames = 60 if args.frames is None else args.frames
        if args.frames < MIN_FRAMES:
            parser.error(f'--frames must be >= {MIN_FRAMES}, got {args.frames}')
        if args.hand or args.save_masks:
            parser.error('--emdb-sequences renders the body without masks; it does not '
                         'combine with --hand or --save-masks')
    elif args.emdb_video or args.frames is not None:
        parser.error('--frames and --emdb-video apply with --emdb-sequences only')
    if args.out_dir is None:
        args.out_dir = Path('data/synthetic_emdb' if args.emdb_sequences is not None
                            else 'data/synthetic_dataset')
    # The same checks as SyntheticDatasetOptions, in the words of the command line.
    if args.num_train < 0 or args.num_test < 0:
        parser.error(f'--num-train / --num-test must be >= 0, got {args.num_train} / '
                     f'{args.num_test}')
    if not 0 <= args.max_yaw <= 180:
        parser.error(f'--max-yaw must be within [0, 180] degrees, got {args.max_yaw}')
    if not 0 <= args.max_hand_rotation <= 180:
        parser.error(f'--max-hand-rotation must be within [0, 180] degrees, got '
                     f'{args.max_hand_rotation}')
    if args.pose_prototypes < 0:
        parser.error(f'--pose-prototypes must be >= 0, got {args.pose_prototypes}')
    if not 0 <= args.prototype_jitter <= 1:
        parser.error(f'--prototype-jitter must be within [0, 1], got {args.prototype_jitter}')
    if args.hand and args.part_colours:
        parser.error('--part-colours applies to the body, not to --hand')
    if args.image_size is not None and min(args.image_size) < 16:
        parser.error(f'--image-size must be at least 16 x 16, got {args.image_size}')
    return args


def emdb_main(args: argparse.Namespace) -> int:
    """Renders the EMDB-layout sequences; exit status as :func:`main`."""
    options = EMDBSequenceOptions(
        model_dir=args.model_dir, out_dir=args.out_dir, num_sequences=args.emdb_sequences,
        num_frames=args.frames, seed=args.seed,
        image_size=args.image_size or DEFAULT_EMDB_IMAGE_SIZE, max_yaw=args.max_yaw,
        pose_prototypes=args.pose_prototypes, prototype_jitter=args.prototype_jitter,
        part_colours=args.part_colours,
        backgrounds=args.backgrounds, write_video=args.emdb_video, overwrite=args.overwrite)
    try:
        make_synthetic_emdb_sequences(options)
    except FileExistsError as exc:
        print(f'{exc} (pass --overwrite)', file=sys.stderr)
        return 1
    except RuntimeError as exc:  # e.g. no offscreen OpenGL: the message says what to install
        print(f'make_synthetic.py: {exc}', file=sys.stderr)
        return 2
    print(f'wrote {options.num_sequences} EMDB-layout sequences of {options.num_frames} '
          f'frames to {options.out_dir}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.emdb_sequences is not None:
        return emdb_main(args)
    options = SyntheticDatasetOptions(
        **{k: v for k, v in vars(args).items()
           if k not in ('emdb_sequences', 'frames', 'emdb_video')})
    try:
        make_synthetic_dataset(options)
    except FileExistsError as exc:
        print(f'{exc} (pass --overwrite)', file=sys.stderr)
        return 1
    except RuntimeError as exc:  # e.g. no offscreen OpenGL: the message says what to install
        print(f'make_synthetic.py: {exc}', file=sys.stderr)
        return 2
    print(f'wrote {options.num_train} train + {options.num_test} test '
          f'{"hand" if options.hand else "body"} images to {options.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
