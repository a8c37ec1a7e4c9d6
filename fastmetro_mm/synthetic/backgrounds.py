"""Backgrounds of the synthetic images: solid colours, gradients and smooth colour noise."""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

#: Background kinds of :func:`sample_background`, in the order its random draw picks them.
BACKGROUND_KINDS = ('solid', 'gradient', 'noise')


def sample_background(rng: np.random.Generator, width: int, height: int,
                      kinds: Sequence[str] = BACKGROUND_KINDS) -> np.ndarray:
    """A solid colour, a linear gradient or smooth colour noise with grain.

    Args:
        rng: Random generator.
        width, height: Image size.
        kinds: The kinds to draw from, uniformly (a subset of :data:`BACKGROUND_KINDS`).

    Returns:
        (height, width, 3) uint8 image.
    """
    unknown = sorted(set(kinds) - set(BACKGROUND_KINDS))
    if not kinds or unknown:
        raise ValueError(f'sample_background: background kinds must be a non-empty subset of '
                         f'{BACKGROUND_KINDS}, got {tuple(kinds)}')
    kind = kinds[rng.integers(len(kinds))]
    if kind == 'solid':
        image = np.broadcast_to(rng.uniform(0, 255, size=3), (height, width, 3))
    elif kind == 'gradient':
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width]
        ramp = np.cos(angle) * xs / width + np.sin(angle) * ys / height
        ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-9)
        start, end = rng.uniform(0, 255, size=(2, 3))
        image = start + ramp[..., None] * (end - start)
    else:
        cells = rng.uniform(0, 255, size=(rng.integers(3, 9), rng.integers(3, 9), 3))
        image = _bilinear_resize(cells, height, width)
        image = image + rng.normal(0.0, rng.uniform(2, 12), size=image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _bilinear_resize(cells: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, C) grid stretched over (height, width, C) by bilinear interpolation.

    Separable (columns on the small grid first) so the full-size work is one blend.
    """
    def weights(num_cells: int, size: int) -> Tuple[np.ndarray, np.ndarray]:
        pos = np.linspace(0, num_cells - 1, size)
        start = np.minimum(np.floor(pos).astype(int), num_cells - 2)
        return start, pos - start

    x0, fx = weights(cells.shape[1], width)
    rows = cells[:, x0] * (1 - fx)[None, :, None] + cells[:, x0 + 1] * fx[None, :, None]
    y0, fy = weights(cells.shape[0], height)
    return rows[y0] * (1 - fy)[:, None, None] + rows[y0 + 1] * fy[:, None, None]
