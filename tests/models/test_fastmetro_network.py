from typing import List, Tuple

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from fastmetro_mm.models.fastmetro_network import FastMETRONetwork

BODY = dict(num_joints=14, num_vertices=431, counts=(431, 1723, 6890))
HAND = dict(num_joints=21, num_vertices=195, counts=(195, 778))


def _random_up_matrix(n_fine: int, n_coarse: int, rng: np.random.Generator) -> sp.csc_matrix:
    """(n_fine, n_coarse) with 3 distinct stored columns per row and weights summing to 1."""
    first = rng.integers(0, n_coarse, size=n_fine)
    cols = (first[:, None] + np.arange(3)) % n_coarse
    vals = rng.dirichlet(np.ones(3), size=n_fine)
    rows = np.repeat(np.arange(n_fine), 3)
    return sp.csc_matrix((vals.ravel(), (rows, cols.ravel())), shape=(n_fine, n_coarse))


def _random_adjacency(num_vertices: int, rng: np.random.Generator) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency: a cycle (so every vertex has neighbours) plus random edges."""
    idx = np.arange(num_vertices)
    extra = rng.integers(0, num_vertices, size=(2, 2 * num_vertices))
    rows = np.concatenate([idx, extra[0]])
    cols = np.concatenate([(idx + 1) % num_vertices, extra[1]])
    keep = rows != cols
    upper = sp.coo_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])),
                          shape=(num_vertices, num_vertices))
    return ((upper + upper.T) > 0).astype(np.float64).tocsr()


def _mesh(spec: dict, seed: int = 0) -> Tuple[sp.csr_matrix, List[sp.csc_matrix]]:
    """Adjacency of the coarse mesh and the up-sampling matrices in application order."""
    rng = np.random.default_rng(seed)
    counts = spec['counts']
    ups = [_random_up_matrix(counts[i + 1], counts[i], rng) for i in range(len(counts) - 1)]
    return _random_adjacency(counts[0], rng), ups


@pytest.fixture(scope='module')
def body_mesh():
    return _mesh(BODY)


@pytest.fixture(scope='module')
def hand_mesh():
    return _mesh(HAND, seed=1)


def _network(spec: dict, mesh, **kwargs) -> FastMETRONetwork:
    adjacency, ups = mesh
    return FastMETRONetwork(adjacency, ups, num_joints=spec['num_joints'],
                            num_vertices=spec['num_vertices'], **kwargs)


def _num_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('layout,size,expected', [
    ('paper', 'S', 9_231_366), ('paper', 'M', 17_050_630), ('paper', 'L', 24_869_894),
    ('release', 'S', 10_041_366), ('release', 'M', 17_860_630), ('release', 'L', 25_679_894),
])
def test_body_parameter_counts(body_mesh, layout, size, expected):
    model = _network(BODY, body_mesh, model_size=size, layout=layout)
    assert _num_parameters(model) == expected


@pytest.mark.parametrize('size,expected', [
    ('S', 9_179_782), ('M', 16_999_046), ('L', 24_818_310),
])
def test_hand_parameter_counts(hand_mesh, size, expected):
    model = _network(HAND, hand_mesh, model_size=size, layout='release')
    assert _num_parameters(model) == expected
    # A single fixed step: the paper layout differs only by the shared encoder reduction.
    paper = _network(HAND, hand_mesh, model_size=size, layout='paper')
    assert _num_parameters(paper) == expected - (512 * 128 + 128)


def test_explicit_layer_counts_equal_model_size(body_mesh):
    explicit = _network(BODY, body_mesh, model_size=None, num_encoder_layers=2,
                        num_decoder_layers=2, in_channels=64)
    named = _network(BODY, body_mesh, model_size='M', in_channels=64)
    assert _num_parameters(explicit) == _num_parameters(named)
    uneven = _network(BODY, body_mesh, model_size=None, num_encoder_layers=1,
                      num_decoder_layers=3, in_channels=64)
    assert len(uneven.transformer_2.encoder.layers) == 1
    assert len(uneven.transformer_2.decoder.layers) == 3


def test_output_shapes_body_and_hand(body_mesh, hand_mesh):
    torch.manual_seed(0)
    body = _network(BODY, body_mesh, model_size='S', in_channels=32).eval()
    out = body(torch.randn(2, 32, 7, 7))
    assert out['pred_cam'].shape == (2, 3)
    assert out['pred_3d_joints'].shape == (2, 14, 3)
    assert out['pred_3d_vertices_coarse'].shape == (2, 431, 3)
    assert out['pred_3d_vertices_intermediate'].shape == (2, 1723, 3)
    assert out['pred_3d_vertices_fine'].shape == (2, 6890, 3)
    assert 'attention' not in out
    hand = _network(HAND, hand_mesh, model_size='S', in_channels=32).eval()
    out = hand(torch.randn(1, 32, 5, 6))  # any grid size works
    assert set(out) == {'pred_cam', 'pred_3d_joints', 'pred_3d_vertices_coarse',
                        'pred_3d_vertices_fine'}
    assert out['pred_3d_joints'].shape == (1, 21, 3)
    assert out['pred_3d_vertices_fine'].shape == (1, 778, 3)


def test_paper_layout_uses_the_fixed_chain(body_mesh):
    torch.manual_seed(1)
    _, (up_mid, up_fine) = body_mesh
    model = _network(BODY, body_mesh, model_size='S', in_channels=16, layout='paper').double()
    out = model.eval()(torch.randn(1, 16, 7, 7, dtype=torch.float64))
    coarse = out['pred_3d_vertices_coarse'][0].detach().numpy()
    intermediate = up_mid @ coarse
    np.testing.assert_allclose(out['pred_3d_vertices_intermediate'][0].detach().numpy(),
                               intermediate, atol=1e-12)
    np.testing.assert_allclose(out['pred_3d_vertices_fine'][0].detach().numpy(),
                               up_fine @ intermediate, atol=1e-12)


def test_release_layout_learns_coarse_to_intermediate(body_mesh):
    torch.manual_seed(2)
    _, (_, up_fine) = body_mesh
    model = _network(BODY, body_mesh, model_size='S', in_channels=16).double().eval()
    out = model(torch.randn(1, 16, 7, 7, dtype=torch.float64))
    linear = model.upsample_intermediate
    coarse = out['pred_3d_vertices_coarse'][0]
    expected = linear.weight @ coarse + linear.bias[:, None]  # (1723, 3)
    torch.testing.assert_close(out['pred_3d_vertices_intermediate'][0], expected)
    np.testing.assert_allclose(out['pred_3d_vertices_fine'][0].detach().numpy(),
                               up_fine @ expected.detach().numpy(), atol=1e-12)


def test_attention_path_equals_fused_path(body_mesh):
    torch.manual_seed(3)
    model = _network(BODY, body_mesh, model_size='S', in_channels=32).eval()
    features = torch.randn(2, 32, 7, 7)
    with torch.no_grad():
        fused = model(features)
        explicit = model(features, return_attention=True)
    # Float32 rounding of the two softmax paths: up to ~1e-6 on outputs of magnitude ~0.3.
    for key, value in fused.items():
        torch.testing.assert_close(explicit[key], value, atol=1e-5, rtol=0)
    maps = explicit['attention']['transformer_2']
    assert maps['encoder_self_attn'][0].shape == (2, 50, 50)
    assert maps['decoder_self_attn'][0].shape == (2, 445, 445)
    assert maps['decoder_cross_attn'][0].shape == (2, 445, 49)
    # Forbidden vertex pairs get exactly zero attention.
    forbidden = model.attention_mask.isinf()
    assert torch.all(maps['decoder_self_attn'][0][:, forbidden] == 0)


def test_vertex_tokens_attend_to_their_one_ring_only(body_mesh):
    """First decoder layer: a vertex's output ignores non-adjacent vertex tokens."""
    torch.manual_seed(4)
    adjacency, _ = body_mesh
    model = _network(BODY, body_mesh, model_size='S', in_channels=16).eval()
    vertex = 100
    neighbours = adjacency[vertex].indices
    non_adjacent = next(v for v in range(431) if v != vertex and v not in neighbours)
    captured = {}
    model.transformer_1.decoder.layers[0].register_forward_hook(
        lambda module, args, output: captured.__setitem__('tokens', output[0]))
    features = torch.randn(1, 16, 7, 7)
    row = BODY['num_joints'] + vertex

    def first_layer_vertex_output(changed_vertex=None) -> torch.Tensor:
        with torch.no_grad():
            saved = model.vertex_tokens.weight.clone()
            if changed_vertex is not None:
                # Random, not constant: the pre-norm LayerNorm would erase a constant shift.
                model.vertex_tokens.weight[changed_vertex] += torch.randn(512)
            model(features)
            model.vertex_tokens.weight.copy_(saved)
        return captured['tokens'][0, row].clone()

    baseline = first_layer_vertex_output()
    torch.testing.assert_close(first_layer_vertex_output(non_adjacent), baseline,
                               atol=1e-6, rtol=0)
    assert (first_layer_vertex_output(int(neighbours[0])) - baseline).abs().max() > 1e-3


