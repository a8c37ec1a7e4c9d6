"""Writing :class:`EMDBMetric`'s per-sequence table to a ``.json`` or ``.csv`` file."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Union

from ...mesh.atomic_file import atomic_write

#: File types the table can be written as.
TABLE_SUFFIXES = ('.json', '.csv')


def check_table_path(path: Union[str, Path], owner: str) -> None:
    """Raise a ValueError naming ``path`` unless it ends in one of :data:`TABLE_SUFFIXES`."""
    if Path(path).suffix not in TABLE_SUFFIXES:
        raise ValueError(f"{owner}: dump_file must end in {' or '.join(TABLE_SUFFIXES)}, got "
                         f'{str(path)!r}')


def write_sequence_table(path: Union[str, Path], rows: List[Dict[str, Any]],
                         overall: Dict[str, float]) -> None:
    """Write the per-sequence rows (and, in JSON, the overall metrics) in one atomic step.

    Args:
        path: ``.json`` (``{"sequences": rows, "overall": overall}``, NaN written as null) or
            ``.csv`` (one line per sequence, the keys of the first row as the header, NaN as
            an empty cell); its folder is made.
        rows: One dict per sequence with the same keys (name, frame count, mean errors,
            jitter).
        overall: The metric's reported values.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and math.isnan(value) else value

    if path.suffix == '.json':
        table = {'sequences': [{k: clean(v) for k, v in row.items()} for row in rows],
                 'overall': {k: clean(v) for k, v in overall.items()}}
        data = json.dumps(table, indent=1).encode()
    else:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ['seq_name'])
        writer.writeheader()
        writer.writerows([{k: ('' if clean(v) is None else v) for k, v in row.items()}
                          for row in rows])
        data = text.getvalue().encode()
    # Each evaluation run rewrites its own table, as MeshMetric's dump and mmengine's
    # DumpResults do.
    with atomic_write(path, overwrite=True) as f:
        f.write(data)
