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

Existing files are left alone unless ``--overwrite`` is given.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy as np

from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.mesh.synthetic import (make_synthetic_h36m_regressor, make_synthetic_mano,
                                         make_synthetic_smpl, mano_file_name, smpl_file_name,
                                         write_model_file)

H36M_REGRESSOR_FILE = 'J_regressor_h36m_synthetic.npy'
BODY_HIERARCHY_FILE = 'synthetic_downsampling.npz'
HAND_HIERARCHY_FILE = 'synthetic_mano_downsampling.npz'
#: Reduction factors per level of the official hierarchies.
BODY_FACTORS = (4, 4)
HAND_FACTORS = (4, 4, 4, 4)


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


def _write_model(make: Callable[[], dict]) -> Callable[[Path], str]:
    def write(target: Path) -> str:
        model = make()
        write_model_file(model, target)
        return (f'{model["v_template"].shape[0]} vertices, {model["f"].shape[0]} faces, '
                f'{model["J_regressor"].shape[0]} joints, {model["shapedirs"].shape[-1]} '
                'shape directions')
    return write


def _write_hierarchy(make: Callable[[], dict], factors: Tuple[int, ...]) -> Callable[[Path], str]:
    def write(target: Path) -> str:
        model = make()
        hierarchy = MeshHierarchy.build(model['v_template'], model['f'], factors=factors)
        hierarchy.save(target, overwrite=True)  # the refusal to overwrite happened earlier
        return 'levels ' + ' -> '.join(str(n) for n in hierarchy.vertex_counts)
    return write


def _write_h36m_regressor(seed: int) -> Callable[[Path], str]:
    def write(target: Path) -> str:
        regressor = make_synthetic_h36m_regressor(make_synthetic_smpl('neutral', seed=seed))
        np.save(target, regressor)
        return (f'{regressor.shape[0]} x {regressor.shape[1]}, '
                f'{np.count_nonzero(regressor)} non-zeros')
    return write


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    seed = args.seed
    jobs = []  # (file name, writer)
    if args.only in (None, 'smpl'):
        jobs += [(smpl_file_name(g), _write_model(lambda g=g: make_synthetic_smpl(g, seed)))
                 for g in ('neutral', 'male', 'female')]
        jobs += [(H36M_REGRESSOR_FILE, _write_h36m_regressor(seed)),
                 (BODY_HIERARCHY_FILE,
                  _write_hierarchy(lambda: make_synthetic_smpl('neutral', seed), BODY_FACTORS))]
    if args.only in (None, 'mano'):
        jobs += [(mano_file_name(r), _write_model(lambda r=r: make_synthetic_mano(r, seed)))
                 for r in (True, False)]
        jobs += [(HAND_HIERARCHY_FILE,
                  _write_hierarchy(lambda: make_synthetic_mano(True, seed=seed), HAND_FACTORS))]
    targets = [args.out_dir / name for name, _ in jobs]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not args.overwrite:
        print('Refusing to overwrite existing files (pass --overwrite): ' + ', '.join(existing),
              file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for (_, write), target in zip(jobs, targets):
        start = time.perf_counter()
        summary = write(target)
        print(f'{target}: {summary} ({time.perf_counter() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
