"""``MeshCombinedDataset``: MMPose's ``CombinedDataset`` with per-sample randomness.

MMPose's ``CombinedDataset`` runs its own pipeline over the samples of its sources, so the
per-sample seeding of the mesh datasets (:mod:`fastmetro_mm.datasets.sample_seeding`) has to
sit on it, not on the sources. Everything else is MMPose's class: use it where a config would
use ``type='CombinedDataset'`` (the body mixes in ``configs/_base_/datasets/`` do).
"""
from __future__ import annotations

from mmpose.datasets import CombinedDataset
from mmpose.registry import DATASETS

from .sample_seeding import PerSampleRandomness


@DATASETS.register_module()
class MeshCombinedDataset(PerSampleRandomness, CombinedDataset):
    """``CombinedDataset`` whose samples are augmented from ``(seed, epoch, index)``.

    Takes ``CombinedDataset``'s arguments (``metainfo``, ``datasets``, ``pipeline``,
    ``sample_ratio_factor``, ...); see the module docstring.
    """
