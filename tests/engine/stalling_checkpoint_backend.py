"""A checkpoint storage that stalls half-way through one file, so a test can kill it there.

``test_exact_resume.py`` imports this module into a ``tools/train.py`` process (the config's
``custom_imports``, with this folder on ``PYTHONPATH``) and selects the backend with
``default_hooks.checkpoint.backend_args=dict(backend='test_stalling_atomic_local',
stall_on='iter_6.pth')``. Everything but the stall is :class:`AtomicLocalBackend`, so the kill
lands inside the very write that AtomicCheckpointHook makes atomic.
"""
import os.path as osp
import time
from typing import BinaryIO, Optional

from mmengine.fileio import register_backend

from fastmetro_mm.engine import AtomicLocalBackend

#: Seconds a stalled write waits; the test kills the process long before.
STALL_SECONDS = 600


@register_backend('test_stalling_atomic_local', force=True)
class StallingAtomicLocalBackend(AtomicLocalBackend):
    """Writes half of the file named ``stall_on``, flushes it, then sleeps."""

    def __init__(self, stall_on: Optional[str] = None) -> None:
        super().__init__()
        self.stall_on = stall_on
        self._writing = ''

    def put(self, obj: bytes, filepath) -> None:
        self._writing = osp.basename(str(filepath))
        super().put(obj, filepath)

    def write_stream(self, stream: BinaryIO, data: bytes) -> None:
        if self._writing != self.stall_on:
            stream.write(data)
            return
        half = len(data) // 2
        stream.write(data[:half])
        stream.flush()  # the test waits for these bytes before it kills
        time.sleep(STALL_SECONDS)
        stream.write(data[half:])
