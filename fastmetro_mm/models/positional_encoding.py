"""DETR's sine positional encoding of an image-feature grid, as FastMETRO uses it.

For a grid of h x w cells, row i (1-based) and column j are normalised to
``y = i / (h + eps) * scale`` and ``x = j / (w + eps) * scale``. Each is encoded with
``num_feats`` channels: channel 2k holds sin(p / T^(2k / F)) and channel 2k+1 holds
cos(p / T^(2k / F)) (F = num_feats, T = temperature). The y channels come first, then x, for
2F = d channels in all.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from .graph_capture import capturing_graph


class SinePositionalEncoding(nn.Module):
    """Fixed 2D sine positional encoding (no parameters).

    Args:
        num_feats: channels per axis, F; the encoding has 2F channels (d / 2 in FastMETRO).
        temperature: wavelength base T.
        normalize: scale positions to (0, scale] before encoding.
        scale: the range of normalised positions; only meaningful with ``normalize``.
        eps: added to the last position in the normalisation, as DETR does.
    """

    def __init__(self,
                 num_feats: int,
                 temperature: float = 10000.0,
                 normalize: bool = True,
                 scale: float = 2 * math.pi,
                 eps: float = 1e-6) -> None:
        super().__init__()
        if num_feats < 2 or num_feats % 2 != 0:
            raise ValueError(
                f'SinePositionalEncoding: num_feats must be an even number >= 2, got {num_feats}')
        self.num_feats = num_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = scale
        self.eps = eps
        self._kept: Dict[Tuple[int, int, torch.device, torch.dtype], torch.Tensor] = {}

    def _encode_axis(self, positions: torch.Tensor) -> torch.Tensor:
        """(n,) positions -> (n, F) interleaved sin/cos channels."""
        index = torch.arange(self.num_feats, dtype=torch.float32, device=positions.device)
        # Channels 2k and 2k+1 share one frequency.
        inv_freq = self.temperature ** (2 * torch.div(index, 2, rounding_mode='floor')
                                        / self.num_feats)
        angles = positions[:, None] / inv_freq  # (n, F)
        encoded = torch.empty_like(angles)
        encoded[:, 0::2] = angles[:, 0::2].sin()
        encoded[:, 1::2] = angles[:, 1::2].cos()
        return encoded

    def forward(self,
                height: int,
                width: int,
                device: Optional[torch.device] = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Encodes every cell of an (height, width) grid, computed once per grid and kept.

        The encoding depends only on the arguments, so it is kept per (height, width,
        device, dtype); at batch 1 computing it again was a measurable share of the head's
        pass. The kept tensor is shared between calls: callers must not write into it. It is
        computed afresh, not kept, while a graph is traced, exported or compiled. Arguments
        and result are those of :meth:`encode`.
        """
        if capturing_graph():
            return self.encode(height, width, device, dtype)
        key = (height, width, torch.device(device or 'cpu'), dtype)
        kept = self._kept.get(key)
        if kept is None:
            # A normal tensor even under inference_mode, so that training may use it later.
            with torch.inference_mode(False), torch.no_grad():
                kept = self.encode(height, width, device, dtype)
            self._kept[key] = kept
        return kept

    def encode(self,
               height: int,
               width: int,
               device: Optional[torch.device] = None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Computes the encoding of every cell of an (height, width) grid.

        Args:
            height: h, number of grid rows.
            width: w, number of grid columns.
            device: device of the result.
            dtype: dtype of the result (computed in float32).

        Returns:
            (2F, h, w) tensor; channels [0, F) encode the row, [F, 2F) the column.
        """
        if height < 1 or width < 1:
            raise ValueError(
                f'SinePositionalEncoding: grid must be at least 1 x 1, got {height} x {width}')
        rows = torch.arange(1, height + 1, dtype=torch.float32, device=device)
        cols = torch.arange(1, width + 1, dtype=torch.float32, device=device)
        if self.normalize:
            rows = rows / (rows[-1] + self.eps) * self.scale
            cols = cols / (cols[-1] + self.eps) * self.scale
        encoded_y = self._encode_axis(rows)  # (h, F)
        encoded_x = self._encode_axis(cols)  # (w, F)
        grid = torch.cat([
            encoded_y[:, None, :].expand(height, width, self.num_feats),
            encoded_x[None, :, :].expand(height, width, self.num_feats),
        ], dim=-1)  # (h, w, 2F)
        return grid.permute(2, 0, 1).to(dtype)

    def extra_repr(self) -> str:
        return (f'num_feats={self.num_feats}, temperature={self.temperature}, '
                f'normalize={self.normalize}, scale={self.scale}')
