import numpy as np
import pytest
import scipy.sparse as sp
import torch

from fastmetro_mm.mesh.upsampler import MeshUpsampler, sparse_rows_to_gather


def _random_up_matrix(n_fine: int, n_coarse: int, seed: int) -> sp.csc_matrix:
    """Three stored entries per row, some explicit zeros, like the official U matrices."""
    rng = np.random.default_rng(seed)
    cols = np.stack([rng.choice(n_coarse, 3, replace=False) for _ in range(n_fine)])
    vals = rng.dirichlet(np.ones(3), size=n_fine)
    vals[::7, 2] = 0.0  # stored zeros must be kept
    rows = np.repeat(np.arange(n_fine), 3)
    return sp.csc_matrix((vals.ravel(), (rows, cols.ravel())), shape=(n_fine, n_coarse))


@pytest.fixture(scope='module')
def chain():
    return [_random_up_matrix(40, 12, 0), _random_up_matrix(150, 40, 1)]


def test_gather_form_keeps_stored_zeros(chain):
    index, weight = sparse_rows_to_gather(chain[0])
    assert index.shape == weight.shape == (40, 3)
    assert np.all(weight[::7, :].min(axis=1) == 0.0)
    dense = np.zeros((40, 12))
    np.add.at(dense, (np.arange(40)[:, None], index), weight)
    np.testing.assert_array_equal(dense, chain[0].toarray())


def test_gather_form_rejects_ragged_rows():
    ragged = sp.csc_matrix(np.array([[1.0, 0, 0], [0.5, 0.5, 0]]))
    with pytest.raises(ValueError, match='same number of entries'):
        sparse_rows_to_gather(ragged)


def test_upsampler_equals_sparse_matmul_chain(chain):
    upsampler = MeshUpsampler(chain).double()
    assert upsampler.vertex_counts == (12, 40, 150)
    x = torch.randn(5, 12, 3, dtype=torch.float64)
    expected = np.stack([chain[1] @ (chain[0] @ xi) for xi in x.numpy()])
    out = upsampler(x)
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)
    out32 = MeshUpsampler(chain)(x.float())
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), expected, atol=1e-5)


def test_upsampler_buffers_not_persistent_and_no_parameters(chain):
    upsampler = MeshUpsampler(chain)
    assert len(list(upsampler.parameters())) == 0
    assert upsampler.state_dict() == {}
    assert {name for name, _ in upsampler.named_buffers()} == {
        'index_0', 'weight_0', 'index_1', 'weight_1'}


def test_upsampler_gradients_match_transpose(chain):
    upsampler = MeshUpsampler(chain[:1]).double()
    x = torch.randn(2, 12, 3, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(2, 40, 3, dtype=torch.float64)
    upsampler(x).backward(grad_out)
    expected = np.stack([chain[0].T @ g for g in grad_out.numpy()])
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-12)
    assert torch.autograd.gradcheck(upsampler, (x.detach().requires_grad_(),))


def test_upsampler_under_autocast_returns_float32(chain):
    upsampler = MeshUpsampler(chain)
    x = torch.randn(2, 12, 3)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = upsampler(x.bfloat16())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, upsampler(x.bfloat16().float()))


def test_upsampler_exports(chain):
    upsampler = MeshUpsampler(chain).eval()
    x = torch.randn(2, 12, 3)
    exported = torch.export.export(upsampler, (x,))
    torch.testing.assert_close(exported.module()(x), upsampler(x))


def test_upsampler_validates_shapes(chain):
    with pytest.raises(ValueError, match='input has 40 vertices'):
        MeshUpsampler([chain[0], chain[0]])
    with pytest.raises(ValueError, match=r'expects \(B, 12, C\)'):
        MeshUpsampler(chain)(torch.zeros(1, 13, 3))
    with pytest.raises(ValueError, match='at least one'):
        MeshUpsampler([])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_upsampler_on_cuda(chain):
    upsampler = MeshUpsampler(chain).cuda()
    x = torch.randn(3, 12, 3)
    torch.testing.assert_close(upsampler(x.cuda()).cpu(), MeshUpsampler(chain)(x))
