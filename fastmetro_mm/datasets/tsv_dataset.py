"""``MeshTSVDataset``: METRO / FastMETRO's TSV mesh datasets.

Two TSV files with ``.lineidx`` row offsets (see :mod:`.tsv_file`), row r of one describing row
r of the other:

- image TSV: ``image_key <TAB> base64 JPEG`` (the image is the last column);
- label TSV: ``image_key <TAB> JSON list``, one dict per person with ``center`` [x, y] and
  ``scale`` (bbox side / 200, pixels, as SPIN), ``2d_joints`` (24, 3) image pixels + visibility,
  ``3d_joints`` (24, 4) metres + confidence, ``pose`` (72), ``betas`` (10), and the flags
  ``has_2d_joints``, ``has_3d_joints``, ``has_smpl``, ``gender`` (``'m'`` / ``'f'``).
  A joint array may carry a leading axis of 1, as METRO writes them. Hands
  (``mesh_type='hand'``, METRO's ``freihand/train.yaml``): 21 joints (FreiHAND's order,
  ``2d_joints`` (21, 3), ``3d_joints`` (21, 4) wrist-relative), MANO ``pose`` (48, offsets
  from the mean hand) and ``betas`` (10); the pose becomes ``mano_pose``, the metainfo the
  MANO-21 one, and other keys (``hrnet_2d_joints``) are ignored.
- optional linelist TSV (``linelist_file``): the rows to use, one row index per line (first
  column), as METRO's ``*.linelist.tsv`` files select e.g. the SMPL-labelled rows of
  Human3.6M (``smpl/train.linelist.smpl.p1.tsv``) or COCO's 40k (``smpl/train.linelist.tsv``).
  Without it every row is used.
- or a METRO dataset yaml (``yaml_file``, e.g. ``human3.6m/valid.protocol2.yaml``) naming the
  three: keys ``img``, ``label`` and optional ``linelist`` (``hw`` is not needed), each path
  as given when it exists, else relative to the yaml's folder, as the released code finds
  them. A composite yaml (several sources) is refused: give each source its own dataset in a
  ``CombinedDataset``.

Two readings (``strict``), both reading a flag that is absent as "available when the data key
is there" and refusing a flag set to 1 whose data is missing:

- ``strict=False`` (default), as the released reader (METRO's ``human_mesh_tsv.py`` /
  ``hand_mesh_tsv.py`` with the released training steps), so that an epoch holds the same
  samples and the loss sees the same flags: the 2D joints are read whatever
  ``has_2d_joints`` says (the released 2D loss weights each joint by its confidence and never
  reads the flag); ``has_3d_joints`` 1 with every 3D confidence 0 keeps ``has_joints_3d`` 1 (the
  sample adds 0 to the 3D loss but counts in its average); the image and label TSVs are both
  indexed by the linelist rows (without a linelist: every image row, as the released
  ``__len__``), and a different row count or a different key in the same row of the two files
  is a warning, not an error (the released reader compares neither); a row missing from
  either file is an error, where the released reader would fail too.
- ``strict=True``, this project's earlier reading: ``has_2d_joints`` 0 drops the 2D joints, a
  person whose 3D confidences are all 0 has no 3D joints, and the two TSVs must have the same
  row count and the same key in every row.

``persons`` chooses the samples of a label row: ``'first'`` (default, as released: each row is
one sample, its first person) or ``'all'`` (one sample per person of the row).

Labels are read once, row by row, at initialisation; images are decoded per sample from their
byte offsets.

Pipeline: ``img`` (BGR uint8, as ``LoadImage`` would give) is set by the dataset, so no image
loading step is needed; MMPose's ``LoadImage`` may stay in a shared pipeline, since it keeps an
existing ``img``. Then ``GetBBoxCenterScale(padding=1.0) -> ... -> MeshTopdownAffine ->
PackMeshInputs`` (hands: ``PackMeshInputs(pose_dim=48)``, no flip).
"""
from __future__ import annotations

import base64
import binascii
import json
import os.path as osp
import warnings
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np
import yaml
from mmpose.registry import DATASETS

from ..mesh.gender import Gender
from ..mesh.mesh_type import get_mesh_type
from .mesh_dataset import MeshDataset, make_mesh_sample, square_bbox
from .metainfo import MANO21_HAND_METAINFO
from .spin_npz_dataset import SPIN_SCALE_UNIT
from .tsv_file import TSVFile

#: The values of ``MeshTSVDataset(persons=...)``.
PERSONS = ('first', 'all')

