"""How the official FastMETRO state-dict keys map onto ``FastMETRONetwork``'s.

The official checkpoints (postech-ami/FastMETRO, released layout) name the network's
parameters as listed in the module-level dicts below; the parameter leaf (``weight``,
``bias``, ``in_proj_weight``...) and every shape are the same on both sides, so the mapping is
a pure rename. Keys of the CNN backbone (``backbone.*``) and of the optional SMPL parameter
regressor (``smpl_parameter_regressor.*``) are not part of the network and are refused by
:func:`official_to_ours`: the checkpoint converter deals with them, renaming the regressor's
with :func:`official_smpl_regressor_to_ours`.

Only the 'release' layout has official weights; the 'paper' layout's shared
``reduce_encoder`` has no official counterpart.
"""
from __future__ import annotations

import re
from typing import Dict, Mapping, Optional

import torch

#: Official top-level module -> this project's module (FastMETRONetwork, layout='release').
OFFICIAL_MODULE_MAP: Dict[str, str] = {
    'conv_1x1': 'input_proj',
    'cam_token_embed': 'camera_token',
    'joint_token_embed': 'joint_tokens',
    'vertex_token_embed': 'vertex_tokens',
    'dim_reduce_enc_cam': 'reduce_camera',
    'dim_reduce_enc_img': 'reduce_image',
    'dim_reduce_dec': 'reduce_tokens',
    'cam_predictor': 'camera_head',
    'xyz_regressor': 'xyz_head',
    'coarse2intermediate_upsample': 'upsample_intermediate',
}

#: Official module inside ``transformer_{1,2}.encoder.layers.{i}`` -> this project's.
OFFICIAL_ENCODER_LAYER_MAP: Dict[str, str] = {
    'self_attn': 'self_attn',
    'norm1': 'self_attn_norm',
    'norm2': 'ffn_norm',
    'linear1': 'ffn.fc_in',
    'linear2': 'ffn.fc_out',
}

#: Official module inside ``transformer_{1,2}.decoder.layers.{i}`` -> this project's.
OFFICIAL_DECODER_LAYER_MAP: Dict[str, str] = {
    'self_attn': 'self_attn',
    'multihead_attn': 'cross_attn',
    'norm1': 'self_attn_norm',
    'norm2': 'cross_attn_norm',
    'norm3': 'ffn_norm',
    'linear1': 'ffn.fc_in',
    'linear2': 'ffn.fc_out',
}

# transformer_{1,2}.{encoder,decoder}.norm keeps its name; the layer internals are renamed.
_STACK_NORM = re.compile(r'^(transformer_[12]\.(?:encoder|decoder)\.norm)\.(weight|bias)$')
_LAYER = re.compile(
    r'^(transformer_[12])\.(encoder|decoder)\.layers\.(\d+)\.([a-z_0-9]+)\.(.+)$')
_TOP = re.compile(r'^([a-z_0-9]+)\.(.+)$')
_NOT_NETWORK = ('backbone.', 'smpl_parameter_regressor.')

#: Official ``smpl_parameter_regressor.regressor.{i}.fc_block.{j}`` -> this project's
#: SMPLParameterRegressor module: block 0 is the input block (Linear, BatchNorm, ReLU), the
#: blocks after it the residual blocks (Linear, BatchNorm, ReLU, Linear, BatchNorm).
OFFICIAL_SMPL_INPUT_BLOCK_MAP: Dict[str, str] = {'0': 'input_layer', '1': 'input_norm'}
OFFICIAL_SMPL_RES_BLOCK_MAP: Dict[str, str] = {'0': 'fc1', '1': 'norm1', '3': 'fc2',
                                                '4': 'norm2'}
#: Index of the final Linear in the released regressor (input block + 2 residual blocks).
OFFICIAL_SMPL_OUTPUT_INDEX = 3
_SMPL_BLOCK = re.compile(r'^regressor\.(\d+)\.fc_block\.(\d+)\.([a-z_]+)$')
_SMPL_OUTPUT = re.compile(r'^regressor\.(\d+)\.(weight|bias)$')


