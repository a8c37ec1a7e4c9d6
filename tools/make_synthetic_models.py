"""Write the synthetic SMPL and MANO model files and the data files derived from them.

Example:
    python tools/make_synthetic_models.py --out-dir data/synthetic

fills a data folder in one command, with stand-ins for every licence-gated body-model file:

- SMPL_NEUTRAL.pkl, SMPL_MALE.pkl, SMPL_FEMALE.pkl, MANO_RIGHT.pkl, MANO_LEFT.pkl, which
  ``smplx.SMPL(model_path=out_dir)`` and ``smplx.MANO(model_path=out_dir)`` load like the
  official files;
- J_regressor_h36m_synthetic.npy (17 x 6890, like J_regressor_h36m_correct.npy);
- synthetic_downsampling.npz (6890 -> 1723 -> 431, like mesh_downsampling.npz) and
  synthetic_mano_downsampling.npz (778 -> 195 -> 49 -> 13 -> 4, like mano_downsampling.npz),
  built from the neutral body and the right hand.

Existing files are left alone unless ``--overwrite`` is given. The work is done by
:func:`fastmetro_mm.synthetic.write_synthetic_models`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from fastmetro_mm.synthetic import write_synthetic_models


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', required=True, type=Path,
                        help='folder for the files (created if missing)')
    parser.add_argument('--seed', type=int, default=0,
                        help='0 for the reference body and hand, others for other individuals')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace files that already exist')
    parser.add_argument('--only', choices=('smpl', 'mano'), default=None,
                        help='write only the body or only the hand files')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        write_synthetic_models(args.out_dir, seed=args.seed, only=args.only,
                               overwrite=args.overwrite)
    except FileExistsError as exc:
        print(f'{exc} (pass --overwrite)', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
