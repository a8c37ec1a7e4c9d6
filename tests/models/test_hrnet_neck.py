"""Backbones of FastMETRO in MMPose: ResNet-50 and HRNet-W64 + HRNetClassificationNeck."""
import hashlib
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import fastmetro_mm.models.necks  # noqa: F401  (registers HRNetClassificationNeck)
from mmpose.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'models'

# sha256 of the sorted 'key<TAB>shape' lines of the released HRNet-W64 backbone state dict
# (official_state_dict/backbone_hrnet_w64.txt: 1956 keys, classifier included).
OFFICIAL_HRNET_W64_KEYS_SHA256 = \
    '9ae42fbc0d366cea3405471b8d1d80555b6563e16409fc6ba6dc1d0be3ac6279'
OFFICIAL_HRNET_W64_NUM_KEYS = 1956
HRNET_W64_PARAMS_WITH_CLASSIFIER = 128_059_944
CLASSIFIER_PARAMS = 2048 * 1000 + 1000
RESNET50_PARAMS_WITHOUT_FC = 23_508_032  # torchvision resnet50 (25,557,032) minus fc

# A small HRNet (same topology, fewer channels and blocks) for the neck's own behaviour.
SMALL_EXTRA = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                num_channels=(8, )),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                num_channels=(8, 16)),
    stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                num_channels=(8, 16, 32)),
    stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                num_channels=(8, 16, 32, 64), multiscale_output=True))
SMALL_NECK = dict(type='HRNetClassificationNeck', in_channels=(8, 16, 32, 64),
                  head_channels=(4, 8, 16, 32), out_channels=96)


def _num_params(*modules: torch.nn.Module) -> int:
    return sum(p.numel() for module in modules for p in module.parameters())


def _keys_sha256(state_dict) -> str:
    lines = sorted(f'{key}\t{tuple(value.shape)}' for key, value in state_dict.items())
    return hashlib.sha256('\n'.join(lines).encode()).hexdigest()


@pytest.fixture(scope='module')
def hrnet_w64():
    cfg = Config.fromfile(str(CONFIGS / 'backbone_hrnet_w64.py'))
    torch.manual_seed(0)
    backbone = MODELS.build(cfg.model.backbone)
    neck = MODELS.build(dict(cfg.model.neck, with_classifier=True))
    backbone.eval()
    neck.eval()
    return cfg, backbone, neck


def test_hrnet_w64_parameter_count(hrnet_w64):
    cfg, backbone, neck = hrnet_w64
    assert _num_params(backbone, neck) == HRNET_W64_PARAMS_WITH_CLASSIFIER
    default_neck = MODELS.build(cfg.model.neck)  # the config leaves the classifier out
    assert default_neck.classifier is None
    assert _num_params(backbone, default_neck) == \
        HRNET_W64_PARAMS_WITH_CLASSIFIER - CLASSIFIER_PARAMS == 126_010_944


def test_hrnet_w64_has_the_official_keys_and_shapes(hrnet_w64):
    _, backbone, neck = hrnet_w64
    # the official network is one module: its head keys sit under backbone. too
    official = {f'backbone.{key}': value for key, value in backbone.state_dict().items()}
    official.update({f'backbone.{key}': value for key, value in neck.state_dict().items()})
    assert len(official) == OFFICIAL_HRNET_W64_NUM_KEYS
    assert _keys_sha256(official) == OFFICIAL_HRNET_W64_KEYS_SHA256


def test_hrnet_w64_gives_2048x7x7_at_224(hrnet_w64):
    _, backbone, neck = hrnet_w64
    with torch.no_grad():
        branches = backbone(torch.randn(1, 3, 224, 224))
        outputs = neck(branches)
    assert [tuple(b.shape) for b in branches] == [
        (1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7)]
    assert isinstance(outputs, tuple) and len(outputs) == 1
    assert tuple(outputs[0].shape) == (1, 2048, 7, 7)
    assert torch.isfinite(outputs[0]).all() and (outputs[0] >= 0).all()  # ends in a ReLU


