"""The process-wide random number generators' states, as one checkpoint-safe dict.

mmengine 0.10.7 stores the run's seed in a checkpoint but none of the generators' states, so a
resumed run draws its augmentations and dropout masks from freshly seeded generators. These
two functions capture and restore every global generator a training step touches: Python's
``random``, NumPy's legacy global generator (``np.random.*``), torch's CPU generator and, when
CUDA is initialised, the generator of the current CUDA device (the one a DDP process trains
on).

The captured dict holds only tensors, numpy arrays, ints, floats, strings and tuples, so it
loads under torch's ``weights_only=True`` with the allow-list of
:mod:`fastmetro_mm.engine.checkpoint_compat`.
"""
from __future__ import annotations

import random
from typing import Any, Dict

import numpy as np
import torch

#: Keys every captured state has (``cuda`` only when CUDA was initialised).
RNG_KEYS = ('python', 'numpy', 'torch')


def capture_rng_state() -> Dict[str, Any]:
    """Returns the states of the global generators of this process.

    Returns:
        ``{'python': random.getstate(), 'numpy': np.random.get_state(legacy=False),
        'torch': ByteTensor, 'cuda': ByteTensor}``; ``cuda`` (the current device's state) is
        present only when CUDA is initialised here (querying it otherwise would create a CUDA
        context).
    """
    state: Dict[str, Any] = {
        'python': random.getstate(),
        'numpy': np.random.get_state(legacy=False),
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def restore_rng_state(state: Dict[str, Any], source: str = 'checkpoint') -> None:
    """Puts the global generators back into a state returned by :func:`capture_rng_state`.

    A CUDA state is put on the current device; when this process has no CUDA, it is ignored
    (the CPU generators are what a CPU run draws from).

    Args:
        state: the captured dict.
        source: where ``state`` comes from, for error messages (e.g. a checkpoint path).

    Raises:
        KeyError: ``state`` lacks one of :data:`RNG_KEYS`.
    """
    missing = [key for key in RNG_KEYS if key not in state]
    if missing:
        raise KeyError(f'fastmetro_mm.engine.rng_state: {source} has no RNG state for '
                       f'{missing}; expected the keys {list(RNG_KEYS)}')
    version, internal, gauss = state['python']
    # A checkpoint round trip may turn the inner tuple into a list; random.setstate wants tuples.
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'].cpu())
