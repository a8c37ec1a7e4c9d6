"""Write the synthetic SMPL and MANO model files that tests and the quickstart use.

Example:
    python tools/make_synthetic_models.py --out-dir data/synthetic_models

writes SMPL_NEUTRAL.pkl, SMPL_MALE.pkl, SMPL_FEMALE.pkl, MANO_RIGHT.pkl and MANO_LEFT.pkl,
which ``smplx.SMPL(model_path=out_dir)`` and ``smplx.MANO(model_path=out_dir)`` load like the
official files. Existing files are left alone unless ``--overwrite`` is given.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

from fastmetro_mm.mesh.synthetic import (make_synthetic_mano, make_synthetic_smpl,
                                         mano_file_name, smpl_file_name, write_model_file)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', required=True, type=Path,
                        help='folder for the .pkl files (created if missing)')
    parser.add_argument('--seed', type=int, default=0,
                        help='0 for the reference body and hand, others for other individuals')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace model files that already exist')
    parser.add_argument('--only', choices=('smpl', 'mano'), default=None,
                        help='write only the body or only the hand files')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    jobs = []
    if args.only in (None, 'smpl'):
        jobs += [(smpl_file_name(g), lambda g=g: make_synthetic_smpl(g, seed=args.seed))
                 for g in ('neutral', 'male', 'female')]
    if args.only in (None, 'mano'):
        jobs += [(mano_file_name(r), lambda r=r: make_synthetic_mano(r, seed=args.seed))
                 for r in (True, False)]
    targets = [args.out_dir / name for name, _ in jobs]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not args.overwrite:
        print('Refusing to overwrite existing model files (pass --overwrite): '
              + ', '.join(existing), file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for (name, make), target in zip(jobs, targets):
        start = time.perf_counter()
        model = make()
        write_model_file(model, target)
        print(f'{target}: {model["v_template"].shape[0]} vertices, {model["f"].shape[0]} faces, '
              f'{model["J_regressor"].shape[0]} joints, {model["shapedirs"].shape[-1]} shape '
              f'directions ({time.perf_counter() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