#: Per mesh type: the sample key of the pose, its length and the default metainfo (None: the
#: class's, J24).
POSE_FIELDS: Dict[str, Tuple[str, int, Optional[str]]] = {
    'body': ('smpl_pose', 72, None),
    'hand': ('mano_pose', 48, MANO21_HAND_METAINFO),
}


def decode_image(encoded: str, where: str) -> np.ndarray:
    """(H, W, 3) BGR uint8 image from a base64-encoded JPEG / PNG.

    Args:
        encoded: base64 text.
        where: text naming the file and row, for the error message.
    """
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f'{where}: the image column is not valid base64 ({err})') from None
    img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'{where}: the image column does not decode to an image '
                         f'({len(raw)} bytes after base64)')
    return img


def read_dataset_yaml(path: str) -> Tuple[str, str, Optional[str]]:
    """(image TSV, label TSV, linelist TSV or None) named by a METRO dataset yaml.

    Args:
        path: the yaml file, e.g. ``human3.6m/valid.protocol2.yaml``.
    """
    where = f'MeshTSVDataset yaml {path}'
    if not osp.isfile(path):
        raise FileNotFoundError(f'{where}: file not found')
    with open(path, encoding='utf-8') as f:
        try:
            cfg = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ValueError(f'{where}: not valid YAML ({err})') from None
    if not isinstance(cfg, dict):
        raise ValueError(f'{where}: expected a mapping with keys img, label, linelist')
    if cfg.get('composite'):
        raise ValueError(f'{where}: a composite yaml lists several sources; give each source '
                         'its own MeshTSVDataset in a CombinedDataset (see '
                         'configs/_base_/datasets/body_mix_h36m.py)')
    root = osp.dirname(path)

    def find(key: str, required: bool) -> Optional[str]:
        name = cfg.get(key)
        if name is None:
            if required:
                raise KeyError(f'{where}: missing key "{key}" (keys: {sorted(cfg)})')
            return None
        if not isinstance(name, str):
            raise ValueError(f'{where}: key "{key}" must be one file name, got {name!r}')
        for candidate in (name, osp.join(root, name)):
            if osp.isfile(candidate):
                return candidate
        raise FileNotFoundError(f'{where}: "{key}" names {name}, found neither as given nor '
                                f'in {root}')

    return find('img', True), find('label', True), find('linelist', False)


def _flagged(person: Dict[str, Any], data_key: str, flag_key: str,
             where: str) -> Optional[Any]:
    """``person[data_key]`` if it is available per ``flag_key``, else None."""
    flag = person.get(flag_key)
    if flag is not None and not isinstance(flag, (bool, int, float)):
        flag = np.asarray(flag).reshape(-1)
        if flag.size != 1:
            raise ValueError(f'{where}: "{flag_key}" must be one number, got {flag.tolist()}')
        flag = flag[0]
    if flag is not None and not flag:
        return None
    if data_key not in person:
        if flag is None:
            return None
        raise KeyError(f'{where}: "{flag_key}" is set but key "{data_key}" is missing')
    return person[data_key]


def _checked_pose_length(pose: Optional[Any], pose_dim: int, mesh_type: str,
                         where: str) -> Optional[Any]:
    """``pose``, refused with a hint when its length is the other mesh type's."""
    if pose is None:
        return None
    size = np.size(pose)
    for other, (_, other_dim, _) in POSE_FIELDS.items():
        if other != mesh_type and size == other_dim != pose_dim:
            raise ValueError(f'{where}, pose: {size} values make a {other} pose, but the '
                             f'dataset reads mesh_type={mesh_type!r} ({pose_dim} values); set '
                             f'mesh_type={other!r}')
    return pose


def _joints(value: Optional[Any], num_joints: int, columns: int) -> Optional[np.ndarray]:
    """Drops METRO's leading axis of 1 from a joint array."""
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float32)
    return array[0] if array.shape == (1, num_joints, columns) else array


