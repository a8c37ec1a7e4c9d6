"""The train and test splits of a synthetic dataset and their random streams."""
from __future__ import annotations

import numpy as np

SPLITS = ('train', 'test')


def split_rng(seed: int, split: str) -> np.random.Generator:
    """Independent stream per split, so the number of training images does not change the
    test set."""
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split)]))


def prototype_rng(seed: int) -> np.random.Generator:
    """The stream of the pose prototypes: its own, so that both splits share them."""
    return np.random.default_rng(np.random.SeedSequence([seed, len(SPLITS)]))
