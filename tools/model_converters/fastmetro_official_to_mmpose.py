"""Converts a released FastMETRO checkpoint into an MMPose checkpoint of this project.

Usage::

    python tools/model_converters/fastmetro_official_to_mmpose.py \\
        FastMETRO-L-H64_h36m_state_dict.bin work_dirs/fastmetro_l_h64_h36m.pth \\
        --config configs/official/fastmetro_l_h64_h36m_release.py

The released files (postech-ami/FastMETRO) hold ``model.state_dict()`` of the official model:
a backbone (torchvision's ResNet-50 or the HRNet-W64-C classifier), the network and, in one
release, GraphCMR's SMPL parameter regressor. One row of the tables below renames each key; no
tensor is reshaped or split, as the shapes agree. The target is the model of ``--config``
(built without initialising weights), so it must match the checkpoint: S-R50 or L-H64, body or
hand, with or without ``head.smpl_regressor`` (configs/official/ has one per release).

Strict: every official key is used once (the HRNet's ImageNet classifier is dropped, and
reported, when the neck has none), every model key is filled with a tensor of its shape and
loaded with ``strict=True``; otherwise every unused, missing or mis-shaped key is named and the
tool exits with status 1, writing nothing. Pickled ``nn.Module`` files (the official
``--model_save``) are refused. The output is written atomically and never replaces a file
unless ``--overwrite`` is given.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from torch import nn

import fastmetro_mm  # noqa: F401  (registers this project's modules)
from fastmetro_mm.mesh.atomic_file import atomic_write
from fastmetro_mm.version import __version__
from mmpose.registry import MODELS

# Key tables: (official key, our key) patterns. ``{rest}`` stands for the rest of the key and
# any other ``{name}`` for an index; rows are read both ways (official -> ours to convert,
# ours -> official to name what a missing key should have come from).
KeyTable = List[Tuple[str, str]]

#: torchvision ``nn.Sequential(*resnet50().children()[:-2])`` -> MMPose's ResNet; children 2
#: and 3 (ReLU, max-pool) hold no parameters, and inside the layers the names agree.
RESNET50_KEYS: KeyTable = [
    ('backbone.0.{rest}', 'backbone.conv1.{rest}'),
    ('backbone.1.{rest}', 'backbone.bn1.{rest}'),
    ('backbone.4.{rest}', 'backbone.layer1.{rest}'),
    ('backbone.5.{rest}', 'backbone.layer2.{rest}'),
    ('backbone.6.{rest}', 'backbone.layer3.{rest}'),
    ('backbone.7.{rest}', 'backbone.layer4.{rest}'),
]

#: HRNet-W64-C: the stem and stages keep their names in MMPose's HRNet; the classification
#: head becomes the HRNetClassificationNeck with the same inner names.
HRNET_W64_KEYS: KeyTable = [
    *[(f'backbone.{module}.{{rest}}', f'backbone.{module}.{{rest}}') for module in (
        'conv1', 'bn1', 'conv2', 'bn2', 'layer1', 'transition1', 'stage2', 'transition2',
        'stage3', 'transition3', 'stage4')],
    *[(f'backbone.{module}.{{rest}}', f'neck.{module}.{{rest}}') for module in (
        'incre_modules', 'downsamp_modules', 'final_layer', 'classifier')],
]

#: The network (FastMETRONetwork, layout='release') and GraphCMR's SMPL parameter regressor
#: as released: an input block (Linear, BN, ReLU), two residual blocks (Linear, BN, ReLU,
#: Linear, BN) and the output Linear.
HEAD_KEYS: KeyTable = [
    ('conv_1x1.{rest}', 'head.network.input_proj.{rest}'),
    ('cam_token_embed.{rest}', 'head.network.camera_token.{rest}'),
    ('joint_token_embed.{rest}', 'head.network.joint_tokens.{rest}'),
    ('vertex_token_embed.{rest}', 'head.network.vertex_tokens.{rest}'),
    ('dim_reduce_enc_cam.{rest}', 'head.network.reduce_camera.{rest}'),
    ('dim_reduce_enc_img.{rest}', 'head.network.reduce_image.{rest}'),
    ('dim_reduce_dec.{rest}', 'head.network.reduce_tokens.{rest}'),
    ('cam_predictor.{rest}', 'head.network.camera_head.{rest}'),
    ('xyz_regressor.{rest}', 'head.network.xyz_head.{rest}'),
    ('coarse2intermediate_upsample.{rest}', 'head.network.upsample_intermediate.{rest}'),
    ('transformer_{t}.encoder.norm.{rest}', 'head.network.transformer_{t}.encoder.norm.{rest}'),
    ('transformer_{t}.decoder.norm.{rest}', 'head.network.transformer_{t}.decoder.norm.{rest}'),
    *[(f'transformer_{{t}}.{stack}.layers.{{i}}.{theirs}.{{rest}}',
       f'head.network.transformer_{{t}}.{stack}.layers.{{i}}.{ours}.{{rest}}')
      for stack, theirs, ours in (
          ('encoder', 'self_attn', 'self_attn'),
          ('encoder', 'norm1', 'self_attn_norm'),
          ('encoder', 'norm2', 'ffn_norm'),
          ('encoder', 'linear1', 'ffn.fc_in'),
          ('encoder', 'linear2', 'ffn.fc_out'),
          ('decoder', 'self_attn', 'self_attn'),
          ('decoder', 'multihead_attn', 'cross_attn'),
          ('decoder', 'norm1', 'self_attn_norm'),
          ('decoder', 'norm2', 'cross_attn_norm'),
          ('decoder', 'norm3', 'ffn_norm'),
          ('decoder', 'linear1', 'ffn.fc_in'),
          ('decoder', 'linear2', 'ffn.fc_out'))],
    *[(f'smpl_parameter_regressor.regressor.{theirs}.{{rest}}',
       f'head.smpl_regressor.{ours}.{{rest}}') for theirs, ours in (
           ('0.fc_block.0', 'input_layer'), ('0.fc_block.1', 'input_norm'),
           ('1.fc_block.0', 'res_blocks.0.fc1'), ('1.fc_block.1', 'res_blocks.0.norm1'),
           ('1.fc_block.3', 'res_blocks.0.fc2'), ('1.fc_block.4', 'res_blocks.0.norm2'),
           ('2.fc_block.0', 'res_blocks.1.fc1'), ('2.fc_block.1', 'res_blocks.1.norm1'),
           ('2.fc_block.3', 'res_blocks.1.fc2'), ('2.fc_block.4', 'res_blocks.1.norm2'),
           ('3', 'output_layer'))],
]

BACKBONE_KEYS: Dict[str, KeyTable] = {'resnet50': RESNET50_KEYS, 'hrnet_w64': HRNET_W64_KEYS}
Shape = Tuple[int, ...]


class OfficialCheckpointError(ValueError):
    """An official checkpoint that cannot be converted strictly; the message is the report."""


@functools.lru_cache(maxsize=None)
def _regex(pattern: str) -> 're.Pattern[str]':
    """``'backbone.{i}.{rest}'`` -> a regex with one named group per placeholder."""
    pieces = re.split(r'\{(\w+)\}', pattern)  # literal, name, literal, name, ...
    return re.compile(''.join(
        re.escape(piece) if n % 2 == 0 else
        f'(?P<{piece}>.+)' if piece == 'rest' else f'(?P<{piece}>\\d+)'
        for n, piece in enumerate(pieces)) + r'\Z')


def rename(key: str, table: KeyTable, reverse: bool = False) -> Optional[str]:
    """The key the first matching row gives (ours -> official if ``reverse``); None if none."""
    for official, ours in table:
        source, target = (ours, official) if reverse else (official, ours)
        match = _regex(source).match(key)
        if match:
            return target.format(**match.groupdict())
    return None


def expected_official_key(target_key: str, backbone: str) -> Optional[str]:
    """The official key that should fill one of our keys, None for a key none fills."""
    return rename(target_key, BACKBONE_KEYS[backbone] + HEAD_KEYS, reverse=True)


def detect_backbone(keys: Sequence[str]) -> str:
    """``'resnet50'`` (numbered ``backbone.N.*`` keys) or ``'hrnet_w64'`` (``backbone.stage4.*``).

    Raises:
        OfficialCheckpointError: if the keys show neither backbone, or both.
    """
    kinds = {'hrnet_w64' if match.group(1) == 'stage4' else 'resnet50'
             for match in map(re.compile(r'backbone\.(\d+|stage4)\.').match, keys) if match}
    if len(kinds) != 1:
        raise OfficialCheckpointError(
            'cannot tell the official backbone: expected either torchvision ResNet-50 keys '
            '(backbone.0.weight, backbone.4.0.conv1.weight, ...) or HRNet-W64 keys '
            f'(backbone.stage4.*), found {"both" if kinds else "neither"}')
    return kinds.pop()


@dataclass
class ConversionResult:
    """Outcome of :func:`convert_state_dict`.

    Attributes:
        state_dict: our key -> official tensor (right shape), in the target's key order.
        backbone: the detected official backbone.
        unused: official key -> why it was not used.
        missing: target keys no official key filled, with the official key each expects.
        mismatched: (official key, our key, official shape, target shape).
        discarded: official keys dropped on purpose (the classifier the neck lacks).
        hints: likely causes, e.g. a config with another backbone.
        source: what was converted (the file name), for the report.
    """

    state_dict: Dict[str, torch.Tensor]
    backbone: str
    unused: Dict[str, str] = field(default_factory=dict)
    missing: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, str, Shape, Shape]] = field(default_factory=list)
    discarded: List[str] = field(default_factory=list)
    hints: List[str] = field(default_factory=list)
    source: str = 'official state dict'

    @property
    def ok(self) -> bool:
        """True when every official key is used (or discarded) and every target key filled."""
        return not (self.unused or self.missing or self.mismatched)

    def report(self) -> str:
        """A summary naming every problem key."""
        sections = {
            'unused source keys': [f'{key}: {why}' for key, why in self.unused.items()],
            'missing target keys': self.missing,
            'shape mismatches': [f'{src} {src_shape} -> {dst} {dst_shape} (expected)'
                                 for src, dst, src_shape, dst_shape in self.mismatched],
            'discarded source keys (not used by the target model)': self.discarded,
            'hints': self.hints}
        lines = [f'{self.source}: official checkpoint conversion ({self.backbone} backbone): '
                 f'{"OK" if self.ok else "FAILED"}, {len(self.state_dict)} target keys filled']
        for title, entries in sections.items():
            if entries:
                lines += [f'{title} ({len(entries)}):'] + [f'  {entry}' for entry in entries]
        return '\n'.join(lines)

    def raise_if_failed(self) -> None:
        """Raises :class:`OfficialCheckpointError` with the report unless :attr:`ok`."""
        if not self.ok:
            raise OfficialCheckpointError(self.report())


def convert_state_dict(source: Mapping[str, torch.Tensor],
                       target_shapes: Mapping[str, Sequence[int]],
                       source_name: str = 'official state dict') -> ConversionResult:
    """Maps an official state dict (no ``module.`` prefixes) onto every key of a target model
    (key -> shape, :func:`target_shapes_of`); check ``ok`` or call ``raise_if_failed()``.

    Raises:
        OfficialCheckpointError: if a value is not a tensor or the backbone is unclear.
    """
    for key, value in source.items():
        if not isinstance(value, torch.Tensor):
            raise OfficialCheckpointError(
                f'{source_name}: key {key!r} holds a {type(value).__name__}, expected a tensor')
    target = {key: tuple(int(size) for size in shape) for key, shape in target_shapes.items()}
    backbone = detect_backbone(list(source))
    result = ConversionResult(state_dict={}, backbone=backbone, source=source_name)
    table = BACKBONE_KEYS[backbone] + HEAD_KEYS
    has_classifier = any(key.startswith('neck.classifier.') for key in target)
    filled: Dict[str, str] = {}  # our key -> the official key that filled it
    for key, value in source.items():
        ours = rename(key, table)
        if ours is None:
            result.unused[key] = 'no mapping'
        elif ours.startswith('neck.classifier.') and not has_classifier:
            result.discarded.append(key)
        elif ours not in target:
            result.unused[key] = f'maps to {ours!r}, which the target model does not have'
        elif ours in filled:
            result.unused[key] = f'maps to {ours!r}, already filled from {filled[ours]!r}'
        else:
            filled[ours] = key
            if tuple(value.shape) == target[ours]:
                result.state_dict[ours] = value
            else:
                result.mismatched.append((key, ours, tuple(value.shape), target[ours]))
    for key in target:
        if key not in filled:
            official = expected_official_key(key, backbone)
            result.missing.append(
                key if official is None else f'{key} (from official {official!r})')
    # the target's key order, so that the written checkpoint reads like the model
    result.state_dict = {key: result.state_dict[key] for key in target if key in result.state_dict}
    if not result.ok:
        result.hints = _hints(source, target, backbone)
    return result


def _hints(source: Mapping[str, Any], target: Mapping[str, Shape], backbone: str) -> List[str]:
    """Explains whole-part mismatches between the checkpoint and the config."""
    target_neck = any(key.startswith('neck.') for key in target)
    source_smpl = any(key.startswith('smpl_parameter_regressor.') for key in source)
    target_smpl = any(key.startswith('head.smpl_regressor.') for key in target)
    hints = {
        'the checkpoint has an HRNet-W64 backbone but the target model has no neck.* keys: '
        'use an HRNet-W64 config (configs/_base_/models/backbone_hrnet_w64.py)':
        backbone == 'hrnet_w64' and not target_neck,
        'the checkpoint has a ResNet-50 backbone but the target model has a neck: use a '
        'ResNet-50 config (configs/_base_/models/backbone_r50.py)':
        backbone == 'resnet50' and target_neck,
        'the checkpoint has an SMPL parameter regressor but the target model has none '
        '(head.smpl_regressor); use a config with one, e.g. '
        'configs/official/fastmetro_l_h64_h36m_smpl_release.py': source_smpl and not target_smpl,
        'the checkpoint has no SMPL parameter regressor but the target model has one '
        '(head.smpl_regressor); use a config without it': target_smpl and not source_smpl}
    return [hint for hint, applies in hints.items() if applies]


def target_shapes_of(model: nn.Module) -> Dict[str, Shape]:
    """Key -> shape of a model's state dict, the target of a conversion."""
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def unwrap_state_dict(obj: Any, source: str) -> Dict[str, torch.Tensor]:
    """Finds the state dict in a loaded file (also under 'model' / 'state_dict') and strips
    DataParallel's ``module.`` prefix.

    Raises:
        OfficialCheckpointError: if no state dict is found, a value is not a tensor, or two
            keys coincide once ``module.`` is stripped.
    """
    while isinstance(obj, Mapping):
        nested = [key for key in ('model', 'state_dict') if isinstance(obj.get(key), Mapping)]
        if not nested:
            break
        obj = obj[nested[0]]
    if not isinstance(obj, Mapping):
        raise OfficialCheckpointError(f'{source}: expected a state dict (a mapping of names to '
                                      f'tensors), got {type(obj).__name__}')
    state_dict: Dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise OfficialCheckpointError(
                f'{source}: key {key!r} holds a {type(value).__name__}, expected a tensor '
                f'(top-level keys: {sorted(map(str, obj))[:10]})')
        plain = key[len('module.'):] if key.startswith('module.') else key
        if plain in state_dict:
            raise OfficialCheckpointError(f"{source}: key {key!r} and another key both give "
                                          f"{plain!r} once the 'module.' prefix is stripped")
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
    """torch.save so that ``path`` is never seen half-written (nor replaced unless
    ``overwrite``); raises FileExistsError if it exists and ``overwrite`` is False."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, overwrite=overwrite,
                      exists_hint='pass --overwrite to replace it') as stream:
        torch.save(dict(checkpoint), stream)


def convert_file(source: str, output: str, model: nn.Module, overwrite: bool = False,
                 meta: Optional[Dict[str, Any]] = None) -> ConversionResult:
    """Converts one official file for ``model``, loads it there strictly, then writes it.

    Raises:
        OfficialCheckpointError: if the file cannot be read or converted strictly (the
            message names the file and every problem key); nothing is written then.
        FileExistsError: if ``output`` exists and ``overwrite`` is False (checked when
            writing, so a file that appears meanwhile is kept too).
    """
    result = convert_state_dict(load_official_state_dict(source), target_shapes_of(model),
                                source_name=str(source))
    result.raise_if_failed()
    try:  # what the model itself accepts is the last word
        model.load_state_dict(result.state_dict, strict=True)
    except RuntimeError as exc:
        raise OfficialCheckpointError(
            f'{source}: the model refuses the converted keys: {exc}') from exc
    checkpoint_meta = {
        'converted_from': Path(source).name,
        'source_sha256': file_sha256(source),
        'official_backbone': result.backbone,
        'discarded_keys': list(result.discarded),
        'fastmetro_mm_version': __version__,
        'converter': 'tools/model_converters/fastmetro_official_to_mmpose.py',
        **(meta or {}),
    }
    state_dict = {key: value.contiguous() for key, value in result.state_dict.items()}
    write_checkpoint({'state_dict': state_dict, 'meta': checkpoint_meta}, output, overwrite)
    return result


def build_model(config: str, cfg_options: Optional[dict] = None) -> nn.Module:
    """The model of a config, built without initialising or downloading weights."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise OfficialCheckpointError(f'{config}: the config has no `model` to convert for')
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return MODELS.build(cfg.model)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status (0 written, 1 refused)."""
    parser = argparse.ArgumentParser(
        description="Convert a released FastMETRO checkpoint to this project's layout.")
    parser.add_argument('source', help='official checkpoint (.bin, a torch state dict)')
    parser.add_argument('output', help='mmengine checkpoint to write (.pth)')
    parser.add_argument('--config', required=True,
                        help='config whose model matches the checkpoint (gives the target keys)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config entries, key=value (as in MMPose tools)')
    parser.add_argument('--overwrite', action='store_true', help='replace OUTPUT if it exists')
    args = parser.parse_args(argv)
    try:
        for path in (args.source, args.config):  # before building the model, which is slow
            if not Path(path).is_file():
                raise OfficialCheckpointError(f'{path}: no such file')
        if Path(args.output).exists() and not args.overwrite:
            raise FileExistsError(f'{args.output} exists; pass --overwrite to replace it')
        result = convert_file(args.source, args.output,
                              build_model(args.config, args.cfg_options),
                              overwrite=args.overwrite, meta={'config': str(args.config)})
    except (OfficialCheckpointError, FileExistsError, FileNotFoundError) as exc:
        # FileNotFoundError: a data file the config names (hierarchy, body model) is missing
        print(f'{parser.prog}: {exc}', file=sys.stderr)
        return 1
    print(result.report())
    print(f'wrote {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
