"""Residual adds and the FFN's ReLU written in place: same outputs, inputs untouched.

The transformer adds residuals into storage it owns (a speed-up only: fresh large tensors
cost page faults on the CPU). These tests hold the outputs to the out-of-place sums and
check that no input of the caller, and no kept shared part, is ever written.
"""
import torch

from fastmetro_mm.models.transformer import add_residual
from tiny_transformer import tiny_transformer as _transformer
from tiny_transformer import transformer_inputs as _inputs


def test_in_place_adds_give_the_out_of_place_sums():
    model = _transformer()
    inputs = _inputs(3, shared=False)
    for autocast in (False, True):
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            with torch.no_grad():  # the stream takes the sums where it is the layer's own
                fast = model(*inputs)
            reference = model(*inputs)  # autograd on: the stream is never written
        for a, b in zip(fast[:3], reference[:3]):
            assert a.dtype == b.dtype
            torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)


def test_inputs_and_kept_tokens_are_never_written():
    model = _transformer()
    # Batch 1 as well: shared tokens then have the batch's shape, and their kept part
    # (static_key) must not take a residual in place either.
    for batch, shared in ((2, False), (2, True), (1, True)):
        inputs = _inputs(batch, shared=shared)
        copies = [t.clone() for t in inputs]
        for autocast in (False, True):
            outs = []
            with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16,
                                                 enabled=autocast):
                for _ in range(3):
                    outs.append(model(*inputs, static_key=('tokens', 0) if shared else None))
            for out in outs[1:]:
                torch.testing.assert_close(out.queries, outs[0].queries, rtol=0, atol=0)
            for given, copy in zip(inputs, copies):
                torch.testing.assert_close(given, copy, rtol=0, atol=0)


def test_in_place_adds_keep_training_gradients():
    model = _transformer().train()
    inputs = _inputs(2, shared=False)
    torch.manual_seed(4)
    out = model(*inputs)
    (out.queries.square().sum() + out.camera.sum()).backward()  # no in-place error
    assert all(p.grad is not None for p in model.parameters())


def test_add_residual_writes_only_owned_storage():
    stream, branch = torch.ones(2, 3), torch.full((2, 3), 2.0)
    out = add_residual(stream, branch)
    assert out.data_ptr() == branch.data_ptr() and torch.all(stream == 1)
    half = torch.full((2, 3), 2.0, dtype=torch.bfloat16)
    out = add_residual(stream, half)  # float32 result: not into the bfloat16 branch
    assert out.dtype == torch.float32 and torch.all(half == 2) and torch.all(stream == 1)
    with torch.no_grad():
        out = add_residual(stream, half, stream_is_own=True)
    assert out.data_ptr() == stream.data_ptr() and torch.all(stream == 3)
    shared = torch.ones(1, 3)
    out = add_residual(shared, torch.ones(2, 3, dtype=torch.bfloat16), stream_is_own=True)
    assert out.shape == (2, 3) and torch.all(shared == 1)
