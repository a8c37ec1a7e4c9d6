"""Tests for fastmetro_mm.mesh.joint_regressor."""
import numpy as np
import pytest
import scipy.sparse
import torch

from fastmetro_mm.mesh.joint_regressor import JointRegressor
from fastmetro_mm.mesh.joint_sets import (H36M_TO_J14, MANO_21_REORDER,
                                          MANO_FINGERTIP_VERTEX_IDS)


def sparse_regressor(num_joints=17, num_verts=6890, nnz_per_row=6, seed=0) -> np.ndarray:
    """A dense (K, V) array with few non-zeros per row, like J_regressor_h36m_correct."""
    rng = np.random.default_rng(seed)
    matrix = np.zeros((num_joints, num_verts))
    for k in range(num_joints):
        cols = rng.choice(num_verts, size=nnz_per_row, replace=False)
        matrix[k, cols] = rng.random(nnz_per_row)
    matrix[3] = 0.0  # an all-zero row must still work
    return matrix


def test_matches_dense_product_and_stores_only_nonzeros():
    matrix = sparse_regressor()
    regressor = JointRegressor(matrix)
    assert regressor.indices.shape == (17, 6) and regressor.weights.shape == (17, 6)
    assert regressor.nnz == 16 * 6
    assert regressor.state_dict() == {}
    torch.testing.assert_close(regressor.to_dense(), torch.from_numpy(matrix), rtol=0, atol=0)

    vertices = torch.randn(3, 6890, 3, dtype=torch.float64)
    expected = torch.einsum('kv,bvc->bkc', torch.from_numpy(matrix), vertices)
    torch.testing.assert_close(regressor(vertices), expected, rtol=1e-12, atol=1e-12)
    out32 = regressor(vertices.float())
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32, expected.float(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kind', ['numpy', 'scipy', 'torch', 'torch_sparse'])
def test_input_kinds_agree(kind):
    matrix = sparse_regressor(num_joints=5, num_verts=50, seed=1)
    converted = {
        'numpy': lambda: matrix,
        'scipy': lambda: scipy.sparse.csc_matrix(matrix),
        'torch': lambda: torch.from_numpy(matrix).float(),
        'torch_sparse': lambda: torch.from_numpy(matrix).to_sparse(),
    }[kind]()
    regressor = JointRegressor(converted)
    tol = 1e-7 if kind == 'torch' else 0.0
    torch.testing.assert_close(regressor.to_dense(), torch.from_numpy(matrix), rtol=0,
                               atol=tol)


def test_select_rows():
    matrix = sparse_regressor()
    full = JointRegressor(matrix)
    j14 = JointRegressor(matrix, select=H36M_TO_J14)
    vertices = torch.randn(2, 6890, 3)
    torch.testing.assert_close(j14(vertices), full(vertices)[:, list(H36M_TO_J14)], rtol=0,
                               atol=0)
    with pytest.raises(ValueError, match=r'rows \[17\] outside \[0, 16\]'):
        JointRegressor(matrix, select=[0, 17])


def test_gradients_and_autocast():
    matrix = sparse_regressor(num_joints=4, num_verts=30, seed=2)
    regressor = JointRegressor(matrix)
    vertices = torch.randn(2, 30, 3, requires_grad=True)
    regressor(vertices).sum().backward()
    # d(sum of joints)/d(vertex v) = sum_k M[k, v] for each coordinate.
    expected = torch.from_numpy(matrix.sum(axis=0)).float()[None, :, None].expand(2, 30, 3)
    torch.testing.assert_close(vertices.grad, expected)

    reference = regressor(vertices.detach())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = regressor(vertices.detach())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference, rtol=0, atol=0)
    half = regressor(vertices.detach().half())
    assert half.dtype == torch.float32


