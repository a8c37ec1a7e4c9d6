"""Official FastMETRO checkpoints -> this project's estimator state-dict layout.

The released checkpoints (postech-ami/FastMETRO, ``torch.save(model.state_dict())``) hold
three parts; each maps onto the estimator as follows:

- ``backbone.*``: ResNet-50 or HRNet-W64-C.
  - ResNet-50 (S-R50): torchvision's ``resnet50`` children without avgpool and fc, wrapped in
    ``nn.Sequential``, so the children are numbered: ``backbone.0`` conv1, ``backbone.1`` bn1
    (2 and 3 are ReLU and max-pool, without parameters), ``backbone.4..7`` layer1..layer4.
    MMPose's ResNet (depth 50, 'pytorch' style) names them ``conv1``, ``bn1``,
    ``layer1..layer4``; everything inside the layers is named alike.
  - HRNet-W64 (L-H64): stem, ``layer1``, ``transition1..3`` and ``stage2..4`` keep their
    names under MMPose's HRNet (``backbone.*``); the classification head
    (``incre_modules``, ``downsamp_modules``, ``final_layer``, ``classifier``) moves to the
    ``HRNetClassificationNeck`` (``neck.*``) with the same inner names. The ImageNet
    ``classifier`` is unused by FastMETRO: when the target neck is built without it, its two
    keys are discarded and reported as such.
- the network (``transformer_1.*``, ``conv_1x1.*``, ...): renamed by
  :func:`fastmetro_mm.models.official_key_map.convert_official_network_state_dict` and put
  under ``head.network.``.
- ``smpl_parameter_regressor.*`` (optional, GraphCMR's SMPL parameter regressor): moves to
  ``head.smpl_regressor.`` (:class:`SMPLParameterRegressor`), renamed by
  :func:`~fastmetro_mm.models.official_key_map.official_smpl_regressor_to_ours`
  (``regressor.0.fc_block.0`` -> ``input_layer``, ``regressor.1.fc_block.3`` ->
  ``res_blocks.0.fc2``, ``regressor.3`` -> ``output_layer``...).

The conversion is strict: every source key is used once, every target key is filled, every
shape matches; :class:`ConversionResult` lists what is not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from .official_key_map import (OFFICIAL_DECODER_LAYER_MAP, OFFICIAL_ENCODER_LAYER_MAP,
                               OFFICIAL_MODULE_MAP, convert_official_network_state_dict,
                               official_smpl_regressor_to_ours, official_to_ours,
                               ours_to_official_smpl_regressor)

BACKBONE_RESNET50 = 'resnet50'
BACKBONE_HRNET_W64 = 'hrnet_w64'

#: torchvision ``nn.Sequential(*resnet50.children()[:-2])`` index -> MMPose ResNet module.
OFFICIAL_RESNET50_CHILDREN: Dict[str, str] = {
    '0': 'conv1',
    '1': 'bn1',
    '4': 'layer1',
    '5': 'layer2',
    '6': 'layer3',
    '7': 'layer4',
}

#: Top-level modules of the official HRNet-W64-C that stay in MMPose's HRNet backbone.
HRNET_BACKBONE_MODULES: Tuple[str, ...] = (
    'conv1', 'bn1', 'conv2', 'bn2', 'layer1', 'transition1', 'stage2', 'transition2',
    'stage3', 'transition3', 'stage4')

#: Top-level modules of the official HRNet-W64-C that become the HRNetClassificationNeck.
HRNET_NECK_MODULES: Tuple[str, ...] = (
    'incre_modules', 'downsamp_modules', 'final_layer', 'classifier')

OFFICIAL_SMPL_REGRESSOR_PREFIX = 'smpl_parameter_regressor.'
SMPL_REGRESSOR_PREFIX = 'head.smpl_regressor.'
NETWORK_PREFIX = 'head.network.'
NECK_CLASSIFIER_PREFIX = 'neck.classifier.'

_RESNET_KEY = re.compile(r'^backbone\.(\d+)\.(.+)$')
_MODULE_KEY = re.compile(r'^backbone\.([a-z_0-9]+)\.(.+)$')

Shape = Tuple[int, ...]


class OfficialCheckpointError(ValueError):
    """An official checkpoint that cannot be converted strictly; the message is the report."""


def resnet50_key(key: str) -> str:
    """Maps an official ResNet-50 backbone key onto MMPose's ResNet (with ``backbone.``).

    Example: ``backbone.4.0.downsample.1.running_var`` ->
    ``backbone.layer1.0.downsample.1.running_var``.

    Raises:
        KeyError: for a key outside the numbered children 0, 1, 4..7.
    """
    match = _RESNET_KEY.match(key)
    if not match or match.group(1) not in OFFICIAL_RESNET50_CHILDREN:
        raise KeyError(
            f'official ResNet-50 key {key!r}: expected backbone.<child>.* with child one of '
            f'{sorted(OFFICIAL_RESNET50_CHILDREN)} (torchvision resnet50 children)')
    return f'backbone.{OFFICIAL_RESNET50_CHILDREN[match.group(1)]}.{match.group(2)}'


def hrnet_w64_key(key: str) -> str:
    """Maps an official HRNet-W64-C backbone key onto MMPose's HRNet + the neck.

    Examples: ``backbone.stage4.2.fuse_layers.3.0.0.0.weight`` keeps its name;
    ``backbone.incre_modules.0.0.conv1.weight`` -> ``neck.incre_modules.0.0.conv1.weight``.

    Raises:
        KeyError: for a module the classification HRNet does not have.
    """
    match = _MODULE_KEY.match(key)
    module = match.group(1) if match else None
    if module in HRNET_BACKBONE_MODULES:
        return key
    if module in HRNET_NECK_MODULES:
        return f'neck.{key[len("backbone."):]}'
    raise KeyError(
        f'official HRNet-W64 key {key!r}: expected backbone.<module>.* with module one of '
        f'{list(HRNET_BACKBONE_MODULES + HRNET_NECK_MODULES)}')


def smpl_regressor_key(key: str) -> str:
    """``smpl_parameter_regressor.regressor.1.fc_block.0.weight`` ->
    ``head.smpl_regressor.res_blocks.0.fc1.weight`` (see the key map).

    Raises:
        KeyError: for a key without the prefix or outside the released layout.
    """
    if not key.startswith(OFFICIAL_SMPL_REGRESSOR_PREFIX):
        raise KeyError(f'{key!r} is not an official SMPL parameter regressor key '
                       f'(expected the prefix {OFFICIAL_SMPL_REGRESSOR_PREFIX!r})')
    return SMPL_REGRESSOR_PREFIX + official_smpl_regressor_to_ours(
        key[len(OFFICIAL_SMPL_REGRESSOR_PREFIX):])


BACKBONE_KEY_MAPS: Dict[str, Callable[[str], str]] = {
    BACKBONE_RESNET50: resnet50_key,
    BACKBONE_HRNET_W64: hrnet_w64_key,
}


def detect_backbone(keys: Sequence[str]) -> str:
    """Tells ResNet-50 from HRNet-W64 by the official backbone key names.

    Returns:
        ``'resnet50'`` (numbered ``backbone.N.*`` children) or ``'hrnet_w64'``
        (``backbone.stage4.*``).

    Raises:
        OfficialCheckpointError: if there are no backbone keys, or both kinds.
    """
    backbone_keys = [key for key in keys if key.startswith('backbone.')]
    numbered = any(_RESNET_KEY.match(key) for key in backbone_keys)
    hrnet = any(key.startswith('backbone.stage4.') for key in backbone_keys)
    if numbered == hrnet:
        found = 'both numbered and stage4 keys' if numbered else \
            f'{len(backbone_keys)} backbone keys, none of either kind'
        raise OfficialCheckpointError(
            'cannot tell the official backbone: expected either torchvision ResNet-50 keys '
            '(backbone.0.weight, backbone.4.0.conv1.weight, ...) or HRNet-W64 keys '
            f'(backbone.stage4.*), found {found}')
    return BACKBONE_RESNET50 if numbered else BACKBONE_HRNET_W64


@dataclass
class ConversionResult:
    """Outcome of :func:`convert_official_state_dict`.

    Attributes:
        state_dict: target key -> tensor for every source key that mapped onto a target key
            of the same shape.
        backbone: the detected official backbone.
        unused: source key -> why it was not used (no mapping, no such target key, or a
            second source key for the same target).
        missing: target keys that no source key filled, each with the official key it
            expects where there is one.
        mismatched: (source key, target key, source shape, target shape).
        discarded: source keys deliberately dropped (the ImageNet classifier when the
            target neck has none).
        hints: likely causes, e.g. a config with a different backbone.
    """

    state_dict: Dict[str, torch.Tensor]
    backbone: str
    unused: Dict[str, str] = field(default_factory=dict)
    missing: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, str, Shape, Shape]] = field(default_factory=list)
    discarded: List[str] = field(default_factory=list)
    hints: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every source key is used (or discarded) and every target key filled."""
        return not (self.unused or self.missing or self.mismatched)

    def report(self, max_listed: int = 50) -> str:
        """A readable summary naming every problem key (at most ``max_listed`` per kind)."""
        lines = [f'official checkpoint conversion ({self.backbone} backbone): '
                 f'{"OK" if self.ok else "FAILED"}, {len(self.state_dict)} target keys filled']

        def section(title: str, entries: List[str]) -> None:
            if not entries:
                return
            lines.append(f'{title} ({len(entries)}):')
            lines.extend(f'  {entry}' for entry in entries[:max_listed])
            if len(entries) > max_listed:
                lines.append(f'  ... and {len(entries) - max_listed} more')

        section('unused source keys', [f'{key}: {why}' for key, why in self.unused.items()])
        section('missing target keys', list(self.missing))
        section('shape mismatches', [
            f'{src} {src_shape} -> {dst} {dst_shape} (expected)'
            for src, dst, src_shape, dst_shape in self.mismatched])
        section('discarded source keys (not used by the target model)', list(self.discarded))
        section('hints', list(self.hints))
        return '\n'.join(lines)

    def raise_if_failed(self) -> None:
        """Raises :class:`OfficialCheckpointError` with the report unless :attr:`ok`."""
        if not self.ok:
            raise OfficialCheckpointError(self.report())


