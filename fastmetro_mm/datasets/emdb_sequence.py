"""One EMDB sequence read from its release pickle, checked, and the sequences of a subset.

EMDB's layout (its ``dataset.md``): ``EMDB_ROOT/P0..P9/<sequence>/`` with ``images/%05d.jpg``
and ``{P}_{sequence}_data.pkl``; a sequence's name is ``{P}_{sequence}``, e.g.
``P1_14_outdoor_climb``. The pickle's keys and shapes are checked here (errors name the file
and the key); values are checked where they are used, i.e. on the good frames only, because
masked frames may hold anything (EMDB marks their boxes invalid).
"""
from __future__ import annotations

import glob
import os.path as osp
import pickle
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

import numpy as np
from scipy.spatial.transform import Rotation

#: EMDB's frame rate.
EMDB_FPS = 30.0
#: Subsets selected by the pickles' flags; 'all' takes every sequence found.
EMDB_SUBSETS = ('emdb1', 'emdb2', 'all')
#: The 17 sequences of EMDB 1 (the paper's Table 3): a release missing some is reported.
EMDB1_SEQUENCES = (
    'P1_14_outdoor_climb', 'P2_23_outdoor_hug_tree', 'P3_31_outdoor_workout',
    'P3_32_outdoor_soccer_warmup_a', 'P3_33_outdoor_soccer_warmup_b', 'P5_42_indoor_dancing',
    'P5_44_indoor_rom', 'P6_49_outdoor_big_stairs_down', 'P6_50_outdoor_workout',
    'P6_51_outdoor_dancing', 'P7_57_outdoor_rock_chair', 'P7_59_outdoor_rom',
    'P7_60_outdoor_workout', 'P8_64_outdoor_skateboard', 'P8_68_outdoor_handstand',
    'P8_69_outdoor_cartwheel', 'P9_76_outdoor_sitting')


@dataclass
class EMDBSequence:
    """The arrays of one sequence's pickle (F frames), shapes checked.

    Attributes:
        pickle_path: the file read.
        name: ``{P}_{sequence}``.
        gender: 'female', 'male' or 'neutral'.
        emdb1, emdb2: the subset flags.
        good_frames: (F,) bool, ``good_frames_mask``.
        kp2d: (F, 24, 2) SMPL joints projected, pixels.
        intrinsics: (3, 3).
        extrinsics: (F, 4, 4) world to camera.
        width, height: image size, pixels.
        poses_root: (F, 3) world-frame global orientation, axis-angle.
        poses_body: (F, 69) axis-angle of SMPL joints 1..23.
        trans: (F, 3) world translation, metres.
        betas: (10,).
        bboxes: (F, 4) xyxy pixels.
        invalid_idxs: (M,) frames whose box is invalid.
    """

    pickle_path: str
    name: str
    gender: str
    emdb1: bool
    emdb2: bool
    good_frames: np.ndarray
    kp2d: np.ndarray
    intrinsics: np.ndarray
    extrinsics: np.ndarray
    width: int
    height: int
    poses_root: np.ndarray
    poses_body: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    bboxes: np.ndarray
    invalid_idxs: np.ndarray

    @property
    def num_frames(self) -> int:
        """F."""
        return len(self.good_frames)

    @property
    def folder(self) -> str:
        """The sequence folder (images under ``images/``)."""
        return osp.dirname(self.pickle_path)


def _get(mapping: Any, key: str, where: str) -> Any:
    """``mapping[key]``, or an error naming the file and the key."""
    if not isinstance(mapping, dict):
        raise TypeError(f'{where}: expected a dict, got {type(mapping).__name__}')
    if key not in mapping:
        raise KeyError(f'{where}: missing key "{key}" (has {sorted(mapping)})')
    return mapping[key]


def _array(mapping: Any, key: str, shape: Sequence[int], where: str,
           dtype: type = np.float64) -> np.ndarray:
    """``mapping[key]`` as an array of exactly ``shape``."""
    value = _get(mapping, key, where)
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{where}, key "{key}": not a numeric array ({err})') from None
    if array.shape != tuple(shape):
        raise ValueError(f'{where}, key "{key}": has shape {array.shape}, expected '
                         f'{tuple(shape)}')
    return array