def test_vertex_count_is_validated():
    regressor = JointRegressor(sparse_regressor(num_joints=4, num_verts=30))
    with pytest.raises(ValueError, match=r'vertices of shape \(B, 30, C\), got \(2, 31, 3\)'):
        regressor(torch.zeros(2, 31, 3))
    with pytest.raises(ValueError, match=r'got \(30, 3\)'):
        regressor(torch.zeros(30, 3))
    with pytest.raises(ValueError, match='expected 6890 columns'):
        JointRegressor(np.ones((2, 30)), num_vertices=6890)
    with pytest.raises(ValueError, match='expected a 2-D'):
        JointRegressor(np.ones(30))


def test_from_file(tmp_path):
    matrix = sparse_regressor()
    np.save(tmp_path / 'J_regressor_h36m_correct.npy', matrix)
    scipy.sparse.save_npz(tmp_path / 'sparse.npz', scipy.sparse.csr_matrix(matrix))
    np.savez(tmp_path / 'single.npz', regressor=matrix)
    np.savez(tmp_path / 'multi.npz', a=matrix, b=matrix[:2])
    for name, kwargs in [('J_regressor_h36m_correct.npy', {}), ('sparse.npz', {}),
                         ('single.npz', {}), ('multi.npz', {'key': 'a'})]:
        regressor = JointRegressor.from_file(tmp_path / name, num_vertices=6890,
                                             num_joints=17, **kwargs)
        torch.testing.assert_close(regressor.to_dense(), torch.from_numpy(matrix), rtol=0,
                                   atol=0)
    assert JointRegressor.from_file(tmp_path / 'sparse.npz', select=H36M_TO_J14).num_joints \
        == 14

    with pytest.raises(ValueError, match=r'h36m_correct\.npy: regressor has shape '
                       r'\(17, 6890\), expected \(17, 778\)'):
        JointRegressor.from_file(tmp_path / 'J_regressor_h36m_correct.npy', num_joints=17,
                                 num_vertices=778)
    with pytest.raises(ValueError, match=r"multi\.npz: holds several arrays \['a', 'b'\]"):
        JointRegressor.from_file(tmp_path / 'multi.npz')
    with pytest.raises(KeyError, match="no array 'c'"):
        JointRegressor.from_file(tmp_path / 'multi.npz', key='c')
    with pytest.raises(FileNotFoundError, match=r'missing\.npy.*data folder'):
        JointRegressor.from_file(tmp_path / 'missing.npy')
    (tmp_path / 'reg.txt').write_text('1 2')
    with pytest.raises(ValueError, match=r"'\.npy' or '\.npz'"):
        JointRegressor.from_file(tmp_path / 'reg.txt')


def test_mano_21_joints():
    rng = np.random.default_rng(3)
    j16 = rng.random((16, 778)) * (rng.random((16, 778)) < 0.05)
    regressor = JointRegressor.mano_21(scipy.sparse.csc_matrix(j16))
    assert regressor.num_joints == 21
    vertices = torch.randn(2, 778, 3, dtype=torch.float64)
    joints16 = torch.einsum('kv,bvc->bkc', torch.from_numpy(j16), vertices)
    tips = vertices[:, list(MANO_FINGERTIP_VERTEX_IDS)]
    expected = torch.cat([joints16, tips], dim=1)[:, list(MANO_21_REORDER)]
    torch.testing.assert_close(regressor(vertices), expected, rtol=1e-12, atol=1e-12)
    # Wrist first, the thumb tip (vertex 745) fifth, the pinky tip (673) last.
    torch.testing.assert_close(regressor(vertices)[:, 4], vertices[:, 745])
    torch.testing.assert_close(regressor(vertices)[:, 20], vertices[:, 673])
    with pytest.raises(ValueError, match='not a permutation'):
        JointRegressor.mano_21(j16[:15])
    with pytest.raises(ValueError, match=r'fingertip vertex ids \[745\] outside'):
        JointRegressor.mano_21(j16[:, :700])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu():
    matrix = sparse_regressor()
    regressor = JointRegressor(matrix)
    vertices = torch.randn(4, 6890, 3)
    cpu = regressor(vertices)
    gpu = regressor.cuda()(vertices.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-6)
