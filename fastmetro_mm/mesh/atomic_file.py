"""Writing a file so that readers see either nothing or the whole file, never half of it."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Union

PathLike = Union[str, 'os.PathLike[str]']


@contextmanager
def atomic_write(path: PathLike, overwrite: bool = False,
                 exists_hint: str = 'pass overwrite=True to replace it') -> Iterator[BinaryIO]:
    """Yields a binary stream whose content appears at ``path`` in one step on success.

    The data goes to a temporary file beside ``path`` (same filesystem, so the final step is
    a rename or a link), is flushed to disk, gets the permissions a plain ``open()`` would
    give, and then replaces ``path`` (``overwrite=True``) or is linked to it, which fails if
    ``path`` appeared in the meantime (``overwrite=False``). On any error nothing is left.

    Args:
        path: destination file; its folder must exist.
        overwrite: replace an existing file instead of refusing.
        exists_hint: how the caller's user allows overwriting, for the error message.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f'{target} exists; {exists_hint}')
    handle, temporary = tempfile.mkstemp(prefix=f'.{target.name}.', suffix='.tmp',
                                         dir=target.parent)
    try:
        with os.fdopen(handle, 'wb') as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        _publish(temporary, target, overwrite, exists_hint)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


@contextmanager
def atomic_path(path: PathLike, overwrite: bool = False,
                exists_hint: str = 'pass overwrite=True to replace it') -> Iterator[Path]:
    """Like :func:`atomic_write`, for writers that want a file name rather than a stream.

    Yields the name of a temporary file beside ``path`` that ends in ``path``'s suffix (so a
    writer that picks its format from the suffix, such as ``cv2.VideoWriter``, picks the
    right one); the caller writes it completely and closes it inside the ``with`` block.
    On success it is flushed to disk and appears at ``path`` in one step; on any error it
    is removed and ``path`` is untouched.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f'{target} exists; {exists_hint}')
    handle, temporary = tempfile.mkstemp(prefix=f'.{target.name}.', suffix=f'.tmp{target.suffix}',
                                         dir=target.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        with open(temporary, 'rb') as stream:
            os.fsync(stream.fileno())
        _publish(temporary, target, overwrite, exists_hint)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _publish(temporary: str, target: Path, overwrite: bool, exists_hint: str) -> None:
    """Gives the finished ``temporary`` plain permissions and puts it at ``target``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it owner-only
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise FileExistsError(f'{target} exists; {exists_hint}') from None
    except OSError:  # a filesystem without hard links: check, then rename
        if target.exists():
            raise FileExistsError(f'{target} exists; {exists_hint}') from None
        os.replace(temporary, target)
