"""Dropout masks drawn ahead, on a second CPU core, with the same random numbers.

On the CPU, ``F.dropout`` draws its mask with ``bernoulli_``, one serial loop over the
default generator: a quarter of FastMETRO's training step on a 2-core CPU, while the other
core waits. The masks a forward pass draws depend only on the shapes, dtypes and
probabilities of its dropout calls, and those repeat from step to step. So a training forward
can hand the whole sequence to a helper thread, which draws it from a copy of the default
generator while the network computes, and every dropout call takes the next finished mask.

The masks are those that drawing in place would give, bit for bit, and the default generator
is left where drawing in place would leave it:

- the helper draws from a private generator that starts at the default generator's state,
  in the order the calls came in the pass that recorded the sequence;
- each call checks that it is the next one of that sequence (shape, dtype, probability) and
  that the default generator is where the previous call left it, then sets the default
  generator to the state after its own mask; so code that reads or reseeds the generator
  mid-pass (activation checkpointing, say) sees what it would see without the helper;
- a call that differs, or a generator somebody else drew from, ends the helper, and that call
  and the rest of the pass draw in place: slower, never different.

Only CPU training uses it: on CUDA ``F.dropout`` is one fused kernel with its own random
numbers; and only with a second CPU to draw on. The first pass of each setting (batch, map
size, dtype) records the sequence.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from typing import Hashable, Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .graph_capture import capturing_graph

#: One dropout call: the mask's shape, dtype and the drop probability.
Draw = Tuple[Tuple[int, ...], torch.dtype, float]

_active = threading.local()  # the session of this thread's running forward, if any


def _spare_core() -> bool:
    """Whether this process may run on more than one CPU, so that a helper thread gains."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # no affinity outside Linux
        return (os.cpu_count() or 1) > 1


def _draw_of(x: torch.Tensor, p: float) -> Optional[Draw]:
    """The draw ``F.dropout(x, p)`` makes, or None if its mask's layout is not contiguous.

    ``F.dropout`` draws into ``empty_like(x)``: contiguous for a contiguous ``x`` and for one
    expanded along its first axis (the shared attention weights); another layout would draw
    the same numbers into other places.
    """
    if not (x.is_contiguous() or x.stride(0) == 0):
        return None
    return tuple(x.shape), x.dtype, float(p)


