"""Tests for fastmetro_mm.mesh.model_file: reading SMPL/MANO files without chumpy.

The official .pkl files were written by Python 2 and hold chumpy ``Ch`` objects, numpy
arrays and a scipy.sparse ``J_regressor``. ``Py2Pickle`` below writes the same opcode
structure by hand (GLOBAL 'chumpy.ch Ch', py2 ``str`` array data, ``copy_reg._reconstructor``)
so the loader is tested against what those files really contain, with no chumpy installed.
"""
import pickle
import struct
import sys

import numpy as np
import pytest
import scipy.sparse
import torch

from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.model_file import (MANO_KEYS, SMPL_KEYS, load_model_file,
                                          to_smplx_struct)


class Py2Pickle:
    """Minimal writer of Python-2-style protocol-2 pickles (no memo)."""

    def __init__(self) -> None:
        self.out = bytearray(b'\x80\x02')

    def glob(self, module: str, name: str) -> None:
        self.out += b'c' + module.encode() + b'\n' + name.encode() + b'\n'

    def py2_str(self, data: bytes) -> None:
        # A py2 ``str``: SHORT_BINSTRING / BINSTRING, decoded with encoding='latin1'.
        if len(data) < 256:
            self.out += b'U' + bytes([len(data)]) + data
        else:
            self.out += b'T' + struct.pack('<i', len(data)) + data

    def integer(self, value: int) -> None:
        if 0 <= value < 256:
            self.out += b'K' + bytes([value])
        else:
            self.out += b'J' + struct.pack('<i', value)

    def value(self, obj) -> None:
        if obj is None:
            self.out += b'N'
        elif obj is False:
            self.out += b'\x89'
        elif isinstance(obj, int):
            self.integer(obj)
        elif isinstance(obj, str):
            self.py2_str(obj.encode('latin1'))
        elif isinstance(obj, tuple):
            self.out += b'('
            for item in obj:
                self.value(item)
            self.out += b't'
        elif isinstance(obj, list):
            self.out += b']('
            for item in obj:
                self.value(item)
            self.out += b'e'
        elif isinstance(obj, dict):
            self.out += b'}('
            for key, item in obj.items():
                self.value(key)
                self.value(item)
            self.out += b'u'
        elif isinstance(obj, np.ndarray):
            self.ndarray(obj)
        elif isinstance(obj, FakeCh):
            self.chumpy(obj)
        elif scipy.sparse.issparse(obj):
            self.csc(obj)
        else:
            raise TypeError(type(obj))

    def dtype(self, dtype: np.dtype) -> None:
        self.glob('numpy', 'dtype')
        self.py2_str(dtype.str[1:].encode())
        self.out += b'K\x00K\x01\x87R'
        self.value((3, dtype.str[0], None, None, None, -1, -1, 0))
        self.out += b'b'

    def ndarray(self, array: np.ndarray) -> None:
        # numpy.core.multiarray._reconstruct(ndarray, (0,), 'b') then BUILD with the state
        # (1, shape, dtype, is_fortran, raw bytes as a py2 str), as numpy 1.x under py2 wrote.
        array = np.ascontiguousarray(array)
        self.glob('numpy.core.multiarray', '_reconstruct')
        self.glob('numpy', 'ndarray')
        self.out += b'K\x00\x85'
        self.py2_str(b'b')
        self.out += b'\x87R('
        self.integer(1)
        self.value(tuple(int(n) for n in array.shape))
        self.dtype(array.dtype)
        self.out += b'\x89'
        self.py2_str(array.tobytes())
        self.out += b'tb'

    def chumpy(self, ch: 'FakeCh') -> None:
        # Protocol 2 pickles a new-style object as cls.__new__(cls) (NEWOBJ) + BUILD(state).
        self.glob('chumpy.ch', ch.cls)
        self.out += b')\x81'
        self.value(ch.state)
        self.out += b'b'

    def csc(self, matrix) -> None:
        # Old scipy pickled sparse matrices via copy_reg._reconstructor + their __dict__.
        matrix = scipy.sparse.csc_matrix(matrix)
        self.glob('copy_reg', '_reconstructor')
        self.out += b'('
        self.glob('scipy.sparse.csc', 'csc_matrix')
        self.glob('__builtin__', 'object')
        self.out += b'NtR'
        self.value({'_shape': tuple(int(n) for n in matrix.shape), 'data': matrix.data,
                    'format': 'csc', 'indices': matrix.indices.astype(np.int32),
                    'indptr': matrix.indptr.astype(np.int32), 'maxprint': 50})
        self.out += b'b'

    def dump(self, obj) -> bytes:
        self.value(obj)
        return bytes(self.out + b'.')


