"""Converts an official FastMETRO checkpoint (.bin) into an mmengine checkpoint for this project.

Usage::

    python tools/convert_official_checkpoint.py FastMETRO-L-H64_h36m_state_dict.bin \\
        work_dirs/fastmetro_l_h64_h36m.pth --config configs/<the matching config>.py

The target key set comes from building ``cfg.model`` (weights are not initialised or
downloaded), so the config must match the checkpoint: S-R50 or L-H64, body or hand, with or
without the SMPL parameter regressor (configs/official/fastmetro_l_h64_h36m_smpl_release.py
has it; its ``smpl_parameter_regressor.*`` keys go to ``head.smpl_regressor.*``). The
conversion is strict (see :mod:`fastmetro_mm.models.official_checkpoint`): any unused source
key, unfilled target key or shape mismatch is reported by name and the tool exits with status 1
without writing anything.
The output, ``{'state_dict': ..., 'meta': {...}}``, is written atomically; an existing file is
kept unless ``--overwrite`` is given. Official files saved as a pickled ``nn.Module`` (the
official ``--model_save``) are refused: save its ``state_dict()`` first.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import torch

from fastmetro_mm.mesh.atomic_file import atomic_write
from fastmetro_mm.models.official_checkpoint import (ConversionResult, OfficialCheckpointError,
                                                     convert_official_state_dict,
                                                     target_shapes_of)
from fastmetro_mm.version import __version__

#: Wrapper keys a training script may have nested the state dict under.
_NESTING_KEYS = ('model', 'state_dict')
_MODULE_PREFIX = 'module.'


def unwrap_state_dict(obj: Any, source: str) -> Dict[str, torch.Tensor]:
    """Finds the state dict in a loaded file and strips DataParallel's ``module.`` prefix.

    Args:
        obj: what ``torch.load`` returned.
        source: the file name, for messages.

    Returns:
        Official key -> tensor.

    Raises:
        OfficialCheckpointError: if no state dict is found, a value is not a tensor, or two
            keys coincide once ``module.`` is stripped.
    """
    for _ in range(len(_NESTING_KEYS) + 1):
        if not isinstance(obj, Mapping):
            raise OfficialCheckpointError(
                f'{source}: expected a state dict (a mapping of names to tensors), got '
                f'{type(obj).__name__}')
        nested = [key for key in _NESTING_KEYS
                  if key in obj and isinstance(obj[key], Mapping)]
        if not nested:
            break
        obj = obj[nested[0]]
    state_dict: Dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise OfficialCheckpointError(
                f'{source}: key {key!r} holds a {type(value).__name__}, expected a tensor '
                f'(top-level keys: {sorted(map(str, obj))[:10]})')
        plain = key[len(_MODULE_PREFIX):] if key.startswith(_MODULE_PREFIX) else key
        if plain in state_dict:
            raise OfficialCheckpointError(
                f'{source}: key {key!r} and another key both give {plain!r} once the '
                f'{_MODULE_PREFIX!r} prefix is stripped')
        state_dict[plain] = value
    if not state_dict:
        raise OfficialCheckpointError(f'{source}: the state dict is empty')
    return state_dict


def load_official_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Reads an official checkpoint with ``weights_only=True`` and unwraps its state dict."""
    try:
        loaded = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise OfficialCheckpointError(f'{path}: no such file') from None
    except Exception as exc:  # pickle / zip errors: say what the file probably is
        raise OfficialCheckpointError(
            f'{path}: not a plain state dict that loads with weights_only=True ({exc}). '
            'If it is a pickled nn.Module (the official --model_save), load it with the '
            'official code and torch.save(model.state_dict()) first') from exc
    return unwrap_state_dict(loaded, str(path))


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file, recorded in the output's meta."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(1 << 22), b''):
            digest.update(block)
    return digest.hexdigest()


def write_checkpoint(checkpoint: Mapping[str, Any], path: str, overwrite: bool = False) -> None:
    """Writes ``checkpoint`` with torch.save so that ``path`` is never seen half-written.

    The file is written beside ``path`` under a temporary name, flushed to disk, then linked
    (``overwrite=False``: fails if ``path`` exists by then) or renamed (``overwrite=True``)
    into place.

    Raises:
        FileExistsError: if ``path`` exists and ``overwrite`` is False.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target, overwrite=overwrite,
                      exists_hint='pass --overwrite to replace it') as stream:
        torch.save(dict(checkpoint), stream)


def convert_file(source: str, output: str, target_shapes: Mapping[str, Sequence[int]],
                 overwrite: bool = False,
                 meta: Optional[Dict[str, Any]] = None) -> ConversionResult:
    """Loads, converts strictly and writes one checkpoint.

    Args:
        source: the official ``.bin``.
        output: where to write the mmengine checkpoint.
        target_shapes: key -> shape of the target estimator's state dict.
        overwrite: replace an existing ``output``.
        meta: extra entries for the checkpoint's meta (e.g. the config path).

    Returns:
        The successful conversion result.

    Raises:
        OfficialCheckpointError: if the file cannot be read or converted strictly (the
            message is the full report); nothing is written then.
        FileExistsError: if ``output`` exists and ``overwrite`` is False.
    """
    if Path(output).exists() and not overwrite:  # fail before the slow part
        raise FileExistsError(f'{output} exists; pass --overwrite to replace it')
    result = convert_official_state_dict(load_official_state_dict(source), target_shapes)
    result.raise_if_failed()
    checkpoint_meta = {
        'converted_from': Path(source).name,
        'source_sha256': file_sha256(source),
        'official_backbone': result.backbone,
        'discarded_keys': list(result.discarded),
        'fastmetro_mm_version': __version__,
        'converter': 'tools/convert_official_checkpoint.py',
    }
    checkpoint_meta.update(meta or {})
    state_dict = {key: value.contiguous() for key, value in result.state_dict.items()}
    write_checkpoint({'state_dict': state_dict, 'meta': checkpoint_meta}, output, overwrite)
    return result


def build_target_shapes(config: str, cfg_options: Optional[dict] = None) -> Dict[str, tuple]:
    """Builds ``cfg.model`` (no weight initialisation) and returns its key -> shape."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import fastmetro_mm  # noqa: F401  (registers this project's modules)
    from mmpose.registry import MODELS

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{config}: the config has no `model` to build the target from')
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return target_shapes_of(MODELS.build(cfg.model))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        description='Convert an official FastMETRO checkpoint to this project\'s layout.')
    parser.add_argument('source', help='official checkpoint (.bin, a torch state dict)')
    parser.add_argument('output', help='mmengine checkpoint to write (.pth)')
    parser.add_argument('--config', required=True,
                        help='config whose model matches the checkpoint (gives the target keys)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config entries, key=value (as in MMPose tools)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace OUTPUT if it exists')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status (0 written, 1 refused)."""
    args = parse_args(argv)
    try:
        shapes = build_target_shapes(args.config, args.cfg_options)
        result = convert_file(args.source, args.output, shapes, overwrite=args.overwrite,
                              meta={'config': str(args.config)})
    except (OfficialCheckpointError, FileExistsError) as exc:
        print(f'convert_official_checkpoint: {exc}', file=sys.stderr)
        return 1
    print(result.report())
    print(f'wrote {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
