"""A test-only count of host -> device copies and host syncs in a block of torch code.

A CPU has no device to copy to and nothing to wait for, so the count is of the calls that
would do either on a GPU, seen through ``torch.overrides.TorchFunctionMode``:

- copies: ``torch.as_tensor`` / ``torch.tensor`` of host data (numpy, lists, numbers) given a
  ``device``, and ``Tensor.to`` / ``Tensor.cuda`` given a device (an upper bound: moving a
  tensor that is on the device already costs nothing);
- syncs: reading a tensor's value on the host (``item``, ``tolist``, ``bool`` / ``int`` /
  ``float`` / ``index`` of a tensor) and ops whose output size depends on the values
  (``nonzero``, ``unique``, ``masked_select``, indexing with a boolean mask).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

_HOST_READS = {'item', 'tolist', '__bool__', '__int__', '__float__', '__index__'}
_SIZE_FROM_VALUES = {'nonzero', 'unique', 'masked_select', 'argwhere', 'unique_consecutive'}


def _is_bool_mask(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index, )
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)


class DeviceTraffic(TorchFunctionMode):
    """Counts copies and syncs by call name (``copies`` and ``syncs`` Counters)."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: Counter = Counter()
        self.syncs: Counter = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, '__name__', str(func))
        if name in ('as_tensor', 'tensor') and 'device' in kwargs and args \
                and not isinstance(args[0], torch.Tensor):
            self.copies[name] += 1
        elif name in ('to', 'cuda') and (
                'device' in kwargs or any(isinstance(a, (str, torch.device)) for a in args[1:])):
            self.copies[name] += 1
        elif name in _HOST_READS or name in _SIZE_FROM_VALUES:
            self.syncs[name] += 1
        elif name in ('__getitem__', '__setitem__') and len(args) > 1 \
                and _is_bool_mask(args[1]):
            self.syncs[f'{name}[bool mask]'] += 1
        return func(*args, **kwargs)
