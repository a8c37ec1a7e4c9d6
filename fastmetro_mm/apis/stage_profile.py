"""Where inference spends its time: a per-stage wall-clock profile (the demos' ``--profile``).

Code marks its stages with ``with stage('detector'): ...``; the model's own stages (backbone,
head network, upsampling, SMPL regressor) are timed by forward hooks that
:func:`profile_model` attaches for the duration of a call. Nothing is measured, and no hook
exists, unless a :class:`StageProfile` is active: ``stage`` then returns one shared
``nullcontext`` (a global read and a call: no clock, no CUDA synchronisation), so the API
functions keep their markers at no cost.

Times are exclusive: a stage nested in another (upsampling inside the head network) is
subtracted from its parent, so the stages add up to the timed total, and the rest of the
profiled run is shown as ``other``. On a GPU each stage boundary synchronises CUDA, so a
stage is charged for its own kernels (and the run is somewhat slower than unprofiled)::

    with StageProfile() as profile:
        for image in images:
            people = inference_mesh(model, image, boxes)
            with stage('rendering'):
                ...
    print(profile.format())
"""
from __future__ import annotations

import contextlib
import time
from typing import Callable, ContextManager, Dict, Iterator, List, Optional, Tuple

import torch
from torch import nn

#: The stages of the demos, in the order they are printed (all of them, run or not, so a
#: report always has the same rows); other names used with :func:`stage` follow them.
STAGES: Tuple[str, ...] = ('reading', 'detector', 'crop and pipeline', 'backbone',
                           'head network', 'upsampling', 'SMPL regressor', 'post-processing',
                           'rendering', 'writing')

_NULL = contextlib.nullcontext()
_active: Optional['StageProfile'] = None


def stage(name: str) -> ContextManager:
    """Times the enclosed code as ``name`` in the active profile; does nothing without one."""
    return _NULL if _active is None else _active.timer(name)


def active_profile() -> Optional['StageProfile']:
    """The profile being recorded, or None."""
    return _active


class _Timer:
    """One entry into a stage (a context manager the active profile hands out)."""

    __slots__ = ('profile', 'name')

    def __init__(self, profile: 'StageProfile', name: str) -> None:
        self.profile, self.name = profile, name

    def __enter__(self) -> None:
        self.profile.start(self.name)

    def __exit__(self, *exc_info) -> None:
        self.profile.stop(self.name)


class StageProfile:
    """Exclusive wall-clock time per named stage over a run (the ``with`` block).

    Args:
        sync_cuda: synchronise CUDA at each stage boundary (when CUDA is in use), so GPU
            work is charged to the stage that launched it.
    """

    def __init__(self, sync_cuda: bool = True) -> None:
        self.sync_cuda = sync_cuda
        self.seconds: Dict[str, float] = {}  # exclusive time per stage
        self.calls: Dict[str, int] = {}
        self.wall = 0.0
        self._stack: List[List] = []  # [name, start, time spent in nested stages]
        self._start: Optional[float] = None

    # -- recording ---------------------------------------------------------------------
    def __enter__(self) -> 'StageProfile':
        global _active
        if _active is not None:
            raise RuntimeError('StageProfile: another profile is already being recorded')
        _active = self
        self._sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        global _active
        self._sync()
        self.wall += time.perf_counter() - self._start
        self._stack.clear()  # stages left open by an exception are dropped
        _active = None

    def timer(self, name: str) -> _Timer:
        """A context manager timing ``name``."""
        return _Timer(self, name)

    def start(self, name: str) -> None:
        """Enters stage ``name`` (nested in the current one, if any)."""
        self._sync()
        self._stack.append([name, time.perf_counter(), 0.0])

    def stop(self, name: str) -> None:
        """Leaves stage ``name``, which must be the innermost open stage."""
        self._sync()
        now = time.perf_counter()
        if not self._stack or self._stack[-1][0] != name:
            open_stage = self._stack[-1][0] if self._stack else None
            raise RuntimeError(f'StageProfile: stop({name!r}) but the innermost open stage '
                               f'is {open_stage!r}')
        _, begin, nested = self._stack.pop()
        elapsed = now - begin
        self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - nested
        self.calls[name] = self.calls.get(name, 0) + 1
        if self._stack:
            self._stack[-1][2] += elapsed

    def _sync(self) -> None:
        if self.sync_cuda and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    # -- report --------------------------------------------------------------------------
    def rows(self) -> List[Tuple[str, int, float, float]]:
        """(stage, calls, ms, share of the run in %) for every stage, then 'other'.

        The shares add up to 100 % of the profiled run's wall time.
        """
        names = list(STAGES) + [name for name in self.seconds if name not in STAGES]
        wall = max(self.wall, 1e-12)
        rows = [(name, self.calls.get(name, 0), 1000.0 * self.seconds.get(name, 0.0),
                 100.0 * self.seconds.get(name, 0.0) / wall) for name in names]
        other = max(0.0, self.wall - sum(self.seconds.values()))
        rows.append(('other', 0, 1000.0 * other, 100.0 * other / wall))
        return rows

    def format(self, title: str = 'stage profile') -> str:
        """The printed table: one line per stage with calls, ms and share."""
        lines = [f'{title} (exclusive wall time; {1000.0 * self.wall:.1f} ms in all)',
                 f'{"stage":<20}{"calls":>7}{"ms":>11}{"share":>9}']
        for name, calls, ms, share in self.rows():
            lines.append(f'{name:<20}{calls:>7}{ms:>11.1f}{share:>8.1f}%')
        return '\n'.join(lines)


def _stage_modules(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """(stage, module) pairs of a top-down mesh estimator that the hooks time."""
    pairs = [('backbone', getattr(model, name, None)) for name in ('backbone', 'neck')]
    head = getattr(model, 'head', None)
    network = getattr(head, 'network', None)
    pairs.append(('head network', network))
    if isinstance(network, nn.Module):
        pairs += [('upsampling', child) for name, child in network.named_children()
                  if name.startswith('upsample')]
    regressor = getattr(head, 'smpl_regressor', None)
    if regressor is not None:
        # predict() also builds the body model's mesh of the regressed parameters.
        pairs.append(('SMPL regressor', regressor))
        pairs += [('SMPL regressor', body_model)
                  for body_model in getattr(head, 'body_models', {}).values()]
    return [(name, module) for name, module in pairs if isinstance(module, nn.Module)]


@contextlib.contextmanager
def profile_model(model: nn.Module) -> Iterator[None]:
    """Times the model's stages through forward hooks while the block runs.

    Without an active profile nothing is attached. With one, each module of
    :func:`_stage_modules` enters its stage before its forward and leaves it after (also when
    the forward raises); the hooks are removed on exit.
    """
    profile = _active
    if profile is None:
        yield
        return
    handles = []
    try:
        for name, module in _stage_modules(model):
            handles.append(module.register_forward_pre_hook(_enter_hook(profile, name)))
            handles.append(module.register_forward_hook(_leave_hook(profile, name),
                                                        always_call=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _enter_hook(profile: StageProfile, name: str) -> Callable:
    def hook(module: nn.Module, args: tuple) -> None:
        profile.start(name)
    return hook


def _leave_hook(profile: StageProfile, name: str) -> Callable:
    def hook(module: nn.Module, args: tuple, output: object) -> None:
        profile.stop(name)
    return hook
