"""Random access to the rows of a TSV file through its ``.lineidx`` byte offsets.

METRO / FastMETRO store images and labels as TSV files (tab-separated columns, one row per
image) next to a ``.lineidx`` file holding the byte offset of each row, one decimal number per
line. :class:`TSVFile` reads only the offsets up front and seeks to one row at a time, so a
file of hundreds of GB is never loaded. The file handle is opened on first use and reopened in
every new process, so a dataloader worker never shares a file position with another.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import List, Optional

import numpy as np


def lineidx_path(tsv_path: str) -> str:
    """The ``.lineidx`` file of ``tsv_path`` (same name, extension replaced)."""
    return osp.splitext(tsv_path)[0] + '.lineidx'


def write_lineidx(tsv_path: str, out_path: Optional[str] = None) -> str:
    """Writes the row offsets of ``tsv_path`` (one pass, streaming); returns the file written.

    Args:
        tsv_path: the TSV file.
        out_path: where to write (default: :func:`lineidx_path`).
    """
    out_path = out_path or lineidx_path(tsv_path)
    with open(tsv_path, 'rb') as src, open(out_path, 'w') as dst:
        offset = 0
        for line in src:
            dst.write(f'{offset}\n')
            offset += len(line)
    return out_path


class TSVFile:
    """One TSV file opened for random row access.

    Args:
        path: the TSV file; its ``.lineidx`` must exist (see :func:`write_lineidx`).
        separator: column separator.
    """

    def __init__(self, path: str, separator: str = '\t') -> None:
        self.path = path
        self.separator = separator
        index_path = lineidx_path(path)
        if not osp.isfile(path):
            raise FileNotFoundError(f'TSVFile: {path} does not exist')
        if not osp.isfile(index_path):
            raise FileNotFoundError(
                f'TSVFile: {index_path} (the row offsets of {path}) does not exist; create it '
                'with fastmetro_mm.datasets.tsv_file.write_lineidx')
        with open(index_path) as f:
            try:
                offsets = [int(line) for line in f if line.strip()]
            except ValueError as err:
                raise ValueError(f'TSVFile: {index_path} must hold one integer offset per '
                                 f'line ({err})') from None
        #: (num_rows,) int64 byte offset of each row.
        self.offsets = np.asarray(offsets, dtype=np.int64)
        size = osp.getsize(path)
        if len(self.offsets) and (np.any(np.diff(self.offsets) <= 0)
                                  or self.offsets[0] < 0 or self.offsets[-1] >= size):
            raise ValueError(f'TSVFile: the offsets in {index_path} are not increasing or '
                             f'point past the end of {path} ({size} bytes)')
        self._handle = None
        self._pid: Optional[int] = None

    def __len__(self) -> int:
        return len(self.offsets)

    def _file(self):
        """The open binary handle of this process (reopened after a fork)."""
        if self._handle is None or self._pid != os.getpid():
            self._handle = open(self.path, 'rb')
            self._pid = os.getpid()
        return self._handle

    def read_row(self, row: int) -> List[str]:
        """The columns of row ``row`` (0-based), without the line break."""
        if not 0 <= row < len(self.offsets):
            raise IndexError(f'TSVFile: row {row} out of range for {self.path} '
                             f'({len(self.offsets)} rows)')
        handle = self._file()
        handle.seek(int(self.offsets[row]))
        line = handle.readline()
        try:
            text = line.decode('utf-8')
        except UnicodeDecodeError as err:
            raise ValueError(f'TSVFile: row {row} of {self.path} is not UTF-8 text ({err})'
                             ) from None
        return text.rstrip('\r\n').split(self.separator)

    def __getitem__(self, row: int) -> List[str]:
        return self.read_row(row)

    def close(self) -> None:
        """Closes the handle of this process (it reopens on the next read)."""
        if self._handle is not None and self._pid == os.getpid():
            self._handle.close()
        self._handle = None
        self._pid = None

    def __getstate__(self) -> dict:
        # An open file cannot be pickled into a spawned worker; the worker reopens it.
        state = self.__dict__.copy()
        state['_handle'] = None
        state['_pid'] = None
        return state

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  (interpreter shutdown: nothing left to release)
            pass
