"""Refusing a checkpoint that does not fit the model, instead of loading part of it.

MMEngine's ``load_checkpoint`` and the Runner's ``load_from`` load non-strictly: a checkpoint
of another model size or of the other mesh type (body into hand) loads whatever matches,
logs one warning and leaves the rest of the model at its random initialisation, so
``tools/test.py`` reports the metrics of a half-random model and a demo draws nonsense. Here
the checkpoint's state dict is compared with the model's first, and a mismatch raises
:class:`CheckpointMismatchError` naming the first keys and the counts of missing, unexpected
and shape-mismatched entries; a partial load stays possible on request (``strict=False`` of
:func:`fastmetro_mm.apis.init_model`, ``--allow-partial-load`` of the tools and demos).

:class:`CheckpointMatchHook` applies the check to the Runner's loading (``load_from``); its
``after_load_checkpoint`` runs after the file is read and before the weights go into the model.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict
from mmpose.registry import HOOKS

#: Key prefix a checkpoint saved from a DDP-wrapped model carries (stripped as MMEngine does).
_WRAPPER_PREFIX = re.compile(r'^module\.')
#: Keys named per kind in an error message.
SHOWN_KEYS = 5


class CheckpointMismatchError(ValueError):
    """A checkpoint's state dict does not fit the model (see :func:`check_state_dict`)."""


@dataclass
class StateDictMismatch:
    """How a checkpoint's state dict differs from a model's.

    Attributes:
        missing: model keys the checkpoint lacks.
        unexpected: checkpoint keys the model lacks.
        shapes: ``(key, checkpoint shape, model shape)`` of keys in both with other shapes.
    """

    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    shapes: List[Tuple[str, tuple, tuple]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shapes)

    def describe(self) -> str:
        """One line per kind of mismatch, each with the count and the first keys."""
        def first(keys: List[str]) -> str:
            more = f', ... ({len(keys) - SHOWN_KEYS} more)' if len(keys) > SHOWN_KEYS else ''
            return ', '.join(keys[:SHOWN_KEYS]) + more
        lines = []
        if self.missing:
            lines.append(f'{len(self.missing)} missing from the checkpoint: '
                         f'{first(self.missing)}')
        if self.unexpected:
            lines.append(f'{len(self.unexpected)} unexpected (not in the model): '
                         f'{first(self.unexpected)}')
        if self.shapes:
            shown = [f'{key} {list(saved)} in the checkpoint vs {list(mine)} in the model'
                     for key, saved, mine in self.shapes]
            lines.append(f'{len(self.shapes)} with another shape: {first(shown)}')
        return '\n  '.join(lines)


def checkpoint_state_dict(checkpoint: Mapping[str, Any]) -> Dict[str, Any]:
    """The weights of a loaded checkpoint (``state_dict``, or the dict itself), as MMEngine
    reads them: without the ``module.`` prefix of a DDP-wrapped model."""
    state_dict = checkpoint.get('state_dict', checkpoint)
    stripped = OrderedDict((_WRAPPER_PREFIX.sub('', key), value)
                           for key, value in state_dict.items())
    # Module versions (e.g. of BatchNorm) that _load_from_state_dict reads, as MMEngine keeps.
    stripped._metadata = getattr(state_dict, '_metadata', OrderedDict())  # type: ignore
    return stripped


def compare_state_dict(model: nn.Module, state_dict: Mapping[str, Any]) -> StateDictMismatch:
    """Compares ``state_dict`` with what ``model.load_state_dict(strict=True)`` expects."""
    expected = model.state_dict()
    mismatch = StateDictMismatch(
        missing=[key for key in expected if key not in state_dict],
        unexpected=[key for key in state_dict if key not in expected])
    for key, value in state_dict.items():
        shape = getattr(value, 'shape', None)
        if key in expected and shape is not None and tuple(shape) != tuple(
                expected[key].shape):
            mismatch.shapes.append((key, tuple(shape), tuple(expected[key].shape)))
    return mismatch


def check_state_dict(model: nn.Module, checkpoint: Mapping[str, Any], source: str,
                     allow_partial: bool, how_to_allow: str,
                     logger: Optional[Any] = None) -> StateDictMismatch:
    """Raises on a checkpoint that does not fit ``model``, unless a partial load is allowed.

    Args:
        model: the (unwrapped) model the checkpoint is for.
        checkpoint: the loaded checkpoint (with ``state_dict``) or a plain state dict.
        source: names the checkpoint in messages, e.g. ``'tools/test.py: checkpoint x.pth'``.
        allow_partial: only warn (through ``logger``, if given) instead of raising.
        how_to_allow: how the caller allows a partial load, for the error message.
        logger: MMEngine logger for the warning of an allowed partial load.

    Returns:
        The mismatch (empty when the checkpoint fits).

    Raises:
        CheckpointMismatchError: a mismatch and ``allow_partial`` False.
    """
    mismatch = compare_state_dict(model, checkpoint_state_dict(checkpoint))
    if not mismatch:
        return mismatch
    text = (f'{source} does not fit the model {type(model).__name__} '
            f'({len(model.state_dict())} tensors):\n  {mismatch.describe()}')
    if not allow_partial:
        raise CheckpointMismatchError(
            f'{text}\nIs it the checkpoint of this config (model size, body or hand)? '
            f'{how_to_allow} loads the matching part and leaves the rest as initialised.')
    if logger is not None:
        logger.warning(f'{text}\nLoading the matching part only (partial load allowed).')
    return mismatch


def load_matching_checkpoint(model: nn.Module, filename: str, strict: bool, source: str,
                             how_to_allow: str, logger: Optional[Any] = None) -> dict:
    """Reads a checkpoint file, checks it (:func:`check_state_dict`) and loads it.

    Args:
        model: the model to load into.
        filename: checkpoint path or URL (anything MMEngine's ``CheckpointLoader`` reads).
        strict: refuse a checkpoint that does not fit (False: load the matching part).
        source: names the caller, e.g. ``'init_model'``; the file name is added.
        how_to_allow: how the caller allows a partial load, for the error message.
        logger: MMEngine logger for mismatches of an allowed partial load.

    Returns:
        The loaded checkpoint dict (``meta`` holds e.g. ``dataset_meta``).
    """
    checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(f'{source}: {filename} holds a '
                                      f'{type(checkpoint).__name__}, expected a checkpoint '
                                      'dict or a state dict')
    check_state_dict(model, checkpoint, f'{source}: checkpoint {filename}',
                     allow_partial=not strict, how_to_allow=how_to_allow, logger=logger)
    load_state_dict(model, checkpoint_state_dict(checkpoint), strict=False, logger=logger)
    return checkpoint


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """Refuses a ``load_from`` checkpoint that does not fit the model (see module doc).

    ``tools/test.py`` adds it. On a resume (``--resume``) it checks as well: a resumed
    checkpoint of another model is as wrong.

    Args:
        source: names the checkpoint in messages (e.g. ``'tools/test.py: checkpoint x.pth'``).
        allow_partial: warn and load the matching part instead of raising.
        how_to_allow: how the user allows a partial load, for the error message.
    """

    priority = 'VERY_HIGH'  # before any other hook reads the checkpoint's contents

    def __init__(self, source: str = 'checkpoint', allow_partial: bool = False,
                 how_to_allow: str = '--allow-partial-load') -> None:
        self.source = source
        self.allow_partial = allow_partial
        self.how_to_allow = how_to_allow

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Compares the read checkpoint with the runner's (unwrapped) model."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_state_dict(model, checkpoint, self.source, self.allow_partial,
                         self.how_to_allow, logger=runner.logger)
