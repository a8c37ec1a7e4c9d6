import math

import numpy as np
import pytest
import trimesh

from fastmetro_mm.mesh.decimation import quadric_edge_collapse, vertex_quadrics


@pytest.fixture(scope='module')
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=3)
    # An ellipsoid, so that the collapse costs are not all tied.
    return np.asarray(mesh.vertices) * [1.0, 0.6, 0.3], np.asarray(mesh.faces)


def test_flat_square_collapses_first_edge_by_hand():
    # All quadrics of a flat mesh vanish at its vertices, so every cost is 0 and the heap
    # pops the lowest edge, (0, 1). Equal costs destroy r (= 0); face [0, 1, 2] becomes
    # degenerate and goes, [0, 2, 3] becomes [1, 2, 3] -> [0, 1, 2] in the new numbering.
    vertices = np.array([[0., 0., 0.], [1., 0., 0.], [1., 1., 0.], [0., 1., 0.]])
    result = quadric_edge_collapse(vertices, np.array([[0, 1, 2], [0, 2, 3]]), 3)
    assert result.kept.tolist() == [1, 2, 3]
    assert result.faces.tolist() == [[0, 1, 2]]
    np.testing.assert_array_equal(result.down.toarray(),
                                  [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])


def test_plane_quadric_by_hand():
    # Triangle in the plane z = 2: plane (0, 0, +-1, -+2), quadric = outer product.
    vertices = np.array([[0., 0., 2.], [1., 0., 2.], [0., 1., 2.]])
    quadrics = vertex_quadrics(vertices, np.array([[0, 1, 2]]))
    expected = np.zeros((4, 4))
    expected[2, 2], expected[2, 3], expected[3, 2], expected[3, 3] = 1, -2, -2, 4
    for quadric in quadrics:
        np.testing.assert_allclose(quadric, expected, atol=1e-12)


def test_icosphere_reaches_quarter_with_selection_matrix(sphere):
    vertices, faces = sphere
    target = math.ceil(len(vertices) / 4)
    result = quadric_edge_collapse(vertices, faces, target)
    assert len(vertices) == 642 and target == 161
    assert len(result.kept) == target
    assert np.all(np.diff(result.kept) > 0)
    down = result.down
    assert down.shape == (target, 642)
    np.testing.assert_array_equal(down.data, 1.0)
    np.testing.assert_array_equal(np.diff(down.tocsr().indptr), 1)
    # One 1 per row, in ascending columns: row i selects kept[i].
    np.testing.assert_array_equal(down.tocsr().indices, result.kept)
    np.testing.assert_array_equal(down @ vertices, vertices[result.kept])
    assert result.faces.min() == 0 and result.faces.max() == target - 1
    assert np.unique(result.faces).size == target
    f = result.faces
    assert not np.any((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 2] == f[:, 0]))
    # A closed genus-0 surface stays one: V - E + F = 2 with E = 3F / 2.
    assert target - len(f) * 3 // 2 + len(f) == 2


def test_ellipsoid_result_is_pinned(sphere):
    # Recorded from this implementation once tools/check_hierarchy_parity.py had shown it to
    # reproduce the official SMPL and MANO hierarchies exactly; guards the tie-breaking order.
    vertices, faces = sphere
    result = quadric_edge_collapse(vertices, faces, 161)
    assert result.kept[:12].tolist() == [32, 41, 43, 45, 61, 76, 170, 171, 175, 178, 179, 180]
    assert int(result.kept.sum()) == 62051
    assert result.faces[:3].tolist() == [[129, 125, 123], [123, 17, 16], [125, 17, 123]]


def test_decimation_is_deterministic(sphere):
    vertices, faces = sphere
    first = quadric_edge_collapse(vertices, faces, 100)
    second = quadric_edge_collapse(vertices.copy(), faces.copy(), 100)
    np.testing.assert_array_equal(first.kept, second.kept)
    np.testing.assert_array_equal(first.faces, second.faces)


def test_target_not_below_vertex_count_keeps_everything(sphere):
    vertices, faces = sphere
    result = quadric_edge_collapse(vertices, faces, 642)
    np.testing.assert_array_equal(result.kept, np.arange(642))
    np.testing.assert_array_equal(result.faces, faces)


def test_bad_inputs_are_reported(sphere):
    vertices, faces = sphere
    with pytest.raises(ValueError, match='repeated vertex index'):
        quadric_edge_collapse(vertices, np.vstack([faces, [[0, 0, 1]]]), 100)
    with pytest.raises(ValueError, match='num_target'):
        quadric_edge_collapse(vertices, faces, 2)
    with pytest.raises(ValueError, match=r'\(V, 3\)'):
        quadric_edge_collapse(vertices[:, :2], faces, 100)
