"""``EMDBDataset``: EMDB's release read as it is, one sample per good frame.

``data_root`` is the EMDB root (``P0..P9/<sequence>/images/%05d.jpg`` and
``{P}_{sequence}_data.pkl``, :mod:`.emdb_sequence`). The sequences are EMDB 1 by default
(pickle flag ``emdb1``), ``subset='emdb2'`` or ``'all'``, or a list ``sequences=[...]`` of
names such as ``'P1_14_outdoor_climb'``. Only the frames of ``good_frames_mask`` become
samples, as EMDB's evaluation indexes every array by it; a good frame whose box EMDB marks
invalid (``bboxes.invalid_idxs``, or a box with no width or height) is an error naming the
sequence and frame, never silently dropped.

The crop: a square around the centre of the given box (xyxy), of side ``bbox_padding`` x the
box's larger side; ``bbox_padding=1.2`` is the 3DPW protocol of METRO / FastMETRO (scale
1.2 max(w, h) / 200 in SPIN's units; GVHMR uses the square of side max(w, h), i.e. 1.0).
``bbox_center`` / ``bbox_scale`` hold it, so the pipeline's ``GetBBoxCenterScale`` must use
``padding=1.0`` (as ``configs/_base_/datasets/body_pipelines.py`` does).

Each sample holds, beside :func:`.mesh_dataset.make_mesh_sample`'s keys:

- ``img_path``; ``id`` (int, the sample's index); ``img_id`` ``'{seq_name}/{frame:05d}'``;
- ``seq_name`` (str), ``frame_index`` (int, the frame number in the sequence), ``fps``
  (30.0), ``cam_intrinsics`` (3, 3) float32;
- ``smpl_pose`` (1, 72) the GT pose in the CAMERA frame: EMDB's world global orientation
  left-multiplied by that frame's world-to-camera rotation; ``smpl_betas`` (1, 10) the
  sequence's shape; ``has_smpl`` (1,) = 1; ``gender`` (1,) the code of the sequence's gender
  (1 male, 2 female; ``PackMeshInputs`` also puts its name into the data sample's metainfo);
- ``keypoints`` (1, 24, 2) EMDB's ``kp2d`` (projected SMPL joints) placed in the J24 order of
  the dataset meta, with ``keypoints_visible`` 1 on the 15 J24 joints that are SMPL joints and
  0 on the 9 that are not (head top, thorax, spine, jaw, nose, eyes, ears), so the body
  pipelines' J24 -> J14 packing and flips stay right; no 3D joints (``has_joints_3d`` 0).
"""
from __future__ import annotations

import os.path as osp
import warnings
from typing import Any, List, Optional, Sequence

import numpy as np
from mmpose.registry import DATASETS

from ..mesh.gender import Gender
from ..mesh.joint_sets import J24, SMPL_24
from .emdb_sequence import (EMDB1_SEQUENCES, EMDB_FPS, EMDBSequence, camera_frame_pose,
                            select_sequences)
from .mesh_dataset import MeshDataset, checked_array, make_mesh_sample

#: J24 rows that are SMPL skeleton joints, and the SMPL_24 rows they take kp2d from.
_J24_ROWS = [i for i, name in enumerate(J24.names) if name in SMPL_24.names]
_SMPL_ROWS = [SMPL_24.index(J24.names[i]) for i in _J24_ROWS]


