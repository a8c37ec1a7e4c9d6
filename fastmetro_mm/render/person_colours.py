"""The colours that tell the people of one image apart."""
from __future__ import annotations

import numpy as np

#: Distinct light colours (RGB in [0, 1]) for the people of an image, in order.
PERSON_COLOURS = np.array([
    [0.65, 0.74, 0.86],  # light blue (the colour METRO / FastMETRO render with)
    [0.93, 0.62, 0.62],  # pink
    [0.62, 0.86, 0.62],  # green
    [0.95, 0.82, 0.50],  # sand
    [0.78, 0.65, 0.90],  # lilac
    [0.55, 0.85, 0.85],  # cyan
])


def person_colour(index: int) -> np.ndarray:
    """(3,) RGB colour of the ``index``-th person (the palette repeats)."""
    return PERSON_COLOURS[index % len(PERSON_COLOURS)]
