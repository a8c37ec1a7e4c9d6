"""A data folder of stand-ins for every licence-gated body-model file, in one call.

- SMPL_NEUTRAL.pkl, SMPL_MALE.pkl, SMPL_FEMALE.pkl, MANO_RIGHT.pkl, MANO_LEFT.pkl, which
  ``smplx.SMPL(model_path=out_dir)`` and ``smplx.MANO(model_path=out_dir)`` load like the
  official files;
- J_regressor_h36m_synthetic.npy (17 x 6890, like J_regressor_h36m_correct.npy);
- synthetic_downsampling.npz (6890 -> 1723 -> 431, like mesh_downsampling.npz) and
  synthetic_mano_downsampling.npz (778 -> 195 -> 49 -> 13 -> 4, like mano_downsampling.npz),
  built from the neutral body and the right hand.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

import numpy as np

from fastmetro_mm.mesh.hierarchy import MeshHierarchy

from .body import make_synthetic_smpl, smpl_file_name
from .h36m_regressor import make_synthetic_h36m_regressor
from .hand import make_synthetic_mano, mano_file_name
from .model_writer import write_model_file

H36M_REGRESSOR_FILE = 'J_regressor_h36m_synthetic.npy'
BODY_HIERARCHY_FILE = 'synthetic_downsampling.npz'
HAND_HIERARCHY_FILE = 'synthetic_mano_downsampling.npz'
#: Reduction factors per level of the official hierarchies.
BODY_FACTORS = (4, 4)
HAND_FACTORS = (4, 4, 4, 4)
#: Which files ``only`` selects.
MODEL_KINDS = ('smpl', 'mano')

#: Writes one file and returns a one-line summary of it.
Writer = Callable[[Path], str]


def _write_model(make: Callable[[], dict]) -> Writer:
    def write(target: Path) -> str:
        model = make()
        write_model_file(model, target)
        return (f'{model["v_template"].shape[0]} vertices, {model["f"].shape[0]} faces, '
                f'{model["J_regressor"].shape[0]} joints, {model["shapedirs"].shape[-1]} '
                'shape directions')
    return write


def _write_hierarchy(make: Callable[[], dict], factors: Tuple[int, ...]) -> Writer:
    def write(target: Path) -> str:
        model = make()
        hierarchy = MeshHierarchy.build(model['v_template'], model['f'], factors=factors)
        hierarchy.save(target, overwrite=True)  # the refusal to overwrite happened earlier
        return 'levels ' + ' -> '.join(str(n) for n in hierarchy.vertex_counts)
    return write


def _write_h36m_regressor(seed: int) -> Writer:
    def write(target: Path) -> str:
        regressor = make_synthetic_h36m_regressor(make_synthetic_smpl('neutral', seed=seed))
        np.save(target, regressor)
        return (f'{regressor.shape[0]} x {regressor.shape[1]}, '
                f'{np.count_nonzero(regressor)} non-zeros')
    return write


def _jobs(seed: int, only: Optional[str]) -> List[Tuple[str, Writer]]:
    """(file name, writer) of every file to write, in order."""
    jobs = []
    if only in (None, 'smpl'):
        jobs += [(smpl_file_name(g), _write_model(lambda g=g: make_synthetic_smpl(g, seed)))
                 for g in ('neutral', 'male', 'female')]
        jobs += [(H36M_REGRESSOR_FILE, _write_h36m_regressor(seed)),
                 (BODY_HIERARCHY_FILE,
                  _write_hierarchy(lambda: make_synthetic_smpl('neutral', seed), BODY_FACTORS))]
    if only in (None, 'mano'):
        jobs += [(mano_file_name(r), _write_model(lambda r=r: make_synthetic_mano(r, seed)))
                 for r in (True, False)]
        jobs += [(HAND_HIERARCHY_FILE,
                  _write_hierarchy(lambda: make_synthetic_mano(True, seed=seed), HAND_FACTORS))]
    return jobs


def write_synthetic_models(out_dir: Union[str, Path], seed: int = 0, only: Optional[str] = None,
                           overwrite: bool = False,
                           log: Callable[[str], None] = print) -> List[Path]:
    """Writes the synthetic body and hand model files and the files derived from them.

    Args:
        out_dir: the data folder (created if missing).
        seed: 0 for the reference body and hand, others for other individuals.
        only: 'smpl' or 'mano' to write only the body or only the hand files; None: both.
        overwrite: replace files that exist.
        log: receives one line per written file (its summary and the time it took).

    Returns:
        The paths written, in order.

    Raises:
        FileExistsError: some of the files exist and ``overwrite`` is off (nothing written).
    """
    if only not in (None, *MODEL_KINDS):
        raise ValueError(f'write_synthetic_models: only must be None or one of {MODEL_KINDS}, '
                         f'got {only!r}')
    out_dir = Path(out_dir)
    jobs = _jobs(seed, only)
    targets = [out_dir / name for name, _ in jobs]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not overwrite:
        raise FileExistsError('Refusing to overwrite existing files (overwrite is off): '
                              + ', '.join(existing))
    out_dir.mkdir(parents=True, exist_ok=True)
    for (_, write), target in zip(jobs, targets):
        start = time.perf_counter()
        summary = write(target)
        log(f'{target}: {summary} ({time.perf_counter() - start:.1f} s)')
    return targets