def _target_key(key: str, backbone: str) -> str:
    """Maps one official non-network key; network keys are handled in bulk."""
    if key.startswith('backbone.'):
        return BACKBONE_KEY_MAPS[backbone](key)
    return smpl_regressor_key(key)


def _hints(source: Mapping[str, torch.Tensor], target: Mapping[str, Shape],
           backbone: str) -> List[str]:
    """Explains whole-part mismatches between the checkpoint and the target model."""
    hints = []
    target_neck = any(key.startswith('neck.') for key in target)
    if backbone == BACKBONE_HRNET_W64 and not target_neck:
        hints.append('the checkpoint has an HRNet-W64 backbone but the target model has no '
                     'neck.* keys: build it from an HRNet-W64 config '
                     '(configs/_base_/models/backbone_hrnet_w64.py)')
    if backbone == BACKBONE_RESNET50 and target_neck:
        hints.append('the checkpoint has a ResNet-50 backbone but the target model has a '
                     'neck: build it from a ResNet-50 config '
                     '(configs/_base_/models/backbone_r50.py)')
    source_smpl = any(key.startswith(OFFICIAL_SMPL_REGRESSOR_PREFIX) for key in source)
    target_smpl = any(key.startswith(SMPL_REGRESSOR_PREFIX) for key in target)
    if source_smpl != target_smpl:
        hints.append('the checkpoint has ' + ('an' if source_smpl else 'no') +
                     ' SMPL parameter regressor but the target model has ' +
                     ('none' if source_smpl else 'one') + ' (head.smpl_regressor); use '
                     + ('a config with model.head.smpl_regressor=dict(), e.g. '
                        'configs/official/fastmetro_l_h64_h36m_smpl_release.py'
                        if source_smpl else 'a config without model.head.smpl_regressor'))
    return hints


