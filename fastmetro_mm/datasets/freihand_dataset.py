"""``FreiHANDMeshDataset``: FreiHAND's own release, read as a MANO-21 hand mesh dataset.

Layout under ``data_root`` for a split ``S`` (``training`` or ``evaluation``):

- ``S/rgb/%08d.jpg`` images. The training split holds several versions of each annotated
  image (different backgrounds): image i uses annotation ``i % N``; the number of versions is
  found from the files present;
- ``S_xyz.json`` (N, 21, 3) joints in camera coordinates, metres, FreiHAND's joint order
  (wrist, then thumb, index, middle, ring, pinky, base to tip), which is the order of
  ``fastmetro_mm.mesh.joint_sets.MANO_21``, so no reordering is needed;
- ``S_K.json`` (N, 3, 3) camera intrinsics;
- ``S_mano.json`` optional, (N, 1, 61): MANO pose (48, axis-angle, global rotation first),
  shape (10), then 3 values that are not used here (FreiHAND's utilities split them as the
  root's image position (2) and a scale (1));
- ``S_verts.json`` optional, (N, 778, 3) metres, read only with ``load_vertices=True``.

Each sample's 2D joints are the 3D joints projected with K, all visible. Its bbox is the tight
box of those projections (add context with ``GetBBoxCenterScale(padding=...)``), or, with
``full_image_size=(224, 224)``, the whole image: FreiHAND's images are 224 x 224 crops around
the hand, which the released FastMETRO hand demo feeds whole. Samples also carry
``camera_intrinsics`` (3, 3), which no transform moves (it describes the original image), and,
with ``load_vertices``, ``vertices``, which ``PackMeshInputs`` packs for ``MeshMetric`` (they
rotate with ``MeshRandomScaleRotation``; load them for evaluation). Hands are right hands: do
not use ``MeshRandomFlip`` (it raises on ``mano_pose``). Pipeline: ``LoadImage ->
GetBBoxCenterScale -> ... -> MeshTopdownAffine -> PackMeshInputs(pose_dim=48)``.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Any, List, Optional, Sequence

import numpy as np
from mmpose.registry import DATASETS

from .mesh_dataset import MeshDataset, checked_array, make_mesh_sample
from .metainfo import MANO21_HAND_METAINFO

#: Length of one FreiHAND MANO parameter vector: pose 48, shape 10, and 3 unused values.
FREIHAND_MANO_PARAMS = 61
#: Number of MANO vertices.
MANO_NUM_VERTICES = 778
SPLITS = ('training', 'evaluation')


def _read_json(path: str, required: bool) -> Optional[list]:
    """The list stored in a FreiHAND json file (None when optional and absent)."""
    if not osp.isfile(path):
        if required:
            raise FileNotFoundError(f'FreiHANDMeshDataset: {path} does not exist')
        return None
    with open(path) as f:
        try:
            value = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'FreiHANDMeshDataset: {path} is not valid JSON ({err})') from None
    if not isinstance(value, list):
        raise ValueError(f'FreiHANDMeshDataset: {path} must hold a list (one entry per '
                         f'sample), got {type(value).__name__}')
    return value


def project(points: np.ndarray, intrinsics: np.ndarray, where: str) -> np.ndarray:
    """(K, 2) pixel positions of camera-frame points (K, 3) under intrinsics (3, 3)."""
    homogeneous = points @ intrinsics.T  # (K, 3)
    depth = homogeneous[:, 2:]
    if np.any(depth <= 0):
        raise ValueError(f'{where}: joints at or behind the camera (z <= 0) cannot be '
                         'projected')
    return homogeneous[:, :2] / depth


@DATASETS.register_module()
class FreiHANDMeshDataset(MeshDataset):
    """Reads FreiHAND's release; see the module docstring.

    Args:
        split: ``'training'`` or ``'evaluation'``; names the folder and the json files.
        data_root: the FreiHAND folder.
        load_vertices: also read ``S_verts.json`` into ``vertices`` (1, 778, 3) metres.
        full_image_size: (w, h) of every image; when given, each bbox is the whole image
            instead of the tight box of the projected joints.
        **kwargs: as :class:`MeshDataset` (``ann_file`` defaults to ``S_xyz.json`` and
            ``data_prefix`` to ``dict(img='S/rgb')``; ``metainfo`` to the MANO-21 meta).
    """

    METAINFO: dict = dict(from_file=MANO21_HAND_METAINFO)

    def __init__(self, split: str = 'training', data_root: Optional[str] = None,
                 load_vertices: bool = False,
                 full_image_size: Optional[Sequence[int]] = None, **kwargs: Any) -> None:
        if split not in SPLITS:
            raise ValueError(f'FreiHANDMeshDataset: split must be one of {SPLITS}, got '
                             f'{split!r}')
        if full_image_size is not None:
            full_image_size = tuple(float(v) for v in full_image_size)
            if len(full_image_size) != 2 or min(full_image_size) <= 0:
                raise ValueError(f'FreiHANDMeshDataset: full_image_size must be a positive '
                                 f'(w, h), got {full_image_size}')
        self.full_image_size = full_image_size
        self.split = split
        self.load_vertices = load_vertices
        kwargs.setdefault('ann_file', f'{split}_xyz.json')
        kwargs.setdefault('data_prefix', dict(img=osp.join(split, 'rgb')))
        super().__init__(data_root=data_root, **kwargs)

    def _count_versions(self, num: int) -> int:
        """How many image versions per annotation the rgb folder holds (at least 1)."""
        folder = self.data_prefix.get('img', '')
        first = osp.join(folder, f'{0:08d}.jpg')
        if not osp.isfile(first):
            raise FileNotFoundError(f'FreiHANDMeshDataset: image {first} does not exist')
        versions = 1
        while osp.isfile(osp.join(folder, f'{versions * num:08d}.jpg')):
            versions += 1
        return versions

    def load_data_list(self) -> List[dict]:
        """One sample per image; the annotations repeat for every image version."""
        base = osp.dirname(self.ann_file)
        xyz = _read_json(self.ann_file, required=True)
        num = len(xyz)
        ann = dict(
            K=_read_json(osp.join(base, f'{self.split}_K.json'), required=True),
            mano=_read_json(osp.join(base, f'{self.split}_mano.json'), required=False),
            verts=(_read_json(osp.join(base, f'{self.split}_verts.json'), required=True)
                   if self.load_vertices else None))
        for name, value in ann.items():
            if value is not None and len(value) != num:
                raise ValueError(f'FreiHANDMeshDataset: {self.split}_{name}.json has '
                                 f'{len(value)} entries but {self.ann_file} has {num}')
        num_joints = self.num_joints
        samples = []
        for i in range(num):
            where = f'FreiHANDMeshDataset({base}), {self.split} sample {i}'
            joints = checked_array(xyz[i], (num_joints, 3), f'{where}, {self.split}_xyz.json')
            intrinsics = checked_array(ann['K'][i], (3, 3), f'{where}, {self.split}_K.json')
            keypoints = project(joints.astype(np.float64), intrinsics.astype(np.float64),
                                where).astype(np.float32)
            pose = betas = None
            if ann['mano'] is not None:
                params = checked_array(np.reshape(ann['mano'][i], -1),
                                       (FREIHAND_MANO_PARAMS, ),
                                       f'{where}, {self.split}_mano.json')
                pose, betas = params[:48], params[48:58]
            extra = dict(camera_intrinsics=intrinsics)
            if ann['verts'] is not None:
                extra['vertices'] = checked_array(ann['verts'][i], (MANO_NUM_VERTICES, 3),
                                                  f'{where}, {self.split}_verts.json')[None]
            samples.append(
                make_mesh_sample(
                    where=f'FreiHANDMeshDataset({base})',
                    index=i,
                    bbox=(np.array([0.0, 0.0, *self.full_image_size], np.float32)
                          if self.full_image_size else
                          np.concatenate([keypoints.min(0), keypoints.max(0)])),
                    num_joints=num_joints,
                    keypoints=np.concatenate([keypoints, np.ones((num_joints, 1))], 1),
                    joints_3d=np.concatenate([joints, np.ones((num_joints, 1))], 1),
                    pose=pose,
                    betas=betas,
                    pose_key='mano_pose',
                    pose_dim=48,
                    extra=extra))

        folder = self.data_prefix.get('img', '')
        data_list = []
        for version in range(self._count_versions(num)):
            for i, sample in enumerate(samples):
                image_index = version * num + i
                data_list.append(
                    dict(sample, id=image_index, img_id=image_index,
                         img_path=osp.join(folder, f'{image_index:08d}.jpg')))
        return data_list
