"""Opening numpy ``.npy`` / ``.npz`` files with errors that name the file.

``np.load`` on a truncated, random or mislabelled file raises whatever its decoder hits first
(``BadZipFile``, ``cannot reshape array of size 46``, ``UnpicklingError``, an ``ndarray``
where an archive was expected); none names the file. These helpers turn each into a
``ValueError`` that does, and say what was expected.
"""
from __future__ import annotations

import os
import pickle
import zipfile
import zlib
from typing import Any, Union

import numpy as np

PathLike = Union[str, 'os.PathLike[str]']

#: What np.load and reading an archive's members raise on a damaged file.
READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error,
               pickle.UnpicklingError, UnicodeError)


def open_npz(path: PathLike, what: str, allow_pickle: bool = False,
             encoding: str = 'ASCII') -> Any:
    """``np.load(path)`` of an ``.npz`` archive (use it as a context manager).

    Args:
        path: the file.
        what: what the file should be, for the message (e.g. 'a mesh hierarchy file').
        allow_pickle: allow object arrays (trusted files only).
        encoding: for Python-2 pickles ('latin1').

    Raises:
        ValueError: the file is not a readable ``.npz`` archive (truncated, random bytes, a
            ``.npy`` array or a pickle); the message names ``path``.
    """
    try:
        archive = np.load(path, allow_pickle=allow_pickle, encoding=encoding)
    except READ_ERRORS as err:
        raise ValueError(f'{os.fspath(path)}: not a readable .npz archive, expected {what} '
                         f'(the file may be truncated or of another format: '
                         f'{type(err).__name__}: {err})') from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        found = (f'a single {archive.dtype} array of shape {archive.shape} (.npy)'
                 if isinstance(archive, np.ndarray) else type(archive).__name__)
        raise ValueError(f'{os.fspath(path)}: holds {found}, expected {what} (an .npz '
                         'archive of named arrays)')
    return archive


def read_member(archive: Any, key: str, path: PathLike) -> np.ndarray:
    """``archive[key]``, naming the file and key when that member cannot be decoded."""
    try:
        return archive[key]
    except READ_ERRORS as err:
        raise ValueError(f'{os.fspath(path)}: key {key!r} cannot be read ({type(err).__name__}: '
                         f'{err})') from None


def load_npy(path: PathLike, what: str) -> np.ndarray:
    """``np.load(path)`` of a ``.npy`` array file (no pickle).

    Raises:
        ValueError: the file is not a readable ``.npy`` array; the message names ``path``.
    """
    try:
        array = np.load(path, allow_pickle=False)
    except READ_ERRORS as err:
        raise ValueError(f'{os.fspath(path)}: not a readable .npy array, expected {what} '
                         f'(the file may be truncated or of another format: '
                         f'{type(err).__name__}: {err})') from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise ValueError(f'{os.fspath(path)}: holds an .npz archive, expected {what} (a '
                         'single .npy array)')
    return array
