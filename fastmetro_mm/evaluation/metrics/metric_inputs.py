"""Reading :class:`MeshMetric`'s inputs: its mesh-type argument and the samples' fields.

The evaluator passes each sample as a dict (``PoseDataSample.to_dict()``) or as a data
element; its ``pred_instances`` / ``gt_instances`` hold numpy arrays or tensors with a leading
instance axis of 1 (one person per top-down crop).
"""
from __future__ import annotations

import warnings
from typing import Any, Optional, Tuple

import numpy as np
import torch
from mmengine.structures import BaseDataElement


def get_field(container: Any, key: str) -> Any:
    """``container[key]`` for a dict or a data element; None when absent."""
    if isinstance(container, BaseDataElement):
        return container.get(key, None)
    if isinstance(container, dict):
        return container.get(key)
    raise TypeError(f'MeshMetric: expected a dict or data element holding {key!r}, got '
                    f'{type(container).__name__}')


def instance_array(container: Any, key: str, where: str) -> Optional[np.ndarray]:
    """Field ``key`` of the one instance, its leading instance axis removed.

    Args:
        container: ``pred_instances`` or ``gt_instances`` (dict or data element), or None.
        key: the field name.
        where: the container's name, for the error message.

    Returns:
        The (...) field as float64 numpy (integers and bools keep their dtype), or None when
        absent.

    Raises:
        ValueError: naming ``where.key`` when the leading axis is not 1.
    """
    value = get_field(container, key) if container is not None else None
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    value = np.asarray(value)
    if value.ndim == 0 or value.shape[0] != 1:
        raise ValueError(f'MeshMetric: {where}.{key} must have a leading instance axis of 1, '
                         f'got shape {value.shape}')
    return value[0].astype(np.float64) if value.dtype.kind == 'f' else value[0]


def mesh_type_argument(mesh_type: Optional[str], mode: Optional[str]) -> Tuple[str, str]:
    """``(mesh_type, owner)`` for :func:`get_mesh_type` from the new and the deprecated name.

    ``mode=`` was this metric's name for ``mesh_type`` before the project settled on one
    vocabulary; user configs written with it keep working, with a warning.
    """
    if mode is None:
        return ('body' if mesh_type is None else mesh_type), 'MeshMetric'
    warnings.warn("MeshMetric: 'mode' is deprecated, use mesh_type="
                  f'{mode!r} (the same values)', DeprecationWarning, stacklevel=3)
    if mesh_type is not None and mesh_type != mode:
        raise ValueError(f'MeshMetric: mesh_type={mesh_type!r} and its deprecated alias '
                         f'mode={mode!r} disagree; give mesh_type only')
    return mode, 'MeshMetric (deprecated mode=)'
