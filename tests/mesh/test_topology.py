import numpy as np
import pytest
import scipy.sparse as sp
import trimesh

from fastmetro_mm.mesh.topology import adjacency_from_faces, edges_from_adjacency

# Consistently oriented (outward normals) tetrahedron.
TETRAHEDRON = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])


def test_tetrahedron_every_pair_shares_two_faces():
    adjacency = adjacency_from_faces(TETRAHEDRON, 4)
    assert isinstance(adjacency, sp.csc_matrix)
    assert adjacency.dtype == np.float64
    expected = 2.0 * (np.ones((4, 4)) - np.eye(4))
    np.testing.assert_array_equal(adjacency.toarray(), expected)
    assert adjacency.nnz == 12


def test_open_square_counts_boundary_edges_once():
    # Two triangles sharing the diagonal (0, 2): the diagonal has 2 faces, the rim 1.
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    dense = adjacency_from_faces(faces, 5).toarray()
    expected = np.zeros((5, 5))
    for r, c, count in [(0, 1, 1), (1, 2, 1), (2, 3, 1), (3, 0, 1), (0, 2, 2)]:
        expected[r, c] = expected[c, r] = count
    np.testing.assert_array_equal(dense, expected)  # vertex 4 is unreferenced: empty row


def test_icosphere_adjacency_counted_by_hand():
    sphere = trimesh.creation.icosphere(subdivisions=1)
    assert sphere.vertices.shape == (42, 3) and sphere.faces.shape == (80, 3)
    adjacency = adjacency_from_faces(sphere.faces, 42)
    # Closed surface: V - E + F = 2 gives E = 120 edges, each stored twice with value 2.
    assert adjacency.nnz == 240
    np.testing.assert_array_equal(adjacency.data, 2.0)
    assert adjacency.diagonal().sum() == 0
    degree = np.diff(adjacency.indptr)
    # The 12 icosahedron corners keep valence 5; the 30 edge midpoints have valence 6.
    assert np.sort(degree).tolist() == [5] * 12 + [6] * 30
    assert (adjacency != adjacency.T).nnz == 0


def test_edges_listed_once_in_column_major_order():
    edges = edges_from_adjacency(adjacency_from_faces(TETRAHEDRON, 4))
    assert edges.tolist() == [[0, 1], [0, 2], [1, 2], [0, 3], [1, 3], [2, 3]]


def test_face_index_out_of_range_is_reported():
    with pytest.raises(ValueError, match=r'\[0, 3\].*3 vertices'):
        adjacency_from_faces(TETRAHEDRON, 3)
    with pytest.raises(ValueError, match=r'\(F, 3\)'):
        adjacency_from_faces(np.zeros((4, 4), dtype=int), 4)
