"""Weights cast once for inference under autocast, instead of in every call.

Under ``torch.autocast`` every matrix product casts its float32 weight to the low precision
dtype again in every forward pass (autocast's own cache lives only inside one ``with``
block, and only for tensors that record gradients). ``AutocastWeights`` keeps the cast
copies on the module and reuses them while the weights are unchanged; the products see the
same low-precision values as before, so the outputs are identical. It pays off when the
weights are out of the CPU's cache (after the backbone, or beside another network): there
FastMETRO-L's batch-1 bfloat16 pass took 38 instead of 45 ms; called back to back on its own
the head gains nothing (docs/benchmarks.md).

The copies are used only without autograd (a cast copy has no graph back to the weight)
and outside tracing, ONNX export and ``torch.compile``; they are dropped when the module is
moved or cast.
"""
from __future__ import annotations

from typing import Dict, Hashable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .graph_capture import capturing_graph


class AutocastWeights(nn.Module):
    """Mixin for modules whose forward multiplies by their own float32 weights."""

    def __init__(self) -> None:
        super().__init__()
        self._autocast_weights: Dict[str, Tuple[Hashable, torch.Tensor]] = {}

    def autocast_weight(self, name: str) -> torch.Tensor:
        """The parameter ``name`` as autocast would cast it here, cast at most once.

        Args:
            name: a parameter of this module or a child ('in_proj_weight', 'fc_in.weight').

        Returns:
            The parameter itself when autocast is off, autograd records, the parameter is
            not float32, or a graph is being traced or compiled; else its cast copy.
        """
        param = self.get_parameter(name)
        return self._kept_cast(name, param, self._cast_dtype(param))

    def _kept_cast(self, name: str, param: torch.Tensor,
                   dtype: Optional[torch.dtype]) -> torch.Tensor:
        if dtype is None:
            return param
        key = (param.data_ptr(), param._version, dtype)
        kept = self._autocast_weights.get(name)
        if kept is not None and kept[0] == key:
            return kept[1]
        cast = param.detach().to(dtype)
        self._autocast_weights[name] = (key, cast)
        return cast

    def autocast_call(self, layer: str, x: torch.Tensor) -> torch.Tensor:
        """Applies the child ``nn.Linear`` or ``nn.Conv2d`` named ``layer`` with kept casts.

        Args:
            layer: name of an ``nn.Linear`` or (zero-padded) ``nn.Conv2d`` child.
            x: its input.

        Returns:
            Its output; the child is called as usual when nothing is kept.
        """
        module = getattr(self, layer)
        dtype = self._cast_dtype(module.weight)  # decided once for weight and bias
        if dtype is None:
            return module(x)
        weight = self._kept_cast(f'{layer}.weight', module.weight, dtype)
        bias = None if module.bias is None else self._kept_cast(f'{layer}.bias', module.bias,
                                                                 dtype)
        if isinstance(module, nn.Linear):
            return F.linear(x, weight, bias)
        if isinstance(module, nn.Conv2d) and module.padding_mode == 'zeros':
            return F.conv2d(x, weight, bias, module.stride, module.padding, module.dilation,
                            module.groups)
        return module(x)

    @staticmethod
    def _cast_dtype(param: torch.Tensor) -> Optional[torch.dtype]:
        device_type = param.device.type
        if (param.dtype != torch.float32 or torch.is_grad_enabled()
                or not torch.is_autocast_enabled(device_type) or capturing_graph()):
            return None
        return torch.get_autocast_dtype(device_type)

    def _apply(self, fn, *args, **kwargs):  # type: ignore[override]
        # .to() / .cuda() / .half() may keep parameter versions: drop the copies.
        self._autocast_weights = {}
        return super()._apply(fn, *args, **kwargs)
