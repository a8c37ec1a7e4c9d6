"""Writing :class:`MeshMetric`'s per-sample errors to a ``.npz`` or ``.json`` file."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Sequence, Union

import numpy as np

from ...mesh.atomic_file import atomic_write

#: Sample keys written beside the errors when every sample has them.
ID_KEYS = ('id', 'img_path')


def write_per_sample_errors(path: Union[str, Path], results: List[Dict[str, Any]],
                            names: Sequence[str]) -> None:
    """Write one column per metric (and the sample ids) via a temporary file and a rename.

    Args:
        path: ``.npz`` (one array per column) or ``.json`` (a list of per-sample dicts,
            NaN written as null); its folder is made.
        results: The N per-sample dicts, in dataset order.
        names: The metric columns to write (floats, NaN where the sample lacked the GT).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {name: np.array([r[name] for r in results], dtype=np.float64) for name in names}
    for key in ID_KEYS:
        if results and all(key in r for r in results):
            columns[key] = np.array([r[key] for r in results])
    # Each evaluation run rewrites its own dump file, as mmengine's DumpResults does.
    with atomic_write(path, overwrite=True) as f:
        if path.suffix == '.npz':
            np.savez(f, **columns)
        else:
            rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                     for k, v in zip(columns, vals)}
                    for vals in zip(*[c.tolist() for c in columns.values()])]
            f.write(json.dumps(rows, indent=1).encode())
