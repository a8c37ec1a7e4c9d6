"""MeshLossScaleHook: a tiny mesh_loss_scale survives a float16 backward pass.

A top-down mesh estimator (ResNet-18 on 32 x 32 images, the tiny body head with the
regressor) computes its loss under CPU float16 autocast. Scaling the loss leaves the
backbone with no gradient at all: the scaled activation gradients are below float16's
smallest number. This untrained toy has gradients of ~1e4 (the released network's are far
smaller, which is why 1e-8 already vanishes there: issue 14's probe), so the test scales by
1e-10, where the toy's gradients vanish. With the hook (installed from an MMEngine Runner's
hook list) the gradients are those of the unscaled float16 pass times the scale.
"""
import sys
from pathlib import Path

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import fastmetro_mm  # noqa: F401  (registers the hook and the estimator)
from fastmetro_mm.engine import MeshLossScaleHook
from mmpose.registry import MODELS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'models'))
from test_fastmetro_head import body_head_cfg, files, make_samples  # noqa: E402,F401

SCALE = 1e-10


def _model(files, scale):  # noqa: F811
    cfg = dict(
        type='TopdownMeshEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type='ResNet', depth=18, in_channels=3, out_indices=(3, )),
        head=body_head_cfg(files, in_channels=512, smpl_regressor=dict(hidden_channels=32),
                           mesh_loss_scale=scale))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpose'):
        return MODELS.build(cfg)


def _backbone_gradient(model, autocast):
    generator = torch.Generator().manual_seed(1)
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=generator)
              for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=make_samples(
        14, 72, has_smpl=[1, 1])), training=True)
    model.zero_grad(set_to_none=True)
    with torch.autocast('cpu', dtype=torch.float16, enabled=autocast):
        losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    return model.backbone.conv1.weight.grad.clone(), losses


def test_scale_is_applied_to_float32_gradients(files, tmp_path):  # noqa: F811
    unscaled_grad, unscaled_losses = _backbone_gradient(_model(files, 1.0), autocast=True)
    plain = _model(files, SCALE)
    plain_grad, _ = _backbone_gradient(plain, autocast=True)
    assert plain_grad.abs().max() == 0  # float16 rounded every gradient to zero

    hooked = _model(files, SCALE)
    runner = Runner(model=hooked, work_dir=str(tmp_path), experiment_name=tmp_path.name,
                    custom_hooks=[dict(type='MeshLossScaleHook')], default_scope='mmpose')
    hook = next(h for h in runner.hooks if isinstance(h, MeshLossScaleHook))
    hook.before_train(runner)
    assert hooked.head.mesh_loss_scale_in_gradients
    grad, losses = _backbone_gradient(hooked, autocast=True)
    assert grad.abs().max() > 0
    torch.testing.assert_close(grad, SCALE * unscaled_grad, rtol=1e-4, atol=0)
    # The logged terms are still the scaled ones.
    assert losses['loss_vertices'].item() == pytest.approx(
        SCALE * unscaled_losses['loss_vertices'].item(), rel=1e-4)
