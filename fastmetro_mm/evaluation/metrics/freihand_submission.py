"""The prediction file FreiHAND's evaluation server reads (``pred.json``, zipped or not).

Layout (what lmb-freiburg/freihand ``eval.py`` loads and ``pred.py`` dumps): one JSON list of
two lists, ``[xyz, verts]``, one entry per evaluation sample in the dataset's order:
``xyz[i]`` is the (21, 3) joint list and ``verts[i]`` the (778, 3) vertex list, in metres.
The server aligns both by Procrustes, so only their shape matters for the PA- numbers; the
released FastMETRO writes them wrist-relative, and so does :class:`MeshMetric`. The
competition page takes the file zipped as ``pred.json``: a path ending in ``.zip`` gets that.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ...mesh.atomic_file import atomic_write

#: FreiHAND's hand: 21 joints, 778 MANO vertices.
NUM_JOINTS, NUM_VERTICES = 21, 778
#: The name the evaluation looks for first, inside the zip.
PRED_NAME = 'pred.json'
SUFFIXES = ('.json', '.zip')


def check_submission_path(path: Union[str, Path], overwrite: bool = False) -> Path:
    """The submission path, checked before a long test run rather than after it.

    Raises:
        ValueError: the suffix is not ``.json`` or ``.zip``.
        FileExistsError: the file exists and ``overwrite`` is False (a user's file is never
            replaced unasked).
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ValueError(f"FreiHAND submission file must end in '.json' or '.zip', got "
                         f"'{path}'")
    if path.exists() and not overwrite:
        raise FileExistsError(f'FreiHAND submission file {path} exists; remove it or choose '
                              'another path')
    return path


def write_freihand_submission(path: Union[str, Path], xyz: Sequence[np.ndarray],
                              verts: Sequence[np.ndarray], overwrite: bool = False) -> Path:
    """Write ``[xyz, verts]`` in FreiHAND's layout, atomically.

    Args:
        path: ``.json`` file, or ``.zip`` holding it as ``pred.json``; its folder is made.
        xyz: N arrays (21, 3) of predicted joints, metres, in the dataset's order.
        verts: N arrays (778, 3) of predicted vertices, metres, same order.
        overwrite: replace an existing file.

    Returns:
        The path written.

    Raises:
        ValueError: a bad suffix, different counts, or an entry of the wrong shape (named by
            its index).
        FileExistsError: as :func:`check_submission_path`.
    """
    path = check_submission_path(path, overwrite)
    if len(xyz) != len(verts):
        raise ValueError(f'FreiHAND submission {path}: {len(xyz)} joint sets but {len(verts)} '
                         'vertex sets')
    for name, arrays, rows in (('xyz', xyz, NUM_JOINTS), ('verts', verts, NUM_VERTICES)):
        for i, array in enumerate(arrays):
            if np.shape(array) != (rows, 3):
                raise ValueError(f'FreiHAND submission {path}: {name}[{i}] has shape '
                                 f'{np.shape(array)}, expected ({rows}, 3)')
    # Python floats (float64 repr) round-trip exactly through JSON.
    payload = json.dumps([[np.asarray(a, dtype=np.float64).tolist() for a in xyz],
                          [np.asarray(a, dtype=np.float64).tolist() for a in verts]])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, overwrite=overwrite,
                      exists_hint='remove it or choose another path') as stream:
        if path.suffix == '.zip':
            with zipfile.ZipFile(stream, 'w', compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(PRED_NAME, payload)
        else:
            stream.write(payload.encode())
    return path
