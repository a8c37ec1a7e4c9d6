"""``SPINNpzDataset``: SPIN's / MMPose 0.x's mesh annotation npz files (Human3.6M, 3DPW, UP-3D,
MuCo-3DHP, COCO, MPII, LSP, ...).

One row per person crop. Keys (N rows):

- ``imgname`` (N,) image path relative to the image folder (``data_prefix['img']``);
- ``center`` (N, 2) bbox centre, pixels; ``scale`` (N,) bbox side / 200 (SPIN's convention;
  converted here to a square bbox of ``200 * scale`` pixels);
- ``part`` (N, 24, 3) optional: J24 2D joints x, y (image pixels) and visibility;
- ``S`` (N, 24, 4) optional: J24 3D joints x, y, z (metres) and confidence;
- ``pose`` (N, 72) and ``shape`` (N, 10) optional: SMPL axis-angle pose and betas;
- ``has_smpl`` (N,) optional (default: 1 where ``pose`` exists); ``gender`` (N,) optional,
  ``'m'`` / ``'f'`` (others: neutral).

Other keys (``openpose``, ``maskname``, ``partname``, ...) are not used. The pipeline is
``LoadImage -> GetBBoxCenterScale(padding=1.0) -> ... -> MeshTopdownAffine -> PackMeshInputs``.
"""
from __future__ import annotations

import os.path as osp
from typing import Dict, List, Optional

import numpy as np
from mmpose.registry import DATASETS

from ..mesh.array_file import READ_ERRORS, open_npz
from ..mesh.gender import Gender
from .mesh_dataset import MeshDataset, make_mesh_sample, square_bbox

#: SPIN stores the bbox side divided by this.
SPIN_SCALE_UNIT = 200.0


def _optional(data: Dict[str, np.ndarray], key: str, shape: tuple, where: str,
              num: int, numeric: bool = True) -> Optional[np.ndarray]:
    """``data[key]`` checked against (num, *shape), or None when the file lacks the key."""
    if key not in data:
        return None
    value = np.asarray(data[key])
    if value.shape != (num, ) + shape:
        raise ValueError(f'{where}: key "{key}" has shape {value.shape}, expected '
                         f'{(num, ) + shape}')
    if numeric and not (np.issubdtype(value.dtype, np.number) or value.dtype == bool):
        raise ValueError(f'{where}: key "{key}" has dtype {value.dtype}, expected numbers')
    return value


def _image_name(name: object) -> str:
    """An ``imgname`` entry as text (files written by Python 2 / h5py store bytes)."""
    return name.decode('utf-8') if isinstance(name, bytes) else str(name)


@DATASETS.register_module()
class SPINNpzDataset(MeshDataset):
    """Reads a SPIN / MMPose 0.x mesh npz file; see the module docstring for its keys.

    Args:
        ann_file: the npz file.
        scale_unit: pixels per unit of ``scale`` (SPIN: 200).
        **kwargs: as :class:`MeshDataset` (``data_prefix=dict(img=...)`` is the folder the
            ``imgname`` entries are relative to).
    """

    def __init__(self, ann_file: str = '', scale_unit: float = SPIN_SCALE_UNIT,
                 **kwargs) -> None:
        if scale_unit <= 0:
            raise ValueError(f'SPINNpzDataset: scale_unit must be positive, got {scale_unit}')
        self.scale_unit = float(scale_unit)
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        """One sample per row of the npz file."""
        where = f'SPINNpzDataset({self.ann_file})'
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{where}: annotation file not found')
        with open_npz(self.ann_file, 'a SPIN annotation file (imgname, center, scale, ...)'
                      ) as npz:
            data = {}
            for key in npz.files:
                try:
                    data[key] = npz[key]
                except ValueError as err:
                    if 'pickle' not in str(err):
                        raise ValueError(f'{where}: key "{key}" cannot be read ({err})') from None
                    # Object arrays need pickle, which is not enabled for annotation files.
                    raise ValueError(f'{where}: key "{key}" cannot be read without pickle '
                                     f'({err}); store it as a numeric or string array') from None
                except READ_ERRORS as err:
                    raise ValueError(f'{where}: key "{key}" cannot be read (the file may be '
                                     f'truncated: {type(err).__name__}: {err})') from None
        for key in ('imgname', 'center', 'scale'):
            if key not in data:
                raise KeyError(f'{where}: missing key "{key}" (keys found: {sorted(data)})')
        names = np.asarray(data['imgname'])
        if names.ndim != 1:
            raise ValueError(f'{where}: key "imgname" has shape {names.shape}, expected (N,)')
        num = names.shape[0]
        if num == 0:
            raise ValueError(f'{where}: the file holds no samples (key "imgname" has 0 rows)')
        num_joints = self.num_joints
        center = _optional(data, 'center', (2, ), where, num)
        scale = np.asarray(data['scale'])
        if scale.shape == (num, 1):
            scale = scale[:, 0]
        if scale.shape != (num, ):
            raise ValueError(f'{where}: key "scale" has shape {scale.shape}, expected ({num},)')
        if not np.issubdtype(scale.dtype, np.number):
            raise ValueError(f'{where}: key "scale" has dtype {scale.dtype}, expected numbers')
        part = _optional(data, 'part', (num_joints, 3), where, num)
        joints_3d = _optional(data, 'S', (num_joints, 4), where, num)
        pose = _optional(data, 'pose', (72, ), where, num)
        betas = _optional(data, 'shape', (10, ), where, num)
        if (pose is None) != (betas is None):
            raise KeyError(f'{where}: has "{"pose" if betas is None else "shape"}" but not '
                           f'"{"shape" if betas is None else "pose"}"; SMPL needs both')
        has_smpl = _optional(data, 'has_smpl', (), where, num)
        if has_smpl is not None and pose is None and np.any(has_smpl):
            raise KeyError(f'{where}: has_smpl is set but the file has no "pose" / "shape"')
        gender = _optional(data, 'gender', (), where, num, numeric=False)

        data_list = []
        for i in range(num):
            label = f'{where}, sample {i}'
            if not np.isfinite(scale[i]) or scale[i] <= 0:
                raise ValueError(f'{label}, scale: must be a positive number, got {scale[i]}')
            if not np.isfinite(center[i]).all():
                raise ValueError(f'{label}, center: contains NaN or infinite values')
            with_smpl = pose is not None and (has_smpl is None or bool(has_smpl[i]))
            data_list.append(
                make_mesh_sample(
                    where=where,
                    index=i,
                    bbox=square_bbox(center[i], float(scale[i]) * self.scale_unit),
                    num_joints=num_joints,
                    keypoints=None if part is None else part[i],
                    joints_3d=None if joints_3d is None else joints_3d[i],
                    pose=pose[i] if with_smpl else None,
                    betas=betas[i] if with_smpl else None,
                    gender=Gender.parse(None if gender is None else gender[i],
                                        f'{label}, gender'),
                    img_path=osp.join(self.data_prefix.get('img', ''),
                                      _image_name(names[i]))))
        return data_list