@DATASETS.register_module()
class MeshTSVDataset(MeshDataset):
    """Reads a METRO / FastMETRO image TSV + label TSV pair; see the module docstring.

    Args:
        ann_file: the label TSV.
        img_file: the image TSV (relative to ``data_root`` unless absolute).
        linelist_file: optional METRO linelist TSV selecting the rows to use (relative to
            ``data_root`` unless absolute); None uses every row.
        yaml_file: a METRO dataset yaml naming the image, label and linelist TSVs (relative
            to ``data_root`` unless absolute), instead of ``img_file`` / ``ann_file`` /
            ``linelist_file``.
        scale_unit: pixels per unit of ``scale`` (200, as SPIN).
        mesh_type: ``'body'`` (SMPL pose 72, J24 metainfo) or ``'hand'`` (MANO pose 48 kept
            as ``mano_pose``, MANO-21 metainfo unless ``metainfo`` is given).
        persons: ``'first'`` (as released: one sample per label row, its first person) or
            ``'all'`` (one sample per person).
        strict: False reads the flags and matches the two TSVs as the released reader, True
            as this project did before (see the module docstring).
        **kwargs: as :class:`MeshDataset`.
    """

    def __init__(self, ann_file: str = '', img_file: str = '',
                 linelist_file: Optional[str] = None,
                 yaml_file: Optional[str] = None,
                 scale_unit: float = SPIN_SCALE_UNIT,
                 mesh_type: str = 'body', persons: str = 'first', strict: bool = False,
                 **kwargs) -> None:
        if yaml_file and (ann_file or img_file or linelist_file):
            raise ValueError('MeshTSVDataset: give either yaml_file or img_file / ann_file / '
                             'linelist_file, not both')
        if not img_file and not yaml_file:
            raise ValueError('MeshTSVDataset: img_file (the image TSV) is required')
        self.yaml_file = yaml_file
        if scale_unit <= 0:
            raise ValueError(f'MeshTSVDataset: scale_unit must be positive, got {scale_unit}')
        if persons not in PERSONS:
            raise ValueError(f'MeshTSVDataset: persons must be one of {PERSONS}, got '
                             f'{persons!r}')
        self.persons = persons
        self.strict = bool(strict)
        self._key_mismatch_reported = False
        self.img_file = img_file
        self.linelist_file = linelist_file
        self.scale_unit = float(scale_unit)
        self.mesh_type = get_mesh_type(mesh_type, 'MeshTSVDataset').name
        self.pose_key, self.pose_dim, default_metainfo = POSE_FIELDS[self.mesh_type]
        if kwargs.get('metainfo') is None and default_metainfo is not None:
            kwargs['metainfo'] = dict(from_file=default_metainfo)
        self._img_tsv: Optional[TSVFile] = None
        super().__init__(ann_file=ann_file, **kwargs)

    def _join_prefix(self) -> None:
        """Also resolves ``img_file`` against ``data_root``."""
        super()._join_prefix()
        if self.data_root and not osp.isabs(self.img_file):
            self.img_file = osp.join(self.data_root, self.img_file)
        if self.data_root and self.linelist_file and not osp.isabs(self.linelist_file):
            self.linelist_file = osp.join(self.data_root, self.linelist_file)
        if self.yaml_file:
            if self.data_root and not osp.isabs(self.yaml_file):
                self.yaml_file = osp.join(self.data_root, self.yaml_file)
            self.img_file, self.ann_file, self.linelist_file = read_dataset_yaml(self.yaml_file)

    def _selected_rows(self, num_rows: int, num_images: int) -> List[int]:
        """Row indices listed by ``linelist_file``, each in both TSVs.

        Without a linelist: every label row (strict) or every image row (as released).
        """
        if not self.linelist_file:
            if self.strict:
                return list(range(num_rows))
            if num_images > num_rows:
                raise ValueError(f'MeshTSVDataset: the image TSV {self.img_file} has '
                                 f'{num_images} rows but the label TSV {self.ann_file} only '
                                 f'{num_rows}; without a linelist every image row is a sample '
                                 '(as the released reader, which fails at the first row past '
                                 'the labels); give a linelist_file')
            return list(range(num_images))
        where = f'MeshTSVDataset linelist {self.linelist_file}'
        if not osp.isfile(self.linelist_file):
            raise FileNotFoundError(f'{where}: file not found')
        rows = []
        with open(self.linelist_file, encoding='utf-8') as f:
            for number, line in enumerate(f):
                first = line.split('\t', 1)[0].strip()
                if not first:
                    continue
                try:
                    row = int(first)
                except ValueError:
                    raise ValueError(f'{where}, line {number}: expected a row index, got '
                                     f'{first!r}') from None
                if not 0 <= row < num_rows:
                    raise ValueError(f'{where}, line {number}: row {row} outside the '
                                     f'{num_rows} rows of {self.ann_file}')
                if row >= num_images:
                    raise ValueError(f'{where}, line {number}: row {row} outside the '
                                     f'{num_images} rows of the image TSV {self.img_file}')
                rows.append(row)
        if not rows:
            raise ValueError(f'{where}: lists no rows')
        return rows

    @property
    def img_tsv(self) -> TSVFile:
        """The image TSV, opened on first use (each worker seeks in its own handle)."""
        if self._img_tsv is None:
            self._img_tsv = TSVFile(self.img_file)
        return self._img_tsv

    def _person(self, person: Any, index: int, row: int, key: str, where: str) -> dict:
        """One person's label dict as a mesh sample."""
        label = f'{where}, row {row}, person of sample {index}'
        if not isinstance(person, dict):
            raise TypeError(f'{label}: expected a JSON object, got {type(person).__name__}')
        for required in ('center', 'scale'):
            if required not in person:
                raise KeyError(f'{label}: missing key "{required}" (keys: {sorted(person)})')
        center = np.asarray(person['center'], dtype=np.float64).reshape(-1)
        scale = float(np.asarray(person['scale'], dtype=np.float64).reshape(-1)[0])
        if center.shape != (2, ) or not np.isfinite(center).all():
            raise ValueError(f'{label}, center: expected 2 finite numbers, got {center}')
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f'{label}, scale: must be a positive number, got {scale}')
        num_joints = self.num_joints
        pose = _flagged(person, 'pose', 'has_smpl', label)
        if self.strict:
            keypoints = _flagged(person, '2d_joints', 'has_2d_joints', label)
        else:
            # As released: the 2D loss reads the confidences, never has_2d_joints.
            keypoints = person.get('2d_joints')
        betas = None
        if pose is not None:
            if 'betas' not in person:
                raise KeyError(f'{label}: has a SMPL pose but key "betas" is missing')
            betas = person['betas']
        return make_mesh_sample(
            where=f'{where}, row {row}',
            index=index,
            bbox=square_bbox(center, scale * self.scale_unit),
            num_joints=num_joints,
            keypoints=_joints(keypoints, num_joints, 3),
            joints_3d=_joints(_flagged(person, '3d_joints', 'has_3d_joints', label),
                              num_joints, 4),
            pose=_checked_pose_length(pose, self.pose_dim, self.mesh_type, label),
            betas=betas,
            pose_key=self.pose_key,
            pose_dim=self.pose_dim,
            gender=Gender.parse(person.get('gender'), f'{label}, gender'),
            img_path=key,
            img_id=row,
            extra=dict(tsv_row=row),
            keep_unconfident_joints_3d=not self.strict)

    def load_data_list(self) -> List[dict]:
        """The samples of every selected label row (its first person, or each person with
        ``persons='all'``), in linelist (or row) order."""
        where = f'MeshTSVDataset({self.ann_file})'
        labels = TSVFile(self.ann_file)
        if len(labels) != len(self.img_tsv):
            message = (f'{where}: {len(labels)} label rows but {len(self.img_tsv)} rows in '
                       f'the image TSV {self.img_file}')
            if self.strict:
                raise ValueError(message)
            warnings.warn(f'{message}; both are indexed by the same row numbers, as the '
                          'released reader does (strict=True refuses this)')
        data_list: List[dict] = []
        # Rows are read one at a time, so memory holds one JSON row at once.
        for row in self._selected_rows(len(labels), len(self.img_tsv)):
            columns = labels.read_row(row)
            if len(columns) < 2:
                raise ValueError(f'{where}, row {row}: expected "key<TAB>JSON", got '
                                 f'{len(columns)} column(s)')
            try:
                persons = json.loads(columns[1])
            except json.JSONDecodeError as err:
                raise ValueError(f'{where}, row {row}: the label is not valid JSON ({err})'
                                 ) from None
            if isinstance(persons, dict):
                persons = [persons]
            if not isinstance(persons, list) or not persons:
                raise ValueError(f'{where}, row {row}: the label must be a non-empty JSON list '
                                 f'of persons, got {columns[1][:80]!r}')
            if self.persons == 'first':
                persons = persons[:1]
            for person in persons:
                data_list.append(self._person(person, len(data_list), row, columns[0], where))
        labels.close()
        return data_list

    def get_data_info(self, idx: int) -> dict:
        """Sample ``idx`` with its decoded ``img`` (BGR uint8), ``img_shape``, ``ori_shape``."""
        data_info = super().get_data_info(idx)
        row = int(data_info['tsv_row'])
        where = f'MeshTSVDataset image TSV {self.img_file}, row {row}'
        columns = self.img_tsv.read_row(row)
        if columns[0] != data_info['img_path']:
            message = (f'{where}: image key {columns[0]!r} differs from the label key '
                       f'{data_info["img_path"]!r} of the same row in {self.ann_file}')
            if self.strict:
                raise ValueError(message)
            if not self._key_mismatch_reported:
                # The released reader pairs rows by number and never compares their keys.
                self._key_mismatch_reported = True
                warnings.warn(f'{message}; the row is used as the released reader would '
                              '(strict=True refuses this; further mismatches of this '
                              'dataset are not reported)')
        img = decode_image(columns[-1], where)
        data_info['img'] = img
        data_info['img_shape'] = img.shape[:2]
        data_info['ori_shape'] = img.shape[:2]
        return data_info