def official_to_ours(key: str) -> str:
    """Renames one official FastMETRO network key to this project's.

    Example: ``transformer_1.decoder.layers.2.multihead_attn.in_proj_weight`` ->
    ``transformer_1.decoder.layers.2.cross_attn.in_proj_weight``.

    Args:
        key: an official state-dict key, without a ``module.`` prefix.

    Returns:
        The key of the same parameter in ``FastMETRONetwork(layout='release')``.

    Raises:
        KeyError: for backbone / SMPL-regressor keys and for any key not in the mapping.
    """
    if key.startswith(_NOT_NETWORK):
        raise KeyError(
            f'official key {key!r} belongs to the backbone or the SMPL parameter regressor, '
            'not to FastMETRONetwork; strip it before renaming')
    if _STACK_NORM.match(key):
        return key
    match = _LAYER.match(key)
    if match:
        transformer, stack, index, module, leaf = match.groups()
        table = OFFICIAL_ENCODER_LAYER_MAP if stack == 'encoder' else OFFICIAL_DECODER_LAYER_MAP
        if module not in table:
            raise KeyError(
                f'official key {key!r}: unknown {stack} layer module {module!r}; '
                f'expected one of {sorted(table)}')
        return f'{transformer}.{stack}.layers.{index}.{table[module]}.{leaf}'
    match = _TOP.match(key)
    if match and match.group(1) in OFFICIAL_MODULE_MAP:
        return f'{OFFICIAL_MODULE_MAP[match.group(1)]}.{match.group(2)}'
    raise KeyError(
        f'official key {key!r} is not a FastMETRO network parameter; expected a '
        f'transformer_{{1,2}} key or one of the modules {sorted(OFFICIAL_MODULE_MAP)}')


def official_smpl_regressor_to_ours(key: str) -> str:
    """Renames one key inside the official ``smpl_parameter_regressor`` module.

    Example: ``regressor.2.fc_block.3.weight`` -> ``res_blocks.1.fc2.weight``;
    ``regressor.3.bias`` -> ``output_layer.bias``.

    Args:
        key: the key without the ``smpl_parameter_regressor.`` prefix.

    Returns:
        The key in :class:`~fastmetro_mm.models.smpl_parameter_regressor.
        SMPLParameterRegressor`.

    Raises:
        KeyError: for a key outside the released layout.
    """
    match = _SMPL_BLOCK.match(key)
    if match:
        block, layer, leaf = match.groups()
        table = OFFICIAL_SMPL_INPUT_BLOCK_MAP if block == '0' else OFFICIAL_SMPL_RES_BLOCK_MAP
        if layer in table:
            prefix = '' if block == '0' else f'res_blocks.{int(block) - 1}.'
            return f'{prefix}{table[layer]}.{leaf}'
    match = _SMPL_OUTPUT.match(key)
    if match and int(match.group(1)) > 0:
        return f'output_layer.{match.group(2)}'
    raise KeyError(
        f'official SMPL regressor key {key!r}: expected regressor.0.fc_block.{{0,1}}.*, '
        'regressor.<i>.fc_block.{0,1,3,4}.* (residual blocks) or regressor.<last>.'
        '{weight,bias}')


def ours_to_official_smpl_regressor(key: str) -> Optional[str]:
    """Inverse of :func:`official_smpl_regressor_to_ours` for the released layout (for
    messages); None for a key the released regressor does not have."""
    module, _, leaf = key.rpartition('.')
    inverse_input = {ours: index for index, ours in OFFICIAL_SMPL_INPUT_BLOCK_MAP.items()}
    if module in inverse_input:
        return f'regressor.0.fc_block.{inverse_input[module]}.{leaf}'
    if module == 'output_layer':
        return f'regressor.{OFFICIAL_SMPL_OUTPUT_INDEX}.{leaf}'
    match = re.match(r'^res_blocks\.(\d+)\.([a-z0-9]+)$', module)
    inverse_res = {ours: index for index, ours in OFFICIAL_SMPL_RES_BLOCK_MAP.items()}
    if match and match.group(2) in inverse_res:
        return (f'regressor.{int(match.group(1)) + 1}.fc_block.'
                f'{inverse_res[match.group(2)]}.{leaf}')
    return None


def convert_official_network_state_dict(
        state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Renames every key of an official network state dict (backbone keys removed first).

    Args:
        state_dict: official keys -> tensors; a leading ``module.`` (DataParallel) is
            accepted.

    Returns:
        A new dict with this project's keys and the same tensors.

    Raises:
        KeyError: on any key the mapping does not know, and if two keys collide.
    """
    converted: Dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        plain = key[len('module.'):] if key.startswith('module.') else key
        new_key = official_to_ours(plain)
        if new_key in converted:
            raise KeyError(f'official keys map twice onto {new_key!r} (last from {key!r})')
        converted[new_key] = value
    return converted
