import numpy as np
import pytest
import trimesh

from fastmetro_mm.mesh.decimation import quadric_edge_collapse
from fastmetro_mm.mesh.upsampling_matrix import (TrianglePart, closest_points_on_mesh,
                                                 nearest_on_triangles, upsampling_matrix,
                                                 upsampling_weights)

# Right triangle in the plane z = 1 (off the origin, so [a b c] is invertible).
TRIANGLE = np.array([[0., 0., 1.], [1., 0., 1.], [0., 1., 1.]])

# query, part, closest point, weights on (a, b, c), each worked out by hand. Edge weights are
# the least-squares fit of the query itself (not its foot) by the two edge vertices.
CASES = [
    ((0.2, 0.3, 1.5), TrianglePart.INTERIOR, (0.2, 0.3, 1.0), (0.5, 0.2, 0.3)),
    # x: w_b = 0.5, z: w_a + w_b = 1.2, y: residual -0.4 -> (0.7, 0.5).
    ((0.5, -0.4, 1.2), TrianglePart.EDGE_AB, (0.5, 0.0, 1.0), (0.7, 0.5, 0.0)),
    # min (w_b - .7)^2 + (w_c - .6)^2 + (w_b + w_c - 1)^2 -> w_b = 0.6, w_c = 0.5.
    ((0.7, 0.6, 1.0), TrianglePart.EDGE_BC, (0.55, 0.45, 1.0), (0.0, 0.6, 0.5)),
    # y: w_c = 0.5, z: w_a + w_c = 0.8, x: residual -0.3 -> (0.3, 0.5).
    ((-0.3, 0.5, 0.8), TrianglePart.EDGE_CA, (0.0, 0.5, 1.0), (0.3, 0.0, 0.5)),
    ((-0.5, -0.5, 1.3), TrianglePart.CORNER_A, (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
    ((1.5, -0.6, 0.7), TrianglePart.CORNER_B, (1.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    ((-0.4, 1.5, 1.0), TrianglePart.CORNER_C, (0.0, 1.0, 1.0), (0.0, 0.0, 1.0)),
]


@pytest.mark.parametrize('query,part,closest,weights', CASES)
def test_point_on_triangle_cases(query, part, closest, weights):
    found_part, found_closest = nearest_on_triangles(np.array([query]), TRIANGLE[None])
    assert found_part.tolist() == [part]
    np.testing.assert_allclose(found_closest[0], closest, atol=1e-12)
    found_weights = upsampling_weights(np.array(query), TRIANGLE, part, found_closest[0])
    np.testing.assert_allclose(found_weights, weights, atol=1e-12)


def test_matrix_rows_from_hand_cases():
    queries = np.array([case[0] for case in CASES])
    matrix = upsampling_matrix(queries, TRIANGLE, np.array([[0, 1, 2]]))
    assert matrix.shape == (len(CASES), 3)
    assert matrix.nnz == 3 * len(CASES)  # zeros are stored too
    np.testing.assert_allclose(matrix.toarray(), [case[3] for case in CASES], atol=1e-12)


def test_ties_go_to_the_lowest_face():
    # A query above the shared corner 0 of two faces is equally close to both.
    vertices = np.array([[0., 0., 0.], [1., 0., 0.], [0., 1., 0.], [-1., 0., 0.]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    nearest = closest_points_on_mesh(np.array([[0., 0., 0.]]), vertices, faces)
    assert nearest.face.tolist() == [0]
    assert nearest.squared_distance.tolist() == [0.0]


@pytest.fixture(scope='module')
def decimated_sphere():
    mesh = trimesh.creation.icosphere(subdivisions=2)
    vertices = np.asarray(mesh.vertices) * [1.0, 0.7, 0.4]
    result = quadric_edge_collapse(vertices, np.asarray(mesh.faces), 41)
    coarse = vertices[result.kept]
    matrix = upsampling_matrix(vertices, coarse, result.faces)
    return vertices, coarse, result, matrix


def test_sphere_matrix_reconstructs_kept_vertices(decimated_sphere):
    vertices, coarse, result, matrix = decimated_sphere
    assert matrix.shape == (162, 41)
    assert np.all(np.diff(matrix.tocsr().indptr) == 3)
    dense = matrix.toarray()
    np.testing.assert_allclose(dense[result.kept], np.eye(41), atol=1e-12)
    np.testing.assert_allclose(matrix @ coarse, vertices, atol=0.2)


def test_sphere_interior_rows_are_barycentric(decimated_sphere):
    vertices, coarse, result, matrix = decimated_sphere
    nearest = closest_points_on_mesh(vertices, coarse, result.faces)
    interior = nearest.part == TrianglePart.INTERIOR
    assert interior.sum() > 100
    dense = matrix.toarray()
    np.testing.assert_allclose(dense[interior].sum(axis=1), 1.0, atol=1e-12)
    # Interior rows reproduce the closest point on the coarse surface.
    np.testing.assert_allclose((matrix @ coarse)[interior], nearest.point[interior],
                               atol=1e-12)
    assert np.all(nearest.squared_distance[result.kept] == 0)