@DATASETS.register_module()
class EMDBDataset(MeshDataset):
    """EMDB's release as a test set; see the module docstring.

    Args:
        data_root: the EMDB root.
        subset: 'emdb1', 'emdb2' or 'all' (pickle flags); default 'emdb1' unless
            ``sequences`` is given.
        sequences: sequence names (``'P1_14_outdoor_climb'``), instead of a subset.
        bbox_padding: side of the square crop as a multiple of the box's larger side.
        check_images: check that every good frame's image exists when loading.
        **kwargs: as :class:`MeshDataset` (``metainfo`` defaults to the J24 body meta;
            ``ann_file`` and ``data_prefix`` are not used).
    """

    def __init__(self, data_root: Optional[str] = None, subset: Optional[str] = None,
                 sequences: Optional[Sequence[str]] = None, bbox_padding: float = 1.2,
                 check_images: bool = True, **kwargs: Any) -> None:
        if not bbox_padding > 0:
            raise ValueError(f'EMDBDataset: bbox_padding must be > 0, got {bbox_padding}')
        if data_root is None:
            raise ValueError('EMDBDataset: data_root (the EMDB root folder) is required')
        self.subset = 'emdb1' if subset is None and sequences is None else subset
        self.sequences = None if sequences is None else list(sequences)
        self.bbox_padding = float(bbox_padding)
        self.check_images = check_images
        super().__init__(data_root=data_root, **kwargs)

    def _report_missing_emdb1(self, found: List[EMDBSequence]) -> None:
        """Warns when a release that holds EMDB 1 sequences lacks some of the 17."""
        names = {seq.name for seq in found}
        if self.subset == 'emdb1' and names & set(EMDB1_SEQUENCES):
            missing = sorted(set(EMDB1_SEQUENCES) - names)
            if missing:
                warnings.warn(f'EMDBDataset: {self.data_root} lacks {len(missing)} of the 17 '
                              f'EMDB 1 sequences: {missing}; results are not comparable to '
                              'the published ones')

    def _frame_samples(self, seq: EMDBSequence, first_id: int) -> List[dict]:
        """The samples of one sequence's good frames, ids from ``first_id``."""
        invalid = set(seq.invalid_idxs.tolist())
        intrinsics = checked_array(seq.intrinsics, (3, 3),
                                   f'EMDB pickle {seq.pickle_path}, camera.intrinsics')
        gender = Gender.parse(seq.gender, f'EMDB pickle {seq.pickle_path}, gender')
        samples = []
        for frame in np.flatnonzero(seq.good_frames):
            frame = int(frame)
            where = f'EMDB sequence {seq.name}, frame {frame} ({seq.pickle_path})'
            box = checked_array(seq.bboxes[frame], (4, ), f'{where}, bboxes.bboxes')
            size = box[2:] - box[:2]
            if frame in invalid or not np.all(size > 0):
                raise ValueError(f'{where}: a good frame (good_frames_mask True) whose box is '
                                 f'invalid (box {box.tolist()}, in bboxes.invalid_idxs: '
                                 f'{frame in invalid}); the release is inconsistent')
            kp2d = checked_array(seq.kp2d[frame], (24, 2), f'{where}, kp2d')
            keypoints = np.zeros((24, 3), np.float32)
            keypoints[_J24_ROWS, :2] = kp2d[_SMPL_ROWS]
            keypoints[_J24_ROWS, 2] = 1.0
            checked_array(seq.extrinsics[frame], (4, 4), f'{where}, camera.extrinsics')
            checked_array(seq.poses_root[frame], (3, ), f'{where}, smpl.poses_root')
            image = osp.join(seq.folder, 'images', f'{frame:05d}.jpg')
            if self.check_images and not osp.isfile(image):
                raise FileNotFoundError(f'{where}: image {image} does not exist')
            sample = make_mesh_sample(
                where=f'EMDB sequence {seq.name}',
                index=first_id + len(samples),
                bbox=box,
                num_joints=self.num_joints,
                keypoints=keypoints,
                pose=camera_frame_pose(seq, frame),
                betas=seq.betas,
                gender=gender,
                img_path=image,
                img_id=f'{seq.name}/{frame:05d}',
                extra=dict(seq_name=seq.name, frame_index=frame, fps=EMDB_FPS,
                           cam_intrinsics=intrinsics))
            side = self.bbox_padding * float(size.max())
            sample['bbox_scale'] = np.array([[side, side]], np.float32)
            samples.append(sample)
        return samples

    def load_data_list(self) -> List[dict]:
        """One sample per good frame of the selected sequences, in sequence and frame order."""
        if self.num_joints != len(J24):
            raise ValueError(f'EMDBDataset: places kp2d in the J24 body meta; metainfo has '
                             f'{self.num_joints} joints')
        found = select_sequences(self.data_root, self.subset, self.sequences)
        self._report_missing_emdb1(found)
        data_list: List[dict] = []
        for seq in found:
            data_list += self._frame_samples(seq, len(data_list))
        if not data_list:
            raise ValueError(f'EMDBDataset: the selected sequences {[s.name for s in found]} '
                             'have no good frame')
        return data_list