class FakeCh:
    """What the writer should emit as a chumpy object of class ``cls`` with ``state``."""

    def __init__(self, cls: str, state: dict) -> None:
        self.cls = cls
        self.state = state


def tiny_smpl_arrays(rng: np.random.Generator, num_vertices: int = 40) -> dict:
    """Random but valid SMPL-format arrays (24 joints, 10 betas)."""
    weights = np.zeros((num_vertices, 24))
    weights[np.arange(num_vertices), np.arange(num_vertices) % 24] = 1.0
    regressor = rng.random((24, num_vertices)) * (rng.random((24, num_vertices)) < 0.3)
    regressor[np.arange(24), np.arange(24)] += 1.0
    regressor /= regressor.sum(axis=1, keepdims=True)
    parents = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
               20, 21]
    kintree = np.array([parents, list(range(24))], dtype=np.int64)
    kintree[0, 0] = 4294967295  # as in the official files (uint32 -1)
    return {
        'v_template': rng.normal(size=(num_vertices, 3)),
        'shapedirs': rng.normal(scale=0.01, size=(num_vertices, 3, 10)),
        'posedirs': rng.normal(scale=0.01, size=(num_vertices, 3, 207)),
        'J_regressor': scipy.sparse.csc_matrix(regressor),
        'weights': weights,
        'kintree_table': kintree,
        'f': rng.integers(0, num_vertices, size=(50, 3)).astype(np.uint32),
        'bs_style': 'lbs',
        'bs_type': 'lrotmin',
    }


def write_py2_model(path, arrays: dict) -> None:
    """Write ``arrays`` the way the official SMPL .pkl is laid out (shapedirs as chumpy)."""
    content = dict(arrays)
    content['shapedirs'] = FakeCh('Ch', {'x': arrays['shapedirs'], 'dr_lookup': {}})
    path.write_bytes(Py2Pickle().dump(content))


def test_reads_py2_chumpy_pickle(tmp_path):
    rng = np.random.default_rng(0)
    arrays = tiny_smpl_arrays(rng)
    path = tmp_path / 'SMPL_NEUTRAL.pkl'
    write_py2_model(path, arrays)
    assert b'chumpy.ch\nCh\n' in path.read_bytes()
    assert 'chumpy' not in sys.modules

    model = load_model_file(path, SMPL_KEYS, num_vertices=40, num_joints=24)
    assert 'chumpy' not in sys.modules
    assert isinstance(model['shapedirs'], np.ndarray)
    np.testing.assert_array_equal(model['shapedirs'], arrays['shapedirs'])
    np.testing.assert_array_equal(model['v_template'], arrays['v_template'])
    np.testing.assert_array_equal(model['f'], arrays['f'])
    assert model['f'].dtype == np.uint32
    assert model['kintree_table'][0, 0] == 4294967295
    assert model['bs_style'] == 'lbs'
    regressor = model['J_regressor']
    assert scipy.sparse.issparse(regressor)
    np.testing.assert_array_equal(regressor.toarray(), arrays['J_regressor'].toarray())


def test_plain_pickle_and_npz_match_chumpy_pickle(tmp_path):
    rng = np.random.default_rng(1)
    arrays = tiny_smpl_arrays(rng)
    write_py2_model(tmp_path / 'chumpy.pkl', arrays)
    with open(tmp_path / 'plain.pkl', 'wb') as f:
        pickle.dump(arrays, f, protocol=4)
    np.savez(tmp_path / 'model.npz', **arrays)

    loaded = [load_model_file(tmp_path / name) for name in
              ('chumpy.pkl', 'plain.pkl', 'model.npz')]
    for model in loaded[1:]:
        for key in SMPL_KEYS:
            a, b = loaded[0][key], model[key]
            if scipy.sparse.issparse(a):
                a, b = a.toarray(), b.toarray()
            np.testing.assert_array_equal(a, b, err_msg=key)
    # The npz stores the sparse regressor and the strings as 0-d object arrays: unwrapped.
    assert scipy.sparse.issparse(loaded[2]['J_regressor'])
    assert loaded[2]['bs_style'] == 'lbs' and isinstance(loaded[2]['bs_style'], str)


def test_body_model_from_chumpy_pickle_equals_npz(tmp_path):
    rng = np.random.default_rng(2)
    arrays = tiny_smpl_arrays(rng)
    write_py2_model(tmp_path / 'SMPL_NEUTRAL.pkl', arrays)
    np.savez(tmp_path / 'SMPL_NEUTRAL.npz', **arrays)
    pose = torch.from_numpy(rng.normal(scale=0.3, size=(2, 72))).float()
    betas = torch.from_numpy(rng.normal(size=(2, 10))).float()
    out_pkl = BodyModel.smpl(tmp_path / 'SMPL_NEUTRAL.pkl')(pose, betas)
    out_npz = BodyModel.smpl(tmp_path / 'SMPL_NEUTRAL.npz')(pose, betas)
    assert torch.equal(out_pkl.vertices, out_npz.vertices)
    # Zero pose and betas reproduce the template: the arrays really went through.
    zero = BodyModel.smpl(tmp_path)(torch.zeros(1, 72)).vertices[0]
    torch.testing.assert_close(zero, torch.from_numpy(arrays['v_template']).float())


