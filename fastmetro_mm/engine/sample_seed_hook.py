"""``SampleSeedHook``: tells the datasets the seed and epoch their samples are augmented from.

A dataset with :class:`~fastmetro_mm.datasets.sample_seeding.PerSampleRandomness` (every
mesh dataset, ``MeshCombinedDataset``) draws a sample's augmentation from generators seeded
by ``(seed, epoch, index)`` once it knows the seed and epoch. This hook gives them the run's
seed (``runner.seed``) and the epoch before every training epoch, and epoch 0 before every
validation / test pass. The augmentation of a sample then depends neither on the number of
dataloader workers nor on which worker loads it, nor on whether the run was resumed: with
:class:`~fastmetro_mm.engine.ResumeStateHook`, a run killed and resumed with
``num_workers > 0`` ends with the weights of an uninterrupted run.

Wrapped datasets (``dataset.dataset`` / ``dataset.datasets`` of MMEngine's and MMPose's
wrappers) are searched; a training dataset with no such part is reported once, since its
augmentation then follows the worker generators.
"""
from __future__ import annotations

from typing import Any, List, Optional

from mmengine.hooks import Hook
from mmpose.registry import HOOKS


def seeded_parts(dataset: Any, _depth: int = 0) -> List[Any]:
    """The parts of ``dataset`` (itself, wrapped datasets) that take ``set_sample_seed``."""
    if dataset is None or _depth > 8:
        return []
    found = [dataset] if hasattr(dataset, 'set_sample_seed') else []
    inner = getattr(dataset, 'datasets', None)
    children: List[Any] = list(inner) if isinstance(inner, (list, tuple)) else []
    if getattr(dataset, 'dataset', None) is not None:
        children.append(dataset.dataset)
    for child in children:
        found.extend(seeded_parts(child, _depth + 1))
    return found


def _loader_dataset(loop: Any) -> Optional[Any]:
    loader = getattr(loop, 'dataloader', None)
    return None if loader is None else loader.dataset


@HOOKS.register_module()
class SampleSeedHook(Hook):
    """Sets the seed and epoch of the per-sample augmentation (see module doc).

    Add it to ``custom_hooks`` (``configs/_base_/default_runtime.py`` does). It takes no
    arguments.
    """

    # Before the loop asks the dataloader for the epoch's first batch, and before
    # ResumeStateHook (LOWEST) restores the generators.
    priority = 'NORMAL'

    def __init__(self) -> None:
        self._warned = False

    def before_train_epoch(self, runner) -> None:
        """Gives the training dataset(s) the run's seed and this epoch."""
        parts = seeded_parts(runner.train_dataloader.dataset)
        if not parts and not self._warned:
            self._warned = True
            runner.logger.warning(
                f'SampleSeedHook: the training dataset '
                f'({type(runner.train_dataloader.dataset).__name__}) has no set_sample_seed '
                '(fastmetro_mm.datasets.PerSampleRandomness): its augmentation is drawn from '
                'the dataloader workers\' generators, so a resumed run or another num_workers '
                'augments differently')
        for part in parts:
            part.set_sample_seed(runner.seed, runner.epoch)

    def before_val_epoch(self, runner) -> None:
        """Validation samples are drawn alike in every pass (epoch 0)."""
        self._set_eval(runner, runner.val_loop)

    def before_test_epoch(self, runner) -> None:
        """Test samples are drawn alike in every pass (epoch 0)."""
        self._set_eval(runner, runner.test_loop)

    @staticmethod
    def _set_eval(runner, loop: Any) -> None:
        for part in seeded_parts(_loader_dataset(loop)):
            part.set_sample_seed(runner.seed, 0)

