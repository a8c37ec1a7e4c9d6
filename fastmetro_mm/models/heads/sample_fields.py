"""Reading a batch's ground truth and crop sizes out of MMPose data samples.

A mesh head's targets live in each ``PoseDataSample.gt_instances`` with a leading instance
axis of 1 (one person per top-down crop), as numpy arrays or tensors; these helpers stack
them into float32 batch tensors on the host, move them to the device in one copy, and say
which sample and key is wrong when one is.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor


def host_instance(sample: Any, key: str, index: int, owner: str) -> np.ndarray:
    """``sample.gt_instances.<key>`` as a float32 host array (a device tensor is read back).

    Raises:
        KeyError: naming the sample and the fields it has, if ``key`` is missing.
    """
    gt = sample.gt_instances
    if key not in gt:
        raise KeyError(f'{owner}: data sample {index} has no gt_instances.{key}; '
                       f'it has {sorted(gt.keys())}')
    value = gt.get(key)
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


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
    return torch.from_numpy(host_instance(sample, key, index, owner)).to(device)


def stack_instances(samples: Sequence[Any], key: str, shape: Tuple[int, ...],
                    owner: str = 'MeshHead') -> np.ndarray:
    """(B,) + shape float32 host array from each sample's (1,) + shape ``gt_instances.<key>``.

    Raises:
        KeyError: if a sample lacks the field.
        ValueError: naming the sample, the key and both shapes, if a shape differs.
    """
    values = []
    for index, sample in enumerate(samples):
        value = host_instance(sample, key, index, owner)
        if tuple(value.shape) != (1, ) + tuple(shape):
            raise ValueError(f'{owner}: data sample {index} gt_instances.{key} has '
                             f'shape {tuple(value.shape)}, expected {(1, ) + tuple(shape)}')
        values.append(value)
    return np.concatenate(values) if values else np.zeros((0, ) + tuple(shape), np.float32)


def to_device_at_once(arrays: Mapping[str, np.ndarray],
                      device: torch.device) -> Dict[str, Tensor]:
    """Moves host arrays to ``device`` in one copy (float32 views into one buffer).

    A training step's targets are a dozen small arrays per batch; one copy of their
    concatenation, from pinned memory and without blocking on a GPU, replaces a copy (and
    its launch latency) per array.

    Args:
        arrays: name -> float32 array of any shape.
        device: where the tensors go.

    Returns:
        name -> float32 tensor of the same shape on ``device``.
    """
    flat = np.concatenate([np.ascontiguousarray(a, np.float32).reshape(-1)
                           for a in arrays.values()]) if arrays else np.zeros(0, np.float32)
    buffer = torch.from_numpy(flat)
    if device.type == 'cuda':
        buffer = buffer.pin_memory().to(device, non_blocking=True)
    else:
        buffer = buffer.to(device)
    tensors, offset = {}, 0
    for name, array in arrays.items():
        tensors[name] = buffer[offset:offset + array.size].view(array.shape)
        offset += array.size
    return tensors


def gather_instances(samples: Sequence[Any], key: str, shape: Tuple[int, ...],
                     device: torch.device, owner: str = 'MeshHead') -> Tensor:
    """(B,) + shape from each sample's (1,) + shape ``gt_instances.<key>``, stacked on the
    host and copied once.

    Raises:
        KeyError: if a sample lacks the field.
        ValueError: naming the sample, the key and both shapes, if a shape differs.
    """
    return to_device_at_once({key: stack_instances(samples, key, shape, owner)}, device)[key]


def host_input_sizes(samples: Sequence[Any], owner: str = 'MeshHead') -> np.ndarray:
    """(B, 2) float32 model input (w, h) from each sample's ``metainfo['input_size']``.

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
    return np.stack(sizes)


def input_sizes(samples: Sequence[Any], device: torch.device,
                owner: str = 'MeshHead') -> Tensor:
    """(B, 2) model input (w, h) from each sample's ``metainfo['input_size']``, one copy.

    Raises:
        KeyError / ValueError: naming the sample whose input size is missing or not (w, h).
    """
    return to_device_at_once({'size': host_input_sizes(samples, owner)}, device)['size']
