"""Dropout masks drawn ahead: the masks, outputs, gradients and generator state of drawing
in place, bit for bit, whatever the pass does differently from the one it recorded."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from fastmetro_mm.models.dropout_draws import DropoutDraws, dropout, dropout_mask
from fastmetro_mm.models.fastmetro_network import FastMETRONetwork

SHAPES = [(4, 8), (2, 3, 5, 5), (4, 16)]


def _calls(inputs, ps, fail_after=None):
    """A pass of dropout calls (the last through dropout_mask, as the attention makes it)."""
    outs = []
    for index, (x, p) in enumerate(zip(inputs, ps)):
        if index == fail_after:
            raise KeyError('stop here')
        if index == len(inputs) - 1:
            outs.append(x * dropout_mask(x, p))
        else:
            outs.append(dropout(x, p, training=True))
    return outs


def _inputs():
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(shape, generator=generator) for shape in SHAPES]


def _run(draws, key, inputs, ps, fail_after=None):
    torch.manual_seed(9)
    try:
        if draws is None:
            outs = _calls(inputs, ps, fail_after)
        else:
            with draws.ahead(key):
                outs = _calls(inputs, ps, fail_after)
    except KeyError:
        outs = []
    return outs, torch.get_rng_state()


def _assert_same(a, b):
    outs_a, state_a = a
    outs_b, state_b = b
    assert len(outs_a) == len(outs_b)
    assert all(torch.equal(x, y) for x, y in zip(outs_a, outs_b))
    assert torch.equal(state_a, state_b)


def test_a_recorded_pass_draws_ahead_what_drawing_in_place_draws():
    draws, inputs, ps = DropoutDraws(), _inputs(), [0.1, 0.2, 0.5]
    inline = _run(None, 'k', inputs, ps)
    _assert_same(_run(draws, 'k', inputs, ps), inline)  # records
    assert list(draws._plans) == ['k']
    for _ in range(3):
        _assert_same(_run(draws, 'k', inputs, ps), inline)  # drawn ahead
    assert list(draws._plans) == ['k']  # followed its plan: kept


@pytest.mark.parametrize('change', ['probability', 'shape', 'dtype', 'fewer calls', 'more calls',
                                    'exception'])
def test_a_pass_that_leaves_its_plan_draws_in_place_from_there(change):
    draws, inputs, ps = DropoutDraws(), _inputs(), [0.1, 0.2, 0.5]
    _run(draws, 'k', inputs, ps)
    fail_after = None
    if change == 'probability':
        ps = [0.1, 0.3, 0.5]
    elif change == 'shape':
        inputs[1] = inputs[1][:1]
    elif change == 'dtype':
        inputs[1] = inputs[1].double()
    elif change == 'fewer calls':
        inputs, ps = inputs[:2], ps[:2]
    elif change == 'more calls':
        inputs, ps = inputs + [torch.ones(6)], ps + [0.4]
    else:
        fail_after = 2
    _assert_same(_run(draws, 'k', inputs, ps, fail_after), _run(None, 'k', inputs, ps, fail_after))
    # A pass that left its plan drops it; the next complete pass records the new calls.
    assert not draws._plans
    for _ in range(2):
        _assert_same(_run(draws, 'k', inputs, ps), _run(None, 'k', inputs, ps))
    assert list(draws._plans) == ['k']


def test_another_draw_from_the_generator_mid_pass_is_kept_in_its_place():
    draws, inputs, ps = DropoutDraws(), _inputs(), [0.1, 0.2, 0.5]
    _run(draws, 'k', inputs, ps)

    def with_foreign_draw(draws):
        torch.manual_seed(9)
        with draws.ahead('k') if draws is not None else torch.no_grad():
            first = dropout(inputs[0], ps[0], training=True)
            foreign = torch.rand(3)  # e.g. a hook's noise, or activation checkpointing
            rest = _calls(inputs[1:], ps[1:])
        return [first, foreign, *rest], torch.get_rng_state()

    _assert_same(with_foreign_draw(draws), with_foreign_draw(None))


def test_a_non_contiguous_input_is_never_planned():
    draws, inputs, ps = DropoutDraws(), _inputs(), [0.1, 0.2, 0.5]
    inputs[0] = inputs[0].t()  # dense but transposed: empty_like keeps its strides
    for _ in range(2):
        _assert_same(_run(draws, 'k', inputs, ps), _run(None, 'k', inputs, ps))
        assert not draws._plans


def test_plans_are_kept_per_key_up_to_the_limit():
    draws, inputs = DropoutDraws(max_plans=2), _inputs()
    for key in ('a', 'b', 'a', 'c'):
        _run(draws, key, inputs, [0.1, 0.2, 0.5])
    assert list(draws._plans) == ['a', 'c']


def _tiny_network(draw_dropout_ahead: bool) -> FastMETRONetwork:
    num_vertices, num_mid = 12, 30
    adjacency = np.zeros((num_vertices, num_vertices))
    for i in range(num_vertices):
        adjacency[i, (i + 1) % num_vertices] = adjacency[(i + 1) % num_vertices, i] = 1
    up = np.zeros((num_mid, num_vertices))
    up[np.arange(num_mid), np.arange(num_mid) % num_vertices] = 1.0
    torch.manual_seed(0)
    return FastMETRONetwork(adjacency, [sp.csc_matrix(up)], num_joints=3,
                            num_vertices=num_vertices, in_channels=8, model_size='M',
                            d_model_1=32, d_model_2=16, dim_feedforward_1=64,
                            dim_feedforward_2=32, nhead=4, dropout=0.2,
                            draw_dropout_ahead=draw_dropout_ahead).train()


def _training_pass(network, features, autocast):
    torch.manual_seed(4)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        out = network(features)
        total = sum(out[key].float().square().sum() for key in
                    ('pred_cam', 'pred_3d_joints', 'pred_3d_vertices_fine'))
    network.zero_grad(set_to_none=True)
    total.backward()
    grads = [param.grad for param in network.parameters()]
    return [out['pred_3d_vertices_fine'].detach(), out['pred_cam'].detach(),
            *grads, torch.get_rng_state()]


@pytest.mark.parametrize('autocast', [False, True], ids=['fp32', 'bf16'])
def test_the_network_trains_as_with_masks_drawn_in_place(autocast):
    ahead, in_place = _tiny_network(True), _tiny_network(False)
    features = torch.randn(3, 8, 2, 2)
    expected = _training_pass(in_place, features, autocast)
    for _ in range(3):  # records, then draws ahead
        got = _training_pass(ahead, features, autocast)
        assert all(torch.equal(a, b) for a, b in zip(got, expected))
    assert len(ahead._dropout_draws._plans) == 1  # the plan was followed, not dropped
    # A module's p changed between passes: drawn in place from that call on, and equal.
    for network in (ahead, in_place):
        network.transformer_2.decoder.layers[0].ffn.dropout.p = 0.4
    expected = _training_pass(in_place, features, autocast)
    got = _training_pass(ahead, features, autocast)
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_eval_mode_and_copies_make_no_plans():
    network = _tiny_network(True)
    network.eval()
    with torch.no_grad():
        network(torch.randn(2, 8, 2, 2))
    assert not network._dropout_draws._plans
    network.train()
    _training_pass(network, torch.randn(2, 8, 2, 2), autocast=False)
    assert len(network._dropout_draws._plans) == 1
    assert not copy.deepcopy(network)._dropout_draws._plans