def convert_official_state_dict(source: Mapping[str, torch.Tensor],
                                target_shapes: Mapping[str, Sequence[int]]
                                ) -> ConversionResult:
    """Maps an official FastMETRO state dict onto a target estimator's key set.

    Args:
        source: official keys -> tensors, without ``module.`` prefixes (the converter
            tool unwraps and strips them when it reads the file).
        target_shapes: every key of the target estimator's state dict -> its shape; see
            :func:`target_shapes_of`.

    Returns:
        The result; check :attr:`ConversionResult.ok` or call ``raise_if_failed()``.

    Raises:
        OfficialCheckpointError: if the backbone cannot be detected, a value is not a
            tensor, or two network keys are renamed onto the same key.
    """
    for key, value in source.items():
        if not isinstance(value, torch.Tensor):
            raise OfficialCheckpointError(
                f'official checkpoint key {key!r} holds a {type(value).__name__}, '
                'expected a tensor')
    target = {key: tuple(int(s) for s in shape) for key, shape in target_shapes.items()}
    backbone = detect_backbone(list(source))
    result = ConversionResult(state_dict={}, backbone=backbone)
    has_classifier = any(key.startswith(NECK_CLASSIFIER_PREFIX) for key in target)

    mapped: List[Tuple[str, str]] = []  # (source key, target key)
    network: Dict[str, torch.Tensor] = {}
    network_source: Dict[str, str] = {}  # our network key -> official key
    for key in source:
        try:
            if key.startswith(('backbone.', OFFICIAL_SMPL_REGRESSOR_PREFIX)):
                mapped.append((key, _target_key(key, backbone)))
            else:
                network_source[official_to_ours(key)] = key
                network[key] = source[key]
        except KeyError as exc:
            result.unused[key] = f'no mapping ({exc.args[0]})'
    try:
        renamed = convert_official_network_state_dict(network)
    except KeyError as exc:  # two official keys renamed onto one
        raise OfficialCheckpointError(str(exc.args[0])) from exc
    for ours in renamed:
        mapped.append((network_source[ours], NETWORK_PREFIX + ours))

    filled: Dict[str, str] = {}
    for src, dst in mapped:
        if dst.startswith(NECK_CLASSIFIER_PREFIX) and not has_classifier:
            result.discarded.append(src)
        elif dst not in target:
            result.unused[src] = f'maps to {dst!r}, which the target model does not have'
        elif dst in filled:
            result.unused[src] = f'maps to {dst!r}, already filled from {filled[dst]!r}'
        elif tuple(source[src].shape) != target[dst]:
            filled[dst] = src
            result.mismatched.append((src, dst, tuple(source[src].shape), target[dst]))
        else:
            filled[dst] = src
            result.state_dict[dst] = source[src]
    for key in target:
        if key not in filled:
            official = expected_official_key(key, backbone)
            result.missing.append(key if official is None else
                                  f'{key} (from official {official!r})')
    # the target's key order, so the written checkpoint reads like the model
    result.state_dict = {key: result.state_dict[key] for key in target
                         if key in result.state_dict}
    if not result.ok:
        result.hints = _hints(source, target, backbone)
    return result


