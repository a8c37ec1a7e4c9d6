"""Per-frame person boxes of a video, read from a CSV or JSON file.

The two formats hold the same rows, one person box in one frame each:

CSV (``.csv``), a header line and one row per box::

    frame,x1,y1,x2,y2,track_id
    0,120,40,260,400,1
    0,300,50,420,390,2
    1,122,41,262,401,1

JSON (``.json``), a list of objects::

    [{"frame": 0, "bbox": [120, 40, 260, 400], "track_id": 1},
     {"frame": 0, "bbox": [300, 50, 420, 390], "track_id": 2}]

``frame`` is the 0-based index of the frame in the video; ``x1, y1, x2, y2`` the box corners in
pixels of the frame; ``track_id`` (optional: the column, or the key in every object) a
non-negative integer naming the person across frames, which then replaces the tracker. A
frame without rows has no people.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

PathLike = Union[str, Path]
_COLUMNS = ['frame', 'x1', 'y1', 'x2', 'y2']


@dataclass
class FrameBoxes:
    """The boxes of a video, by frame.

    Attributes:
        boxes: frame index -> (N, 4) float32 boxes x1, y1, x2, y2 (file order).
        track_ids: frame index -> (N,) int64 track ids, or None when the file gives none.
    """

    boxes: Dict[int, np.ndarray]
    track_ids: Optional[Dict[int, np.ndarray]]

    def boxes_of(self, frame_index: int) -> np.ndarray:
        """(N, 4) boxes of a frame; (0, 4) for a frame without rows."""
        return self.boxes.get(frame_index, np.zeros((0, 4), np.float32))

    def track_ids_of(self, frame_index: int) -> Optional[np.ndarray]:
        """(N,) track ids of a frame, or None when the file gives none."""
        if self.track_ids is None:
            return None
        return self.track_ids.get(frame_index, np.zeros(0, np.int64))


def read_bbox_file(path: PathLike) -> FrameBoxes:
    """Reads per-frame person boxes (format in this module's docstring).

    Raises:
        FileNotFoundError: no such file.
        ValueError: another suffix, a wrong header or key, a value that is not a number, an
            empty or inverted box, a negative frame or track id, some rows with a track id
            and some without, or one track id twice in a frame; each naming file and row.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'bbox file not found: {path}')
    suffix = path.suffix.lower()
    if suffix == '.csv':
        rows = _csv_rows(path)
    elif suffix == '.json':
        rows = _json_rows(path)
    else:
        raise ValueError(f'bbox file {path}: expected a .csv or .json file, got {suffix!r}')
    with_ids = {row[2] is not None for row in rows}
    if len(with_ids) > 1:
        raise ValueError(f'bbox file {path}: some rows have a track_id and some do not; give '
                         'it in every row or in none')
    boxes: Dict[int, List[List[float]]] = {}
    ids: Dict[int, List[int]] = {}
    for frame, box, track_id in rows:
        boxes.setdefault(frame, []).append(box)
        if track_id is not None:
            if track_id in ids.get(frame, []):
                raise ValueError(f'bbox file {path}: track_id {track_id} appears twice in '
                                 f'frame {frame}')
            ids.setdefault(frame, []).append(track_id)
    return FrameBoxes(
        boxes={frame: np.asarray(value, np.float32).reshape(-1, 4)
               for frame, value in boxes.items()},
        track_ids=({frame: np.asarray(value, np.int64) for frame, value in ids.items()}
                   if rows and rows[0][2] is not None else None))


Row = Tuple[int, List[float], Optional[int]]


def _csv_rows(path: Path) -> List[Row]:
    with path.open(newline='') as stream:
        lines = list(csv.reader(stream))
    if not lines:
        raise ValueError(f'bbox file {path}: empty; expected the header '
                         f'{",".join(_COLUMNS)}[,track_id]')
    header = [name.strip() for name in lines[0]]
    if header not in (_COLUMNS, _COLUMNS + ['track_id']):
        raise ValueError(f'bbox file {path}: header must be {",".join(_COLUMNS)} or '
                         f'{",".join(_COLUMNS)},track_id, got {",".join(header)}')
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in line):
            continue  # a blank line, e.g. at the end
        where = f'bbox file {path} line {number}'
        if len(line) != len(header):
            raise ValueError(f'{where}: expected {len(header)} values, got {len(line)}')
        values = dict(zip(header, (cell.strip() for cell in line)))
        rows.append(_row(values, where))
    return rows


def _json_rows(path: Path) -> List[Row]:
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f'bbox file {path} is not valid JSON: {err}') from None
    if not isinstance(entries, list):
        raise ValueError(f'bbox file {path}: expected a list of objects with frame, bbox '
                         f'[x1, y1, x2, y2] and optionally track_id, got a '
                         f'{type(entries).__name__}')
    rows = []
    for index, entry in enumerate(entries):
        where = f'bbox file {path} entry {index}'
        if not isinstance(entry, dict) or 'frame' not in entry or 'bbox' not in entry:
            raise ValueError(f'{where}: expected an object with keys frame and bbox, got '
                             f'{entry!r}')
        unknown = sorted(set(entry) - {'frame', 'bbox', 'track_id'})
        if unknown:
            raise ValueError(f'{where}: unknown keys {unknown}; known: frame, bbox, track_id')
        box = entry['bbox']
        if not isinstance(box, list) or len(box) != 4:
            raise ValueError(f'{where}: bbox must be a list [x1, y1, x2, y2], got {box!r}')
        values = dict(zip(_COLUMNS, [entry['frame'], *box]))
        if 'track_id' in entry:
            values['track_id'] = entry['track_id']
        rows.append(_row(values, where))
    return rows


def _row(values: Dict[str, Any], where: str) -> Row:
    frame = _integer(values['frame'], 'frame', where)
    box = []
    for name in _COLUMNS[1:]:
        try:
            number = float(values[name])
        except (TypeError, ValueError):
            raise ValueError(f'{where}: {name} must be a number, got {values[name]!r}') from None
        if not math.isfinite(number):
            raise ValueError(f'{where}: {name} must be finite, got {values[name]!r}')
        box.append(number)
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f'{where}: empty box (x2 <= x1 or y2 <= y1): {box}')
    track_id = _integer(values['track_id'], 'track_id', where) if 'track_id' in values else None
    return frame, box, track_id


def _integer(value: Any, name: str, where: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number != int(number) \
            or number < 0:
        raise ValueError(f'{where}: {name} must be an integer >= 0, got {value!r}')
    return int(number)
