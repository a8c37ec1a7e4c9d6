"""Read SMPL and MANO model files (.pkl with or without chumpy objects, or .npz).

The official SMPL and MANO ``.pkl`` files were written by Python 2 and hold some arrays
(``shapedirs`` above all) as chumpy ``Ch`` objects. chumpy cannot be installed on a current
Python/numpy, so the unpickler below maps every ``chumpy.*`` class to a placeholder that keeps
the pickled state, and each placeholder is then replaced by the array stored under ``'x'``.
The resulting plain dict is what :func:`to_smplx_struct` hands to smplx as ``data_struct``.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Union

import numpy as np
import scipy.sparse
from smplx.utils import Struct

PathLike = Union[str, Path]

#: Keys every SMPL-family model file holds and that smplx's SMPL layer reads.
SMPL_KEYS = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights',
             'kintree_table', 'f')
#: MANO additionally needs the pose PCA basis and the mean hand pose.
MANO_KEYS = SMPL_KEYS + ('hands_components', 'hands_mean')

_WHERE_FILES_GO = (
    'SMPL/MANO model files are licence-gated and not shipped with fastmetro_mm: download them '
    'from https://smpl.is.tue.mpg.de and https://mano.is.tue.mpg.de and put them in the data '
    'folder, e.g. data/body_models/smpl/SMPL_NEUTRAL.pkl or data/body_models/mano/MANO_RIGHT.pkl')


class _ChumpyPlaceholder:
    """Stands in for any pickled chumpy object; only remembers the pickled state."""

    chumpy_class = 'chumpy'
    state: Any = None

    def __new__(cls, *args: Any, **kwargs: Any) -> '_ChumpyPlaceholder':
        # Pickle may call the class with the original constructor arguments (NEWOBJ/REDUCE);
        # none of them matter because the array comes from the state.
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Accepts (and ignores) the constructor arguments a REDUCE opcode passes.
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ModelUnpickler(pickle.Unpickler):
    """Unpickler that never imports chumpy and reads old scipy.sparse module paths."""

    def find_class(self, module: str, name: str) -> Any:
        if module == 'chumpy' or module.startswith('chumpy.'):
            # A distinct subclass per chumpy class keeps the name for error messages.
            return type(name, (_ChumpyPlaceholder, ),
                        {'chumpy_class': f'{module}.{name}'})
        if module.startswith('scipy.sparse.') and hasattr(scipy.sparse, name):
            # Python-2-era files name private modules such as scipy.sparse.csc, which newer
            # scipy only keeps as deprecated shims.
            return getattr(scipy.sparse, name)
        return super().find_class(module, name)


def _replace_chumpy(value: Any, path: PathLike, key: str) -> Any:
    """Recursively swap chumpy placeholders for numpy arrays.

    Args:
        value: An unpickled value (dict, list, tuple, placeholder or anything else).
        path: The model file, for error messages.
        key: Where ``value`` sits in the file, for error messages.

    Returns:
        ``value`` with every placeholder replaced by ``np.asarray(state['x'])``.
    """
    if isinstance(value, _ChumpyPlaceholder):
        state = value.state
        if not isinstance(state, dict) or 'x' not in state:
            found = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f'{path}: key {key!r} holds a chumpy object of class '
                f'{type(value).chumpy_class!r} whose pickled state has no array under '
                f"'x' (found {found}); only plain chumpy arrays (chumpy.ch.Ch) can be read "
                'without chumpy')
        return np.asarray(_replace_chumpy(state['x'], path, key))
    if isinstance(value, dict):
        return {k: _replace_chumpy(v, path, f'{key}.{k}' if key else str(k))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_replace_chumpy(v, path, f'{key}[{i}]') for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    return value


def _read_pkl(path: Path) -> Dict[str, Any]:
    with path.open('rb') as f:
        try:
            data = _ModelUnpickler(f, encoding='latin1').load()
        except (pickle.UnpicklingError, EOFError, ImportError, AttributeError) as err:
            raise ValueError(f'{path}: not a readable SMPL/MANO pickle ({err})') from err
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a pickled dict of model arrays, '
                         f'got {type(data).__name__}')
    return _replace_chumpy(data, path, '')


def _read_npz(path: Path) -> Dict[str, Any]:
    try:
        with np.load(path, allow_pickle=True, encoding='latin1') as npz:
            data = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as err:
        raise ValueError(f'{path}: not a readable .npz model file ({err})') from err
    for key, value in data.items():
        # np.savez wraps non-array values (a sparse J_regressor, the string 'lbs') in 0-d
        # arrays; unwrap them so .npz and .pkl files give the same dict.
        if isinstance(value, np.ndarray) and value.ndim == 0:
            data[key] = value.item()
    return _replace_chumpy(data, path, '')


def _shape(value: Any) -> tuple:
    return tuple(getattr(value, 'shape', ()))


def _check_consistency(model: Dict[str, Any], path: Path,
                       keys: Sequence[str]) -> None:
    """Check that the arrays agree on the vertex and joint counts."""
    num_verts = _shape(model['v_template'])[0] if 'v_template' in keys else None
    expected = {
        'v_template': (None, 3),
        'shapedirs': (num_verts, 3, None),
        'posedirs': (num_verts, 3, None),
        'weights': (num_verts, None),
        'J_regressor': (None, num_verts),
        'kintree_table': (2, None),
        'f': (None, 3),
    }
    for key in keys:
        if key not in expected:
            continue
        shape = _shape(model[key])
        want = expected[key]
        if len(shape) != len(want) or any(w is not None and s != w
                                          for s, w in zip(shape, want)):
            pretty = '(' + ', '.join('*' if w is None else str(w) for w in want) + ')'
            raise ValueError(f'{path}: key {key!r} has shape {shape}, expected {pretty} '
                             f'(V = {num_verts} from v_template)')
    if 'J_regressor' in keys and 'kintree_table' in keys and 'weights' in keys:
        num_joints = _shape(model['J_regressor'])[0]
        if (_shape(model['kintree_table'])[1] != num_joints
                or _shape(model['weights'])[1] != num_joints):
            raise ValueError(
                f'{path}: joint counts disagree: J_regressor {_shape(model["J_regressor"])}, '
                f'kintree_table {_shape(model["kintree_table"])}, weights '
                f'{_shape(model["weights"])}')
    if 'f' in keys and num_verts is not None:
        faces = np.asarray(model['f'])
        if faces.size and (faces.min() < 0 or faces.max() >= num_verts):
            raise ValueError(f'{path}: face indices span [{faces.min()}, {faces.max()}], '
                             f'expected [0, {num_verts - 1}]')


def _kind(has_hand_keys: bool) -> str:
    return 'MANO' if has_hand_keys else 'SMPL'


def _check_kind(model: Dict[str, Any], path: Path, keys: Sequence[str]) -> None:
    """An SMPL file where a MANO file is expected (or the reverse) is named as such."""
    if not all(key in keys for key in SMPL_KEYS):
        return  # a partial read (e.g. v_template and f of either model)
    hand_keys = [key for key in MANO_KEYS if key not in SMPL_KEYS]
    wanted = _kind(any(key in keys for key in hand_keys))
    found = _kind('hands_components' in model)
    if wanted == found or not all(key in model for key in SMPL_KEYS):
        return
    vertices = _shape(model['v_template'])[:1] or ('?', )
    joints = _shape(model['J_regressor'])[:1] or ('?', )
    hint = {'MANO': "mesh_type='hand' / model_type='mano' read MANO_RIGHT.pkl or MANO_LEFT.pkl",
            'SMPL': "mesh_type='body' / model_type='smpl' read SMPL_{NEUTRAL,MALE,FEMALE}.pkl"}
    article = {'SMPL': 'an', 'MANO': 'a'}
    hands = 'with' if found == 'MANO' else 'no'
    raise ValueError(f'{path}: this is {article[found]} {found} file ({vertices[0]} vertices, '
                     f'{joints[0]} joints, {hands} hands_components), but {article[wanted]} '
                     f'{wanted} file was expected ({hint[wanted]})')


def load_model_file(path: PathLike,
                    required_keys: Iterable[str] = SMPL_KEYS,
                    num_vertices: Optional[int] = None,
                    num_joints: Optional[int] = None) -> Dict[str, Any]:
    """Read an SMPL or MANO model file into a dict of numpy / scipy.sparse values.

    Args:
        path: A ``.pkl`` (official files, chumpy objects allowed) or ``.npz`` model file.
        required_keys: Keys that must be present, e.g. :data:`SMPL_KEYS` or
            :data:`MANO_KEYS`. Their shapes are checked against each other.
        num_vertices: If given, the vertex count ``v_template`` must have
            (6890 for SMPL, 778 for MANO).
        num_joints: If given, the joint count ``J_regressor`` must have
            (24 for SMPL, 16 for MANO).

    Returns:
        The file's contents with chumpy objects replaced by numpy arrays: ``v_template``
        (V, 3), ``shapedirs`` (V, 3, B), ``posedirs`` (V, 3, P), ``J_regressor`` (J, V)
        (often scipy.sparse), ``weights`` (V, J), ``kintree_table`` (2, J), ``f`` (F, 3), ...

    Raises:
        FileNotFoundError: ``path`` does not exist (the message says where the files go).
        ValueError: Unknown extension, unreadable file, missing keys, inconsistent shapes or
            a vertex/joint count other than the expected one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'Body model file not found: {path}. {_WHERE_FILES_GO}.')
    suffix = path.suffix.lower()
    if suffix == '.pkl':
        model = _read_pkl(path)
    elif suffix == '.npz':
        model = _read_npz(path)
    else:
        raise ValueError(f'{path}: unknown model file extension {path.suffix!r}, '
                         "expected '.pkl' or '.npz'")

    keys = tuple(required_keys)
    _check_kind(model, path, keys)
    missing = [key for key in keys if key not in model]
    if missing:
        raise ValueError(f'{path}: not an SMPL/MANO model file: missing keys {missing} '
                         f'(found {sorted(model)})')
    _check_consistency(model, path, keys)

    if num_vertices is not None:
        found = _shape(model['v_template'])[0]
        if found != num_vertices:
            raise ValueError(f'{path}: v_template has {found} vertices, expected '
                             f'{num_vertices}')
    if num_joints is not None:
        found = _shape(model['J_regressor'])[0]
        if found != num_joints:
            raise ValueError(f'{path}: J_regressor has {found} joints, expected {num_joints}')
    return model


def to_smplx_struct(model: Dict[str, Any]) -> Struct:
    """Wrap a loaded model dict as the ``data_struct`` smplx's SMPL/MANO constructors accept.

    Args:
        model: The dict returned by :func:`load_model_file`.

    Returns:
        A ``smplx.utils.Struct`` whose attributes are the dict's items.
    """
    return Struct(**model)