def test_nested_chumpy_in_lists_and_dicts(tmp_path):
    array = np.arange(6.0).reshape(2, 3)
    content = {'v_template': array, 'nested': {'a': [FakeCh('Ch', {'x': array})]}}
    path = tmp_path / 'nested.pkl'
    path.write_bytes(Py2Pickle().dump(content))
    model = load_model_file(path, required_keys=('v_template', ))
    np.testing.assert_array_equal(model['nested']['a'][0], array)


def test_chumpy_expression_without_x_is_an_error(tmp_path):
    content = {'v_template': np.zeros((2, 3)),
               'shapedirs': FakeCh('Select', {'a': np.zeros(3), 'idxs': np.arange(3)})}
    path = tmp_path / 'expr.pkl'
    path.write_bytes(Py2Pickle().dump(content))
    with pytest.raises(ValueError, match=r"'shapedirs'.*chumpy\.ch\.Select.*'x'"):
        load_model_file(path, required_keys=('v_template', ))


def test_missing_file_says_where_files_go(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'SMPL_NEUTRAL\.pkl.*data/body_models'):
        load_model_file(tmp_path / 'SMPL_NEUTRAL.pkl')


def test_missing_keys_are_named(tmp_path):
    rng = np.random.default_rng(3)
    arrays = tiny_smpl_arrays(rng)
    del arrays['posedirs'], arrays['weights']
    np.savez(tmp_path / 'broken.npz', **arrays)
    with pytest.raises(ValueError, match=r"broken\.npz.*missing keys \['posedirs', 'weights'\]"):
        load_model_file(tmp_path / 'broken.npz')
    # SMPL keys are present in a SMPL file but MANO's are not.
    np.savez(tmp_path / 'smpl.npz', **tiny_smpl_arrays(rng))
    with pytest.raises(ValueError, match=r"hands_components"):
        load_model_file(tmp_path / 'smpl.npz', MANO_KEYS)


def test_vertex_and_joint_counts_are_checked(tmp_path):
    arrays = tiny_smpl_arrays(np.random.default_rng(4))
    np.savez(tmp_path / 'model.npz', **arrays)
    with pytest.raises(ValueError, match=r'model\.npz.*40 vertices, expected 6890'):
        load_model_file(tmp_path / 'model.npz', num_vertices=6890)
    with pytest.raises(ValueError, match=r'24 joints, expected 16'):
        load_model_file(tmp_path / 'model.npz', num_joints=16)


def test_inconsistent_shapes_are_errors(tmp_path):
    arrays = tiny_smpl_arrays(np.random.default_rng(5))
    arrays['weights'] = arrays['weights'][:-1]
    np.savez(tmp_path / 'model.npz', **arrays)
    with pytest.raises(ValueError, match=r"'weights' has shape \(39, 24\), expected \(40, \*\)"):
        load_model_file(tmp_path / 'model.npz')
    arrays = tiny_smpl_arrays(np.random.default_rng(5))
    arrays['f'][0, 0] = 40
    np.savez(tmp_path / 'faces.npz', **arrays)
    with pytest.raises(ValueError, match=r'face indices span \[0, 40\], expected \[0, 39\]'):
        load_model_file(tmp_path / 'faces.npz')


def test_not_a_model_file(tmp_path):
    path = tmp_path / 'list.pkl'
    with open(path, 'wb') as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(ValueError, match=r'list\.pkl.*expected a pickled dict'):
        load_model_file(path)
    (tmp_path / 'junk.pkl').write_bytes(b'not a pickle')
    with pytest.raises(ValueError, match=r'junk\.pkl.*not a readable'):
        load_model_file(tmp_path / 'junk.pkl')
    (tmp_path / 'model.obj').write_text('v 0 0 0\n')
    with pytest.raises(ValueError, match=r"extension '\.obj'"):
        load_model_file(tmp_path / 'model.obj')


def test_to_smplx_struct_exposes_attributes():
    arrays = tiny_smpl_arrays(np.random.default_rng(6))
    data_struct = to_smplx_struct(arrays)
    assert data_struct.v_template is arrays['v_template']
    assert data_struct.J_regressor is arrays['J_regressor']