def test_resnet50_gives_2048x7x7_at_224():
    cfg = Config.fromfile(str(CONFIGS / 'backbone_r50.py'))
    assert 'neck' not in cfg.model
    backbone = MODELS.build(cfg.model.backbone)
    backbone.eval()
    assert _num_params(backbone) == RESNET50_PARAMS_WITHOUT_FC
    with torch.no_grad():
        outputs = backbone(torch.randn(1, 3, 224, 224))
    assert len(outputs) == 1 and tuple(outputs[0].shape) == (1, 2048, 7, 7)


@pytest.fixture(scope='module')
def small():
    torch.manual_seed(1)
    backbone = MODELS.build(dict(type='HRNet', extra=SMALL_EXTRA))
    neck = MODELS.build(dict(SMALL_NECK, with_classifier=True, num_classes=10))
    neck.init_weights()
    backbone.eval()
    neck.eval()
    return backbone, neck


def test_small_hrnet_neck_shape_follows_the_input(small):
    backbone, neck = small
    with torch.no_grad():
        (output, ) = neck(backbone(torch.randn(2, 3, 256, 192)))
    assert tuple(output.shape) == (2, 96, 8, 6)  # the coarsest branch's grid, 1/32


def test_every_branch_reaches_the_output(small):
    _, neck = small
    torch.manual_seed(2)
    branches = [torch.rand(1, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate((8, 16, 32, 64))]
    with torch.no_grad():
        reference = neck(branches)[0]
        for index in range(4):
            changed = [b.clone() for b in branches]
            changed[index] += 1.0
            assert not torch.allclose(neck(changed)[0], reference), f'branch {index} ignored'


def test_merge_is_the_official_fine_to_coarse_sum(small):
    _, neck = small
    torch.manual_seed(3)
    branches = [torch.randn(2, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate((8, 16, 32, 64))]
    with torch.no_grad():
        # HRNet-Image-Classification: y = incre[0](x0); y = incre[i+1](x[i+1]) + down[i](y)
        expected = neck.incre_modules[0](branches[0])
        for index in range(3):
            expected = neck.incre_modules[index + 1](branches[index + 1]) + \
                neck.downsamp_modules[index](expected)
        expected = torch.relu(neck.final_layer[1](neck.final_layer[0](expected)))
        torch.testing.assert_close(neck(branches)[0], expected, rtol=0, atol=0)
    assert [m[0].conv3.out_channels for m in neck.incre_modules] == [16, 32, 64, 128]
    assert [m[0].stride for m in neck.downsamp_modules] == [(2, 2)] * 3


def test_classifier_pools_the_output(small):
    backbone, neck = small
    with torch.no_grad():
        branches = backbone(torch.randn(2, 3, 64, 64))
        logits = neck.classify(branches)
        pooled = neck(branches)[0].mean(dim=(2, 3))
    assert tuple(logits.shape) == (2, 10)
    torch.testing.assert_close(logits, pooled @ neck.classifier.weight.T + neck.classifier.bias)
    without = MODELS.build(SMALL_NECK)
    with pytest.raises(RuntimeError, match='with_classifier=True'):
        without.classify(branches)


def test_default_init_follows_the_official_network(small):
    _, neck = small
    final_conv, final_norm = neck.final_layer[0], neck.final_layer[1]
    assert torch.equal(final_norm.weight, torch.ones_like(final_norm.weight))
    assert torch.equal(final_conv.bias, torch.zeros_like(final_conv.bias))
    fan_out = final_conv.out_channels  # 1x1 kernel; Kaiming normal, fan-out, ReLU gain
    assert final_conv.weight.std().item() == pytest.approx((2.0 / fan_out) ** 0.5, rel=0.1)


def test_wrong_inputs_are_named():
    neck = MODELS.build(SMALL_NECK)
    single = (torch.zeros(1, 8, 16, 16), )
    with pytest.raises(ValueError, match='multiscale_output=True'):
        neck(single)
    maps = [torch.zeros(1, c, 4, 4) for c in (8, 16, 33, 64)]
    with pytest.raises(ValueError, match=r'branch 2 must be \(B, 32, H, W\)'):
        neck(maps)
    with pytest.raises(ValueError, match='same'):
        MODELS.build(dict(SMALL_NECK, head_channels=(4, 8)))