def _draw_mask(draw: Draw, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """The scaled mask ``F.dropout`` multiplies by off CUDA: {0, 1} / (1 - p)."""
    shape, dtype, p = draw
    mask = torch.empty(shape, dtype=dtype).bernoulli_(1 - p, generator=generator)
    return mask.div_(1 - p)


class _Session:
    """One forward pass's dropout calls: recording them, or serving masks drawn ahead."""

    def __init__(self, plan: Optional[List[Draw]]) -> None:
        self.plan = plan
        self.recorded: Optional[List[Draw]] = [] if plan is None else None
        self.taken = 0
        self.broken = False  # a call left the plan: the rest draw in place
        self._masks: List[Optional[torch.Tensor]] = []
        self._states: List[torch.Tensor] = []
        if plan:
            self._start = torch.default_generator.get_state()
            self._masks = [None] * len(plan)
            self._ready = threading.Condition()
            self._drawn = 0
            self._error: Optional[BaseException] = None
            self._cancel = threading.Event()
            self._thread = threading.Thread(target=self._draw_plan, name='dropout-draws',
                                            daemon=True)
            self._thread.start()

    def _draw_plan(self) -> None:
        generator = torch.Generator()
        generator.set_state(self._start)
        try:
            for index, draw in enumerate(self.plan):
                if self._cancel.is_set():
                    return
                mask = _draw_mask(draw, generator)
                state = generator.get_state()
                with self._ready:
                    self._masks[index] = mask
                    self._states.append(state)
                    self._drawn = index + 1
                    self._ready.notify_all()
        except BaseException as error:  # handed to the caller of take()
            with self._ready:
                self._error = error
                self._ready.notify_all()

    def take(self, x: torch.Tensor, p: float) -> Optional[torch.Tensor]:
        """The mask for ``F.dropout(x, p)``, or None: draw it in place."""
        draw = _draw_of(x, p)
        if self.recorded is not None:
            if draw is None:
                self.broken = True
            else:
                self.recorded.append(draw)
            return None
        if self.broken:
            return None
        index = self.taken
        expected_state = self._states[index - 1] if index else self._start
        if (draw is None or index >= len(self.plan) or self.plan[index] != draw
                or not torch.equal(torch.default_generator.get_state(), expected_state)):
            self._stop()
            self.broken = True
            return None
        with self._ready:
            self._ready.wait_for(lambda: self._drawn > index or self._error is not None)
            if self._drawn <= index:
                error = self._error
                self.broken = True
                raise RuntimeError('dropout_draws: drawing a mask ahead failed') from error
            mask, self._masks[index] = self._masks[index], None
        torch.default_generator.set_state(self._states[index])
        self.taken = index + 1
        return mask

    def _stop(self) -> None:
        if self.plan:
            self._cancel.set()
            self._thread.join()
            self._masks = []

    def close(self) -> bool:
        """Ends the pass; True if it followed its plan to the end."""
        self._stop()
        return not self.broken and self.plan is not None and self.taken == len(self.plan)


class DropoutDraws:
    """The dropout sequences of a network's training passes, by setting, and their sessions.

    Args:
        max_plans: settings kept (the least recently used is dropped first).
    """

    def __init__(self, max_plans: int = 8) -> None:
        self.max_plans = max_plans
        self._plans: 'OrderedDict[Hashable, List[Draw]]' = OrderedDict()

    @contextlib.contextmanager
    def ahead(self, key: Hashable) -> Iterator[None]:
        """Runs a forward pass whose dropout calls (``dropout``, ``dropout_mask``) take masks
        drawn ahead, if a pass with the same ``key`` recorded them; else records them.

        Args:
            key: everything that decides the pass's dropout calls (batch, map size, dtype,
                autocast); a stale key costs speed, never exactness.
        """
        if getattr(_active, 'session', None) is not None or not _spare_core():
            yield  # a nested pass draws under the outer session; one CPU has no second core
            return
        plan = self._plans.get(key)
        session = _Session(plan)
        _active.session = session
        completed = False
        try:
            yield
            completed = True
        finally:
            _active.session = None
            followed = session.close()
            if plan is not None:
                if followed:
                    self._plans.move_to_end(key)
                else:  # the calls changed: record them again next time
                    self._plans.pop(key, None)
            elif completed and not session.broken and session.recorded:
                self._plans[key] = session.recorded
                while len(self._plans) > self.max_plans:
                    self._plans.popitem(last=False)

    def __deepcopy__(self, memo: dict) -> 'DropoutDraws':
        # Plans are cheap to record again; a copy (EMA, say) starts without them.
        return DropoutDraws(self.max_plans)


def dropout_mask(like: torch.Tensor, p: float) -> torch.Tensor:
    """The scaled mask ``F.dropout(like, p, training=True)`` would draw off CUDA.

    Args:
        like: tensor the mask is for (contiguous, or expanded along its first axis).
        p: drop probability, 0 < p < 1.

    Returns:
        mask of ``like``'s shape and dtype, contiguous: 0 or 1 / (1 - p).
    """
    session = getattr(_active, 'session', None)
    mask = None if session is None else session.take(like, p)
    if mask is None:
        mask = torch.empty_like(like).bernoulli_(1 - p)
        mask.div_(1 - p)
    return mask


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout(x, p, training)``, with the mask drawn ahead inside ``DropoutDraws.ahead``.

    Args:
        x: any tensor.
        p: drop probability.
        training: apply dropout.

    Returns:
        tensor like ``x``.
    """
    if not training or not 0.0 < p < 1.0 or x.numel() == 0 or capturing_graph():
        return F.dropout(x, p, training)  # no draw (or a graph records F.dropout itself)
    session = getattr(_active, 'session', None)
    mask = None if session is None else session.take(x, p)
    return F.dropout(x, p, training) if mask is None else x * mask


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose mask may come drawn ahead (see ``DropoutDraws``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace:
            return super().forward(x)
        return dropout(x, self.p, self.training)
