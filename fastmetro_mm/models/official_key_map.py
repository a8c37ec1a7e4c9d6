"""How the official FastMETRO state-dict keys map onto ``FastMETRONetwork``'s.

The official checkpoints (postech-ami/FastMETRO, released layout) name the network's
parameters as listed in the module-level dicts below; the parameter leaf (``weight``,
``bias``, ``in_proj_weight``...) and every shape are the same on both sides, so the mapping is
a pure rename. Keys of the CNN backbone (``backbone.*``) and of the optional SMPL parameter
regressor (``smpl_parameter_regressor.*``) are not part of the network and are refused here:
the checkpoint converter deals with them.

Only the 'release' layout has official weights; the 'paper' layout's shared
``reduce_encoder`` has no official counterpart.
"""
from __future__ import annotations

import re
from typing import Dict, Mapping

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
