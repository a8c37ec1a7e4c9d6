"""Lets mmengine's checkpoints load under torch >= 2.6's ``weights_only=True`` default.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``. Since torch 2.6 that means
``weights_only=True``, and resuming a run fails with ``UnpicklingError``: besides tensors, the
checkpoints the Runner writes hold the message hub's ``HistoryBuffer`` objects and numpy arrays
and scalars (training logs, MMPose dataset meta such as keypoint colours and sigmas).

Rather than turning the safety check off (the ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` variable, or
``weights_only=False``), this allows exactly those types, so arbitrary pickles stay refused.
One more step is needed: ``HistoryBuffer.__getstate__`` pickles its statistics methods as
``getattr(HistoryBuffer, 'min')``, and allowing ``getattr`` would open the door to everything.
Those four default methods are re-created by ``__setstate__`` anyway, so checkpoints written
after this module is imported leave them out (user-registered statistics are still written).
"""
from __future__ import annotations

import copyreg
from typing import Any, Dict, List, Tuple

import numpy as np
import torch


def _numpy_globals() -> List[Any]:
    """numpy callables and types that pickled ndarrays, dtypes and scalars reference."""
    try:  # numpy >= 2 moved the pickling helpers to numpy._core
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    found: List[Any] = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    # A pickled dtype names its concrete class (numpy.dtypes.Float32DType, ...).
    for type_code in np.typecodes['All'] + '?':
        try:
            found.append(type(np.dtype(type_code)))
        except TypeError:
            continue
    return found


def mmengine_checkpoint_globals() -> List[Any]:
    """Every non-tensor global that a checkpoint written by mmengine's Runner references."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, *_numpy_globals()]


_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _reduce_history_buffer(buffer: Any) -> Tuple[type, tuple, Dict[str, Any]]:
    """Pickles a HistoryBuffer as ``HistoryBuffer()`` plus its state, minus default methods."""
    state = {key: value for key, value in buffer.__dict__.items()
             if key != 'statistics_methods'}
    custom = {name: method for name, method in type(buffer)._statistics_methods.items()
              if name not in _DEFAULT_STATISTICS}
    if custom:
        state['statistics_methods'] = custom
    return type(buffer), (), state


def allow_mmengine_checkpoints() -> None:
    """Makes mmengine's checkpoints load with ``weights_only=True`` (idempotent).

    Adds the types they hold to torch's allow-list and registers the HistoryBuffer reducer.
    """
    from mmengine.logging import HistoryBuffer
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:  # torch < 2.4 never defaults to weights_only=True
        return
    known = set(map(id, torch.serialization.get_safe_globals()))
    add_safe_globals([g for g in mmengine_checkpoint_globals() if id(g) not in known])
