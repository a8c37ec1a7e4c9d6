"""The joint and vertex tokens enter transformer 1 shared by every image (batch 1).

Their image-independent part (the first decoder layer's self-attention block and the
cross-attention's query projection) is computed once, and in eval mode without autograd kept
between calls. These tests hold the outputs to the per-image computation: equal in eval mode,
and in training mode equal with the same random draws, gradients included.
"""
import numpy as np
import torch

from fastmetro_mm.mesh.attention_mask import attention_mask_to_additive, build_attention_mask
from fastmetro_mm.models.transformer import FastMETROTransformer

K, N, S, D = 3, 6, 5, 16


def _ring(n: int) -> np.ndarray:
    adjacency = np.zeros((n, n))
    for i in range(n):
        adjacency[i, (i + 1) % n] = adjacency[(i + 1) % n, i] = 1
    return adjacency


def _inputs(batch: int):
    gen = torch.Generator().manual_seed(7)
    image = torch.randn(batch, S, D, generator=gen)
    camera = torch.randn(batch, 1, D, generator=gen)
    tokens = torch.randn(1, K + N, D, generator=gen)
    pos = torch.randn(S, D, generator=gen)
    mask = attention_mask_to_additive(build_attention_mask(_ring(N), K))
    return image, camera, tokens, pos, mask


def _transformer(depth: int = 2) -> FastMETROTransformer:
    torch.manual_seed(0)
    return FastMETROTransformer(D, nhead=4, num_encoder_layers=1, num_decoder_layers=depth,
                                dim_feedforward=32, dropout=0.1)


def test_shared_tokens_equal_per_image_tokens_in_eval_mode():
    model = _transformer().eval()
    image, camera, tokens, pos, mask = _inputs(4)
    with torch.no_grad():
        shared = model(image, camera, tokens, pos, mask, static_key=('tokens', 0))
        again = model(image, camera, tokens, pos, mask, static_key=('tokens', 0))  # kept part
        per_image = model(image, camera, tokens.expand(4, -1, -1), pos, mask)
    for a, b, c in zip(shared[:3], again[:3], per_image[:3]):
        assert a.shape == c.shape
        torch.testing.assert_close(a, c, rtol=0, atol=1e-6)
        torch.testing.assert_close(b, c, rtol=0, atol=1e-6)


def test_shared_tokens_equal_per_image_tokens_in_training_with_dropout():
    model = _transformer().train()
    image, camera, tokens, pos, mask = _inputs(3)
    results = []
    for query in (tokens.clone().requires_grad_(), tokens.expand(3, -1, -1).clone()):
        query.requires_grad_()
        torch.manual_seed(11)
        out = model(image, camera, query, pos, mask)
        total = out.queries.square().sum() + out.camera.sum()
        model.zero_grad(set_to_none=True)
        total.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        token_grad = query.grad.sum(0, keepdim=True)
        results.append((out.queries.detach(), grads, token_grad))
    (q_shared, g_shared, t_shared), (q_each, g_each, t_each) = results
    # Same random draws: dropout differs per image in both, and identically.
    torch.testing.assert_close(q_shared, q_each, rtol=0, atol=1e-6)
    for name in g_each:
        torch.testing.assert_close(g_shared[name], g_each[name], rtol=1e-5, atol=1e-6,
                                   msg=lambda m, name=name: f'{name}: {m}')
    torch.testing.assert_close(t_shared, t_each, rtol=1e-5, atol=1e-6)


def test_kept_part_follows_weight_changes():
    model = _transformer().eval()
    image, camera, tokens, pos, mask = _inputs(2)
    key = ('tokens', 0)
    with torch.no_grad():
        before = model(image, camera, tokens, pos, mask, static_key=key).queries
        # An optimizer-style in-place update of a first-layer weight: the kept part is stale.
        model.decoder.layers[0].self_attn.in_proj_weight.add_(0.05)
        after = model(image, camera, tokens, pos, mask, static_key=key).queries
        fresh = model(image, camera, tokens.expand(2, -1, -1), pos, mask).queries
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, fresh, rtol=0, atol=1e-6)

    # Loading other weights (copy_ into the parameters) is seen as well.
    other = _transformer(2)
    torch.manual_seed(5)
    for p in other.parameters():
        p.data.normal_()
    model.load_state_dict(other.state_dict())
    with torch.no_grad():
        loaded = model(image, camera, tokens, pos, mask, static_key=key).queries
        expected = other.eval()(image, camera, tokens.expand(2, -1, -1), pos, mask).queries
    torch.testing.assert_close(loaded, expected, rtol=0, atol=1e-5)


def test_nothing_is_kept_with_autograd_or_without_a_key():
    model = _transformer(1).eval()
    image, camera, tokens, pos, mask = _inputs(2)
    layer = model.decoder.layers[0]
    model(image, camera, tokens, pos, mask, static_key=('k',))  # autograd on
    assert layer._static_cache is None
    with torch.no_grad():
        model(image, camera, tokens, pos, mask)  # no key
        assert layer._static_cache is None
        model(image, camera, tokens, pos, mask, static_key=('k',))
        assert layer._static_cache is not None
        model.to(torch.float64)  # moving or casting drops it
        assert layer._static_cache is None


def test_shared_tokens_attention_weights_have_the_batch_and_equal_per_image_ones():
    model = _transformer().eval()
    image, camera, tokens, pos, mask = _inputs(3)
    with torch.no_grad():
        shared = model(image, camera, tokens, pos, mask, need_weights=True)
        per_image = model(image, camera, tokens.expand(3, -1, -1), pos, mask, need_weights=True)
    for name in ('decoder_self_attn', 'decoder_cross_attn'):
        for a, b in zip(shared.attention[name], per_image.attention[name]):
            assert a.shape == b.shape and a.shape[0] == 3
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    torch.testing.assert_close(shared.queries, per_image.queries, rtol=0, atol=1e-6)
