"""Render a licence-free mesh dataset from the synthetic body (or hand) with pyrender.

Examples:
    python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \\
        --out-dir data/synthetic_dataset --num-train 2000 --num-test 200 --seed 0
    python tools/dataset_converters/make_synthetic.py --model-dir data/synthetic \\
        --out-dir data/synthetic_hand --num-train 2000 --num-test 200 --hand

Body output: the SPIN / MMPose 0.x npz format, one person per full image
(``images/{train,test}/NNNNNN.jpg``, ``synthetic_{train,test}.npz``; see
``fastmetro_mm/synthetic/body_dataset.py`` for the keys). Hand output (``--hand``): FreiHAND's
release layout (``training/rgb/NNNNNNNN.jpg``, ``training_{xyz,K,mano,verts}.json``, test split
``evaluation/...``; see ``fastmetro_mm/synthetic/hand_dataset.py``).

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


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model-dir', required=True, type=Path,
                        help='folder with SMPL_NEUTRAL.pkl / MANO_RIGHT.pkl (synthetic ones '
                        'are generated there when missing)')
    parser.add_argument('--out-dir', type=Path, default=Path('data/synthetic_dataset'))
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
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing dataset in --out-dir')
    args = parser.parse_args(argv)
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


def main(argv: Optional[List[str]] = None) -> int:
    options = SyntheticDatasetOptions(**vars(parse_args(argv)))
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
