"""Reading a batch's ground truth and crop sizes out of MMPose data samples.

A mesh head's targets live in each ``PoseDataSample.gt_instances`` with a leading instance
axis of 1 (one person per top-down crop), as numpy arrays or tensors; these helpers stack
them into float32 batch tensors and say which sample and key is wrong when one is.
"""
from __future__ import annotations

from typing import Any, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor


def instance_field(sample: Any, key: str, index: int, device: torch.device,
                   owner: str = 'MeshHead') -> Tensor:
    """``sample.gt_instances.<key>`` as a float32 tensor on ``device``.

    Args:
        sample: a data sample with ``gt_instances``.
        key: the field name.
        index: the sample's position in the batch (for messages).
        device: where the tensor goes.
        owner: the head named in error messages.

    Raises:
        KeyError: naming the sample and the fields it has, if ``key`` is missing.
    """
    gt = sample.gt_instances
    if key not in gt:
        raise KeyError(f'{owner}: data sample {index} has no gt_instances.{key}; '
                       f'it has {sorted(gt.keys())}')
    value = gt.get(key)
    if isinstance(value, Tensor):
        return value.to(device=device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(value, dtype=np.float32), device=device)


def gather_instances(samples: Sequence[Any], key: str, shape: Tuple[int, ...],
                     device: torch.device, owner: str = 'MeshHead') -> Tensor:
    """(B,) + shape from each sample's (1,) + shape ``gt_instances.<key>``.

    Raises:
        KeyError: if a sample lacks the field.
        ValueError: naming the sample, the key and both shapes, if a shape differs.
    """
    values = []
    for index, sample in enumerate(samples):
        value = instance_field(sample, key, index, device, owner)
        if tuple(value.shape) != (1, ) + tuple(shape):
            raise ValueError(f'{owner}: data sample {index} gt_instances.{key} has '
                             f'shape {tuple(value.shape)}, expected {(1, ) + tuple(shape)}')
        values.append(value)
    return torch.cat(values)


def input_sizes(samples: Sequence[Any], device: torch.device,
                owner: str = 'MeshHead') -> Tensor:
    """(B, 2) model input (w, h) from each sample's ``metainfo['input_size']``.

    Raises:
        KeyError / ValueError: naming the sample whose input size is missing or not (w, h).
    """
    sizes = []
    for index, sample in enumerate(samples):
        if 'input_size' not in sample.metainfo:
            raise KeyError(f'{owner}: data sample {index} has no '
                           "metainfo['input_size'] (w, h); MMPose's TopdownAffine sets it")
        size = np.asarray(sample.metainfo['input_size'], dtype=np.float32).reshape(-1)
        if size.shape != (2, ):
            raise ValueError(f'{owner}: data sample {index} input_size '
                             f'{sample.metainfo["input_size"]} is not (w, h)')
        sizes.append(size)
    return torch.as_tensor(np.stack(sizes), device=device)