def target_shapes_of(model: torch.nn.Module,
                     skip_prefixes: Sequence[str] = ('data_preprocessor.',)
                     ) -> Dict[str, Shape]:
    """Key -> shape of a model's state dict, the target of a conversion.

    Args:
        model: the estimator (or any module with the same keys).
        skip_prefixes: keys set by the config rather than by a checkpoint (MMPose's
            estimators drop ``data_preprocessor.mean/std`` when loading).
    """
    return {key: tuple(value.shape) for key, value in model.state_dict().items()
            if not key.startswith(tuple(skip_prefixes))}


def expected_official_key(target_key: str, backbone: str) -> Optional[str]:
    """The official key that should fill a target key (inverse of the mappings; for messages).

    Args:
        target_key: a key of the estimator's state dict.
        backbone: ``'resnet50'`` or ``'hrnet_w64'``.

    Returns:
        The official key, or None for a key no official checkpoint holds.
    """
    if target_key.startswith(SMPL_REGRESSOR_PREFIX):
        official = ours_to_official_smpl_regressor(target_key[len(SMPL_REGRESSOR_PREFIX):])
        return None if official is None else OFFICIAL_SMPL_REGRESSOR_PREFIX + official
    if target_key.startswith(NETWORK_PREFIX):
        return _official_network_key(target_key[len(NETWORK_PREFIX):])
    if target_key.startswith('neck.'):
        return 'backbone.' + target_key[len('neck.'):] if backbone == BACKBONE_HRNET_W64 \
            else None
    if target_key.startswith('backbone.'):
        if backbone == BACKBONE_HRNET_W64:
            return target_key
        module, _, rest = target_key[len('backbone.'):].partition('.')
        inverse = {ours: index for index, ours in OFFICIAL_RESNET50_CHILDREN.items()}
        return f'backbone.{inverse[module]}.{rest}' if module in inverse else None
    return None


def _official_network_key(ours: str) -> Optional[str]:
    """Inverse of :func:`official_to_ours` for one FastMETRONetwork key (None if unknown)."""
    layer = re.match(r'^(transformer_[12]\.(encoder|decoder)\.layers\.\d+)\.(.+)$', ours)
    if layer:
        head, stack, rest = layer.groups()
        table = OFFICIAL_ENCODER_LAYER_MAP if stack == 'encoder' else OFFICIAL_DECODER_LAYER_MAP
        for theirs, mine in table.items():
            if rest.startswith(mine + '.'):
                return f'{head}.{theirs}.{rest[len(mine) + 1:]}'
        return None
    if ours.startswith('transformer_'):
        return ours  # the stack norms keep their names
    module, _, rest = ours.partition('.')
    for theirs, mine in OFFICIAL_MODULE_MAP.items():
        if module == mine:
            return f'{theirs}.{rest}'
    return None
