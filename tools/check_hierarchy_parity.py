"""Check that MeshHierarchy.build reproduces an official hierarchy file.

Examples:
    python tools/check_hierarchy_parity.py --smpl data/body_models/smpl/SMPL_NEUTRAL.pkl \
        --npz data/mesh_downsampling.npz
    python tools/check_hierarchy_parity.py --smpl data/body_models/mano/MANO_RIGHT.pkl \
        --npz data/mano_downsampling.npz

Rebuilds the hierarchy from the template (v_template, f) with factor 4 per level of the official
file, then compares level by level: faces (same rows in the same order), adjacency A and down
matrices D (exact), up matrices U (max abs difference of the values, tolerance --u-tol).
Without --smpl the template is taken from the file's own 'V' key (mano_downsampling.npz has it).
Exits 1 on any mismatch. The files are licence-gated, which is why this is a script and not
a unit test.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import scipy.sparse as sp

from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.mesh.model_file import load_model_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--smpl', type=Path, default=None,
                        help="SMPL or MANO model file the official hierarchy was made from "
                             "(default: the 'V' key of --npz)")
    parser.add_argument('--npz', type=Path, required=True,
                        help='official mesh_downsampling.npz or mano_downsampling.npz')
    parser.add_argument('--u-tol', type=float, default=1e-9,
                        help='largest accepted absolute difference in U (default 1e-9)')
    return parser.parse_args(argv)


def _template(args: argparse.Namespace, official: MeshHierarchy):
    if args.smpl is not None:
        model = load_model_file(args.smpl, required_keys=('v_template', 'f'))
        return np.asarray(model['v_template'], dtype=np.float64), np.asarray(model['f'])
    with np.load(args.npz, allow_pickle=True, encoding='latin1') as archive:
        if 'V' not in archive.files:
            raise SystemExit(f"{args.npz} has no 'V' key; pass the template with --smpl")
        # Only 'V' is read: 'M' needs psbody to unpickle.
        return np.asarray(archive['V'][0], dtype=np.float64), official.faces[0]


def _row_column_sets_differ(mine: sp.spmatrix, theirs: sp.spmatrix) -> int:
    """Rows whose stored column sets differ (tied closest faces; values may still agree)."""
    a, b = sp.csr_matrix(mine), sp.csr_matrix(theirs)
    count = 0
    for row in range(a.shape[0]):
        if (set(a.indices[a.indptr[row]:a.indptr[row + 1]])
                != set(b.indices[b.indptr[row]:b.indptr[row + 1]])):
            count += 1
    return count


def compare(mine: MeshHierarchy, official: MeshHierarchy, u_tol: float) -> bool:
    """Prints the per-level differences; returns True when everything matches."""
    ok = mine.vertex_counts == official.vertex_counts
    print(f'vertex counts: built {mine.vertex_counts}, official {official.vertex_counts}'
          f'{"" if ok else "  MISMATCH"}')
    if not ok:
        return False
    for level in range(official.num_levels):
        faces_mine, faces_official = mine.faces[level], official.faces[level]
        same_faces = (faces_mine.shape == faces_official.shape
                      and np.array_equal(faces_mine, faces_official))
        differing = (int(np.any(faces_mine != faces_official, axis=1).sum())
                     if faces_mine.shape == faces_official.shape else 'n/a')
        a_diff = (mine.adjacency[level] != official.adjacency[level]).nnz
        line = (f'level {level}: F {faces_mine.shape[0]} vs {faces_official.shape[0]} rows, '
                f'{differing} rows differ; A {a_diff} entries differ')
        ok &= same_faces and a_diff == 0
        if level < official.num_levels - 1:
            d_diff = (mine.down[level] != official.down[level]).nnz
            u_max = abs(mine.up[level] - official.up[level]).max()
            u_sets = _row_column_sets_differ(mine.up[level], official.up[level])
            line += (f'; D {d_diff} entries differ; U max |diff| {u_max:.3g} '
                     f'({u_sets} rows store other columns)')
            ok &= d_diff == 0 and u_max < u_tol
        print(line)
    return bool(ok)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    official = MeshHierarchy.from_npz(args.npz)
    vertices, faces = _template(args, official)
    factors = (4,) * (official.num_levels - 1)
    start = time.perf_counter()
    mine = MeshHierarchy.build(vertices, faces, factors=factors)
    print(f'built {mine.vertex_counts} with factors {factors} in '
          f'{time.perf_counter() - start:.1f} s')
    if compare(mine, official, args.u_tol):
        print('PARITY OK')
        return 0
    print('PARITY MISMATCH', file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
