"""Writing model dicts as SMPL / MANO ``.pkl`` files."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Dict, Union

from fastmetro_mm.mesh.atomic_file import atomic_write


def write_model_file(model: Dict[str, Any], path: Union[str, Path]) -> Path:
    """Pickles a model dict the way the official files are stored, atomically.

    The dict is written to a temporary file in the target folder and moved over ``path`` with
    os.replace, so a reader never sees a half-written file. Protocol 2 keeps the file readable
    by the Python-2-era tools that read SMPL files; smplx opens it with
    ``pickle.load(f, encoding='latin1')``.

    Args:
        model: keys such as v_template, f, J_regressor, ... (numpy arrays, scipy.sparse
            matrices, strings, lists).
        path: destination file; its folder must exist.

    Returns:
        The path written.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f'write_model_file: folder {path.parent} does not exist')
    if not isinstance(model, dict) or 'v_template' not in model:
        raise ValueError(f'write_model_file: expected a model dict with a v_template key for '
                         f'{path}, got {type(model).__name__}')
    with atomic_write(path, overwrite=True) as stream:
        pickle.dump(model, stream, protocol=2)
    return path