def test_gradient_step_lowers_l1_loss(hand_mesh):
    torch.manual_seed(5)
    model = _network(HAND, hand_mesh, model_size='S', in_channels=16)
    features = torch.randn(2, 16, 7, 7)
    target_vertices = torch.randn(2, 778, 3) * 0.1
    target_joints = torch.randn(2, 21, 3) * 0.1

    def loss_fn() -> torch.Tensor:
        out = model(features)
        return ((out['pred_3d_vertices_fine'] - target_vertices).abs().mean()
                + (out['pred_3d_joints'] - target_joints).abs().mean())

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return loss_fn().item()

    # Plain SGD with a small step: the first-order decrease dominates (AdamW's sign-like
    # first steps at 1e-4 overshoot on random targets; the official recipe clips gradients).
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    losses = [eval_loss()]
    for _ in range(3):
        model.train()  # dropout on, as in training
        optimizer.zero_grad()
        loss_fn().backward()
        optimizer.step()
        losses.append(eval_loss())
    assert all(after < before for before, after in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.95 * losses[0], losses


def test_mesh_mismatch_errors(body_mesh, hand_mesh):
    body_adjacency, body_ups = body_mesh
    hand_adjacency, hand_ups = hand_mesh
    with pytest.raises(ValueError, match='431 vertex tokens requested but the mesh adjacency '
                                         'has 195 vertices'):
        FastMETRONetwork(hand_adjacency, body_ups, num_joints=14, num_vertices=431)
    with pytest.raises(ValueError, match=r'195 vertex tokens requested but up_matrices\[0\] '
                                         r'has shape \(1723, 431\)'):
        FastMETRONetwork(hand_adjacency, body_ups, num_joints=21, num_vertices=195)
    with pytest.raises(ValueError, match=r'1723 vertices come out of up_matrices\[0\] but '
                                         r'up_matrices\[1\] has shape \(778, 195\)'):
        FastMETRONetwork(body_adjacency, [body_ups[0], hand_ups[0]], num_vertices=431)
    with pytest.raises(ValueError, match='1 \\(hand'):
        FastMETRONetwork(body_adjacency, [], num_vertices=431)


def test_configuration_errors(hand_mesh):
    with pytest.raises(ValueError, match="layout must be one of"):
        _network(HAND, hand_mesh, layout='official')
    with pytest.raises(ValueError, match='model_size must be one of'):
        _network(HAND, hand_mesh, model_size='XL')
    with pytest.raises(ValueError, match='not both'):
        _network(HAND, hand_mesh, model_size='S', num_encoder_layers=1)
    with pytest.raises(ValueError, match='both num_encoder_layers and num_decoder_layers'):
        _network(HAND, hand_mesh, model_size=None, num_encoder_layers=1)
    model = _network(HAND, hand_mesh, model_size='S', in_channels=8)
    with pytest.raises(ValueError, match=r'\(B, 8, h, w\) feature map'):
        model(torch.randn(1, 16, 7, 7))


def test_attention_mask_is_not_checkpointed(hand_mesh):
    model = _network(HAND, hand_mesh, model_size='S', in_channels=8)
    assert model.attention_mask.shape == (216, 216)
    assert 'attention_mask' not in model.state_dict()


def test_head_starts(hand_mesh):
    """camera_bias_init and xyz_head_init_std set only the heads they name; without them
    every weight is the default start drawn from the same seed."""
    torch.manual_seed(0)
    default = _network(HAND, hand_mesh, model_size='S', in_channels=8)
    torch.manual_seed(0)
    camera = _network(HAND, hand_mesh, model_size='S', in_channels=8,
                      camera_bias_init=(9.0, 0.5, -0.5))
    torch.manual_seed(0)
    xyz = _network(HAND, hand_mesh, model_size='S', in_channels=8, xyz_head_init_std=1e-3)

    assert camera.camera_head.bias.tolist() == [9.0, 0.5, -0.5]
    for name, value in default.state_dict().items():
        if name != 'camera_head.bias':
            assert torch.equal(camera.state_dict()[name], value), name
    assert torch.equal(xyz.xyz_head.bias, torch.zeros(3))
    assert 0.5e-3 < xyz.xyz_head.weight.std().item() < 1.5e-3
    assert default.xyz_head.weight.std().item() > 0.02  # nn.Linear's default, 1/sqrt(3*128)

    features = torch.randn(4, 8, 7, 7)
    with torch.no_grad():
        shift = camera.eval()(features)['pred_cam'] - default.eval()(features)['pred_cam']
        assert torch.allclose(shift, torch.tensor([9.0, 0.5, -0.5]) - default.camera_head.bias,
                              atol=1e-5)
        joints = xyz.eval()(features)['pred_3d_joints']
    assert joints.abs().max() < 0.05  # starts near the origin, not ~0.3 m away
    with pytest.raises(ValueError, match=r'camera_bias_init must be \(s, tx, ty\)'):
        _network(HAND, hand_mesh, model_size='S', in_channels=8, camera_bias_init=(9.0, ))


def test_xyz_head_start_leaves_other_weights(body_mesh):
    """In the release layout the learnable 431 -> 1723 layer is built after the heads: it
    starts the same with or without xyz_head_init_std."""
    torch.manual_seed(0)
    default = _network(BODY, body_mesh, model_size='S', in_channels=8, layout='release')
    torch.manual_seed(0)
    xyz = _network(BODY, body_mesh, model_size='S', in_channels=8, layout='release',
                   xyz_head_init_std=1e-3)
    for name, value in default.state_dict().items():
        if not name.startswith('xyz_head.'):
            assert torch.equal(xyz.state_dict()[name], value), name
