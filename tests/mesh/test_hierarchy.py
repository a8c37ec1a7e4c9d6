import os

import numpy as np
import pytest
import scipy.sparse as sp
import trimesh

from fastmetro_mm.mesh.hierarchy import MeshHierarchy


@pytest.fixture(scope='module')
def hierarchy():
    mesh = trimesh.creation.icosphere(subdivisions=3)
    vertices = np.asarray(mesh.vertices) * [1.0, 0.6, 0.3]
    return MeshHierarchy.build(vertices, np.asarray(mesh.faces), factors=(4, 4))


def _same_sparse(a, b):
    return (a.shape == b.shape and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data))


def test_build_levels(hierarchy):
    assert hierarchy.num_levels == 3
    assert hierarchy.vertex_counts == (642, 161, 41)  # ceil(642 / 4), ceil(161 / 4)
    assert [a.shape for a in hierarchy.adjacency] == [(642, 642), (161, 161), (41, 41)]
    assert [d.shape for d in hierarchy.down] == [(161, 642), (41, 161)]
    assert [u.shape for u in hierarchy.up] == [(642, 161), (161, 41)]
    for level, faces in enumerate(hierarchy.faces):
        # Closed genus-0 surfaces: F = 2V - 4, and every edge borders two faces.
        assert len(faces) == 2 * hierarchy.vertex_counts[level] - 4
        np.testing.assert_array_equal(hierarchy.adjacency[level].data, 2.0)
    assert hierarchy.num_vertices(-1) == 41


def test_upsampling_chain_order(hierarchy):
    chain = hierarchy.upsampling_chain(2, 0)
    assert chain[0] is hierarchy.up[1] and chain[1] is hierarchy.up[0]
    assert [m.shape for m in hierarchy.upsampling_chain(1, 0)] == [(642, 161)]
    with pytest.raises(ValueError, match='coarser to a finer'):
        hierarchy.upsampling_chain(0, 2)
    with pytest.raises(IndexError, match='level 3'):
        hierarchy.upsampling_chain(3, 0)


def test_kept_vertices_select_each_level_from_the_fine_mesh(hierarchy):
    fine = np.random.default_rng(0).normal(size=(642, 3))
    np.testing.assert_array_equal(hierarchy.kept_vertices(0), np.arange(642))
    coarse = fine
    for level in (1, 2):
        coarse = hierarchy.down[level - 1] @ coarse
        index = hierarchy.kept_vertices(level)
        assert index.dtype == np.int64 and index.shape == (hierarchy.vertex_counts[level], )
        np.testing.assert_array_equal(fine[index], coarse)
    np.testing.assert_array_equal(hierarchy.kept_vertices(-1), hierarchy.kept_vertices(2))
    with pytest.raises(IndexError, match='level 3'):
        hierarchy.kept_vertices(3)


def test_save_load_round_trip_is_exact(hierarchy, tmp_path):
    path = tmp_path / 'hierarchy.npz'
    hierarchy.save(path)
    assert os.listdir(tmp_path) == ['hierarchy.npz']  # no temporary file left behind
    raw = np.load(path, allow_pickle=True)
    assert sorted(raw.files) == ['A', 'D', 'F', 'U']
    assert raw['F'].dtype == object and raw['F'][0].dtype == np.uint32
    assert isinstance(raw['U'][0], sp.csc_matrix)
    loaded = MeshHierarchy.from_npz(path)
    assert loaded.vertex_counts == hierarchy.vertex_counts
    for mine, theirs in zip(hierarchy.faces, loaded.faces):
        np.testing.assert_array_equal(mine, theirs)
    for key in ('adjacency', 'down', 'up'):
        for mine, theirs in zip(getattr(hierarchy, key), getattr(loaded, key)):
            assert _same_sparse(mine, theirs), key


def test_save_refuses_to_overwrite(hierarchy, tmp_path):
    path = tmp_path / 'hierarchy.npz'
    path.write_bytes(b'existing')
    with pytest.raises(FileExistsError, match='overwrite=True'):
        hierarchy.save(path)
    assert path.read_bytes() == b'existing'
    hierarchy.save(path, overwrite=True)
    assert MeshHierarchy.from_npz(path).vertex_counts == (642, 161, 41)


def _write(path, **arrays):
    packed = {}
    for key, items in arrays.items():
        packed[key] = np.empty(len(items), dtype=object)
        for index, item in enumerate(items):
            packed[key][index] = item
    np.savez(path, **packed)


def _parts(hierarchy):
    return dict(A=list(hierarchy.adjacency), U=list(hierarchy.up), D=list(hierarchy.down),
                F=[f.astype(np.uint32) for f in hierarchy.faces])


def test_missing_key_is_named(hierarchy, tmp_path):
    parts = _parts(hierarchy)
    del parts['U']
    _write(tmp_path / 'no_u.npz', **parts)
    with pytest.raises(KeyError, match=r"no_u\.npz.*missing key\(s\) \['U'\]"):
        MeshHierarchy.from_npz(tmp_path / 'no_u.npz')


def test_wrong_down_shape_is_named(hierarchy, tmp_path):
    parts = _parts(hierarchy)
    parts['D'][0] = sp.csc_matrix(parts['D'][0].T)
    _write(tmp_path / 'bad_d.npz', **parts)
    with pytest.raises(ValueError, match=r"bad_d\.npz: key 'D'\[0\] has shape \(642, 161\), "
                                         r'expected \(161, 642\)'):
        MeshHierarchy.from_npz(tmp_path / 'bad_d.npz')


def test_up_rows_must_store_three_entries(hierarchy, tmp_path):
    parts = _parts(hierarchy)
    up = parts['U'][1].tocsr()
    up.data[up.indptr[5]] = 0.0
    up.eliminate_zeros()
    parts['U'][1] = sp.csc_matrix(up)
    _write(tmp_path / 'bad_u.npz', **parts)
    with pytest.raises(ValueError, match=r"key 'U'\[1\] must store exactly 3 entries"):
        MeshHierarchy.from_npz(tmp_path / 'bad_u.npz')


def test_level_count_mismatch_and_face_range(hierarchy, tmp_path):
    parts = _parts(hierarchy)
    parts['F'] = parts['F'][:2]
    _write(tmp_path / 'short_f.npz', **parts)
    with pytest.raises(ValueError, match=r"key 'F' has 2 levels but 'A' has 3"):
        MeshHierarchy.from_npz(tmp_path / 'short_f.npz')
    parts = _parts(hierarchy)
    parts['F'][2] = parts['F'][2] + 1
    _write(tmp_path / 'bad_f.npz', **parts)
    with pytest.raises(ValueError, match=r"key 'F'\[2\].*\[0, 40\]"):
        MeshHierarchy.from_npz(tmp_path / 'bad_f.npz')


def test_down_rows_must_be_one_hot(hierarchy, tmp_path):
    parts = _parts(hierarchy)
    down = parts['D'][0].copy()
    down.data[3] = 0.5
    parts['D'][0] = down
    _write(tmp_path / 'bad_d_values.npz', **parts)
    with pytest.raises(ValueError, match=r"key 'D'\[0\] must select one vertex per row"):
        MeshHierarchy.from_npz(tmp_path / 'bad_d_values.npz')