def _integer(mapping: Any, key: str, where: str, minimum: int) -> int:
    value = _get(mapping, key, where)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f'{where}, key "{key}": expected an integer >= {minimum}, got '
                         f'{value!r}')
    return int(value)


def _flag(mapping: Any, key: str, where: str) -> bool:
    value = _get(mapping, key, where)
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f'{where}, key "{key}": expected a bool, got {value!r}')
    return bool(value)


def read_emdb_sequence(pickle_path: str) -> EMDBSequence:
    """Reads and checks one ``*_data.pkl``.

    Args:
        pickle_path: the sequence's pickle.

    Returns:
        The sequence.

    Raises:
        FileNotFoundError, KeyError, ValueError, TypeError: naming the file and the key.
    """
    where = f'EMDB pickle {pickle_path}'
    if not osp.isfile(pickle_path):
        raise FileNotFoundError(f'{where} does not exist')
    with open(pickle_path, 'rb') as f:
        try:
            data = pickle.load(f)
        except Exception as err:  # a truncated or foreign file: name it
            raise ValueError(f'{where}: cannot be unpickled ({type(err).__name__}: {err})') \
                from None
    num = _integer(data, 'n_frames', where, 1)
    gender = _get(data, 'gender', where)
    if gender not in ('female', 'male', 'neutral'):
        raise ValueError(f'{where}, key "gender": expected "female", "male" or "neutral", '
                         f'got {gender!r}')
    name = _get(data, 'name', where)
    if not isinstance(name, str):
        raise ValueError(f'{where}, key "name": expected a string, got {name!r}')
    mask = _get(data, 'good_frames_mask', where)
    if np.asarray(mask).dtype != bool or np.shape(mask) != (num, ):
        raise ValueError(f'{where}, key "good_frames_mask": expected ({num},) bool (n_frames), '
                         f'got {np.asarray(mask).dtype} {np.shape(mask)}')
    camera, smpl, boxes = (_get(data, key, where) for key in ('camera', 'smpl', 'bboxes'))
    camera_where, smpl_where, boxes_where = (f'{where}, "{key}"'
                                             for key in ('camera', 'smpl', 'bboxes'))
    invalid = np.asarray(_get(boxes, 'invalid_idxs', boxes_where)).reshape(-1)
    if invalid.size and (invalid.dtype.kind not in 'iu' or invalid.min() < 0
                         or invalid.max() >= num):
        raise ValueError(f'{boxes_where}, key "invalid_idxs": expected frame indices in '
                         f'[0, {num}), got {invalid.dtype} values {invalid[:10].tolist()}...')
    return EMDBSequence(
        pickle_path=pickle_path,
        name=name,
        gender=gender,
        emdb1=_flag(data, 'emdb1', where),
        emdb2=_flag(data, 'emdb2', where),
        good_frames=np.asarray(mask),
        kp2d=_array(data, 'kp2d', (num, 24, 2), where),
        intrinsics=_array(camera, 'intrinsics', (3, 3), camera_where),
        extrinsics=_array(camera, 'extrinsics', (num, 4, 4), camera_where),
        width=_integer(camera, 'width', camera_where, 1),
        height=_integer(camera, 'height', camera_where, 1),
        poses_root=_array(smpl, 'poses_root', (num, 3), smpl_where),
        poses_body=_array(smpl, 'poses_body', (num, 69), smpl_where),
        trans=_array(smpl, 'trans', (num, 3), smpl_where),
        betas=_array(smpl, 'betas', (10, ), smpl_where),
        bboxes=_array(boxes, 'bboxes', (num, 4), boxes_where),
        invalid_idxs=invalid.astype(np.int64))


