"""Short model names for :class:`MeshInferencer`: each with its config and checkpoint file.

The released FastMETRO checkpoints are converted once with
``tools/model_converters/fastmetro_official_to_mmpose.py`` (see the README), into the files
named here; the synthetic quickstart models are what ``make quickstart`` and
``make quickstart-hand`` train. Paths are relative to the repository root, where the configs
live; the configs' own data paths (body models) are relative to the working folder, so run
from the repository root or give ``cfg_options``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

#: The repository root (configs/, work_dirs/ and data/ are under it).
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ModelName:
    """What a short model name stands for.

    Attributes:
        config: config file, relative to the repository root.
        checkpoint: where the checkpoint is expected, relative to the repository root.
        mesh_type: 'body' or 'hand'.
        how_to_get: how to make the checkpoint file, for the error when it is missing.
    """

    config: str
    checkpoint: str
    mesh_type: str
    how_to_get: str


def _released(name: str, released_file: str, mesh_type: str) -> ModelName:
    config = f'configs/official/{name}_release.py'
    checkpoint = f'work_dirs/official/{name}.pth'
    return ModelName(config, checkpoint, mesh_type, (
        f'convert the released {released_file}: python '
        f'tools/model_converters/fastmetro_official_to_mmpose.py '
        f'models/fastmetro_checkpoint/{released_file} {checkpoint} --config {config}'))


#: Every short name, in the order the README lists the checkpoints.
MODEL_NAMES: Dict[str, ModelName] = {
    'fastmetro_l_h64_h36m': _released('fastmetro_l_h64_h36m',
                                      'FastMETRO-L-H64_h36m_state_dict.bin', 'body'),
    'fastmetro_l_h64_3dpw': _released('fastmetro_l_h64_3dpw',
                                      'FastMETRO-L-H64_3dpw_state_dict.bin', 'body'),
    'fastmetro_l_h64_freihand': _released('fastmetro_l_h64_freihand',
                                          'FastMETRO-L-H64_freihand_state_dict.bin', 'hand'),
    'fastmetro_l_h64_h36m_smpl': _released('fastmetro_l_h64_h36m_smpl',
                                           'FastMETRO-L-H64_smpl_h36m_state_dict.bin', 'body'),
    'fastmetro_s_r50_h36m': _released('fastmetro_s_r50_h36m',
                                      'S-R50 Human3.6M checkpoint (its state_dict.bin)',
                                      'body'),
    'quickstart': ModelName(
        'configs/quickstart/fastmetro_s_r18_synthetic_quickstart.py',
        'work_dirs/quickstart/epoch_{max_epochs}.pth', 'body',
        'train it on the synthetic body: make quickstart (about 15 minutes on a CPU)'),
    'quickstart_hand': ModelName(
        'configs/quickstart/fastmetro_s_r18_synthetic_hand_quickstart.py',
        'work_dirs/quickstart_hand/epoch_{max_epochs}.pth', 'hand',
        'train it on the synthetic hand: make quickstart-hand'),
}


def resolve_model_name(name: str, weights: Optional[str] = None) -> Tuple[Path, Path]:
    """The config file and checkpoint of a short model name.

    Args:
        name: a key of :data:`MODEL_NAMES`.
        weights: a checkpoint to use instead of the expected file.

    Returns:
        ``(config, checkpoint)`` paths.

    Raises:
        KeyError: an unknown name, listing the known ones.
        FileNotFoundError: the checkpoint is not where it is expected, saying how to make it
            and where to put it.
    """
    if name not in MODEL_NAMES:
        raise KeyError(f'MeshInferencer: {name!r} is neither a config file nor a model name; '
                       f'known names: {sorted(MODEL_NAMES)}')
    entry = MODEL_NAMES[name]
    config = REPO_ROOT / entry.config
    if not config.is_file():
        raise FileNotFoundError(f'MeshInferencer: the config of {name!r}, {config}, is missing '
                                '(the model names need a checkout of the repository)')
    if weights is not None:
        return config, Path(weights)
    checkpoint_name = entry.checkpoint
    if '{max_epochs}' in checkpoint_name:
        from mmengine.config import Config
        epochs = Config.fromfile(str(config)).train_cfg.max_epochs
        checkpoint_name = checkpoint_name.format(max_epochs=epochs)
    checkpoint = REPO_ROOT / checkpoint_name
    if not checkpoint.is_file():
        raise FileNotFoundError(f'MeshInferencer: no checkpoint for {name!r} at {checkpoint}; '
                                f'{entry.how_to_get}, or pass weights=CHECKPOINT')
    return config, checkpoint
