"""Build a mesh hierarchy file (mesh_downsampling.npz format) from a template mesh.

Examples:
    python tools/build_mesh_hierarchy.py data/body_models/smpl/SMPL_NEUTRAL.pkl \
        --factors 4 4 --out data/mesh_downsampling.npz
    python tools/build_mesh_hierarchy.py data/body_models/mano/MANO_RIGHT.pkl \
        --factors 4 4 4 4 --out data/mano_downsampling.npz

The input is an SMPL/MANO model file (.pkl, chumpy objects allowed, or .npz; its v_template
and f are used) or any mesh trimesh reads (.obj, .ply, ...). Files made from SMPL or MANO
inherit their licence: keep them in your data folder, never commit them.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import trimesh

from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.mesh.model_file import load_model_file

_MODEL_SUFFIXES = ('.pkl', '.npz')


def read_template(path: Path) -> Tuple[np.ndarray, np.ndarray]:
    """Reads (vertices (V, 3) float64, faces (F, 3) int64) from a model file or mesh file."""
    if not path.is_file():
        raise FileNotFoundError(f'input mesh not found: {path}')
    if path.suffix.lower() in _MODEL_SUFFIXES:
        model = load_model_file(path, required_keys=('v_template', 'f'))
        return (np.asarray(model['v_template'], dtype=np.float64),
                np.asarray(model['f']).astype(np.int64))
    # process=False keeps the file's vertex order and duplicate vertices: the hierarchy's
    # indices must be those of the file.
    mesh = trimesh.load(path, process=False, force='mesh')
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f'{path}: expected a triangle mesh, trimesh read {type(mesh).__name__}')
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('input', type=Path,
                        help='SMPL/MANO model file (.pkl, .npz) or mesh file (.obj, .ply, ...)')
    parser.add_argument('--factors', type=int, nargs='+', default=[4, 4],
                        help='reduction factor per level (SMPL: 4 4, MANO: 4 4 4 4)')
    parser.add_argument('--out', type=Path, required=True, help='output .npz file')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.out.exists() and not args.overwrite:
        print(f'{args.out} exists; pass --overwrite to replace it', file=sys.stderr)
        return 1
    vertices, faces = read_template(args.input)
    start = time.perf_counter()
    hierarchy = MeshHierarchy.build(vertices, faces, factors=tuple(args.factors))
    elapsed = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    hierarchy.save(args.out, overwrite=args.overwrite)
    for level, (count, level_faces) in enumerate(zip(hierarchy.vertex_counts,
                                                     hierarchy.faces)):
        print(f'level {level}: {count} vertices, {len(level_faces)} faces')
    print(f'built in {elapsed:.1f} s, written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