def sequence_pickle(root: str, name: str) -> str:
    """The pickle of sequence ``name`` (``P1_14_outdoor_climb``) under the EMDB root."""
    subject, _, sequence = name.partition('_')
    if not (subject.startswith('P') and subject[1:].isdigit() and sequence):
        raise ValueError(f'EMDB: sequence name {name!r} is not "P<subject>_<sequence>" '
                         '(e.g. "P1_14_outdoor_climb")')
    return osp.join(root, subject, sequence, f'{name}_data.pkl')


def find_sequence_pickles(root: str) -> List[str]:
    """Every ``P*/*/*_data.pkl`` under the EMDB root, sorted (as EMDB's evaluate.py finds
    them)."""
    return sorted(glob.glob(osp.join(root, 'P*', '*', '*_data.pkl')))


def select_sequences(root: str, subset: Optional[str],
                     sequences: Optional[Sequence[str]]) -> List[EMDBSequence]:
    """The sequences of a subset, or the named ones, read and checked.

    Args:
        root: the EMDB root.
        subset: 'emdb1', 'emdb2' or 'all' (pickle flags); None with ``sequences``.
        sequences: sequence names, in the order wanted; None: the subset.

    Returns:
        The sequences (named: in the given order; a subset: sorted by pickle path).

    Raises:
        FileNotFoundError: the root or a named sequence does not exist, or the subset is
            empty, naming what was looked for.
        ValueError: both or neither of ``subset`` and ``sequences`` given, an unknown subset,
            a repeated name, or a pickle whose ``name`` disagrees with its file.
    """
    if (subset is None) == (sequences is None):
        raise ValueError(f'EMDB: give either subset (one of {EMDB_SUBSETS}) or sequences, '
                         f'not both or neither (got subset={subset!r}, '
                         f'sequences={sequences!r})')
    if not osp.isdir(root):
        raise FileNotFoundError(f'EMDB: data_root {root} is not a folder (expected '
                                'P0..P9/<sequence>/ inside)')
    if sequences is not None:
        if isinstance(sequences, str) or len(set(sequences)) != len(sequences) \
                or not sequences:
            raise ValueError(f'EMDB: sequences must be a non-empty list of distinct names, '
                             f'got {sequences!r}')
        paths = [sequence_pickle(root, name) for name in sequences]
        missing = [f'{name} ({path})' for name, path in zip(sequences, paths)
                   if not osp.isfile(path)]
        if missing:
            found = [osp.basename(p)[:-len('_data.pkl')] for p in find_sequence_pickles(root)]
            raise FileNotFoundError(f'EMDB: unknown sequence(s) {missing}; {root} holds '
                                    f'{found}')
        selected = [read_emdb_sequence(path) for path in paths]
    else:
        if subset not in EMDB_SUBSETS:
            raise ValueError(f'EMDB: subset must be one of {EMDB_SUBSETS}, got {subset!r}')
        paths = find_sequence_pickles(root)
        selected = [seq for seq in map(read_emdb_sequence, paths)
                    if subset == 'all' or getattr(seq, subset)]
        if not selected:
            raise FileNotFoundError(f'EMDB: no sequence of subset {subset!r} under {root} '
                                    f'({len(paths)} pickles found as P*/*/*_data.pkl)')
    for seq in selected:
        expected = osp.basename(seq.pickle_path)[:-len('_data.pkl')]
        if seq.name != expected:
            raise ValueError(f'EMDB pickle {seq.pickle_path}, key "name": {seq.name!r} does not '
                             f'match its file name ({expected!r})')
    return selected


def camera_frame_pose(sequence: EMDBSequence, frame: int) -> np.ndarray:
    """(72,) SMPL pose of one frame in the camera frame: the world global orientation
    left-multiplied by that frame's world-to-camera rotation, the body pose unchanged.

    The camera-frame translation is not needed for EMDB's root-aligned metrics and is not
    computed (it would need the body model's rest pelvis).
    """
    rotation = sequence.extrinsics[frame, :3, :3]
    root = Rotation.from_matrix(rotation) * Rotation.from_rotvec(sequence.poses_root[frame])
    return np.concatenate([root.as_rotvec(), sequence.poses_body[frame]])
