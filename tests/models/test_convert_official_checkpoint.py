"""Strict conversion of official FastMETRO checkpoints (synthetic, official key names/shapes)
by tools/model_converters/fastmetro_official_to_mmpose.py.

The official layouts are generated here and pinned to the released key lists by the sha256 of
their sorted 'key<TAB>shape' lines (official_state_dict/*.txt); ResNet-50's comes from
torchvision's resnet50, exactly as the official code builds it.
"""
import hashlib
import importlib.util
import os
import runpy
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torchvision
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from torch import nn

import fastmetro_mm.models.necks  # noqa: F401  (registers HRNetClassificationNeck)
from fastmetro_mm.models.fastmetro_network import FastMETRONetwork
from fastmetro_mm.models.smpl_parameter_regressor import SMPLParameterRegressor
from mmpose.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs' / '_base_' / 'models'
TOOL = ROOT / 'tools' / 'model_converters' / 'fastmetro_official_to_mmpose.py'
#: The old command, kept as a pointer to TOOL.
OLD_TOOL = ROOT / 'tools' / 'convert_official_checkpoint.py'


def _load_tool():
    """The converter as a module (tools/ is not a package); registered in sys.modules so that
    its classes are the same objects in every test."""
    spec = importlib.util.spec_from_file_location('fastmetro_official_to_mmpose', TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
OfficialCheckpointError = tool.OfficialCheckpointError
convert_state_dict = tool.convert_state_dict
expected_official_key = tool.expected_official_key

# sha256 of the sorted 'key<TAB>shape' lines of official_state_dict/<file> (and key counts).
OFFICIAL_SHA256 = {
    'backbone_hrnet_w64': ('9ae42fbc0d366cea3405471b8d1d80555b6563e16409fc6ba6dc1d0be3ac6279',
                           1956),
    'body_S': ('adf4c885042402f95715c0dd695df14bf934186a8069ea433777bd97081560e7', 85),
    'body_L': ('be85e5946406ae0dce949d99508a332d068a6fcdfedbd9348ed4ed216a048537', 205),
    'hand_L': ('38f83667d848828d4c12deb7a23a22587d03b0c4eafb359af0627f1e7b8dfa1c', 203),
    'body_L_smpl': ('68ccdf584089a758a4bd0842c304593e91c1767ca7341132734bec8c4d183bda', 242),
}
BODY = dict(num_joints=14, num_vertices=431, counts=(431, 1723, 6890))
HAND = dict(num_joints=21, num_vertices=195, counts=(195, 778))
CLASSIFIER_KEYS = ['backbone.classifier.weight', 'backbone.classifier.bias']

Shapes = Dict[str, Tuple[int, ...]]


def _check_official(shapes: Shapes, name: str) -> None:
    digest, count = OFFICIAL_SHA256[name]
    lines = sorted(f'{key}\t{shape}' for key, shape in shapes.items())
    assert len(lines) == count, f'{name}: {len(lines)} keys, the release has {count}'
    assert hashlib.sha256('\n'.join(lines).encode()).hexdigest() == digest, \
        f'{name}: key names or shapes differ from the released checkpoint'


def _random_state_dict(shapes: Shapes, seed: int) -> Dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {key: (torch.randint(0, 1000, shape, generator=generator) if
                  key.endswith('num_batches_tracked') else torch.rand(shape, generator=generator))
            for key, shape in shapes.items()}


def _shapes(module: nn.Module, prefix: str = '') -> Shapes:
    return {prefix + key: shape for key, shape in tool.target_shapes_of(module).items()}


def _mesh(spec: dict, seed: int) -> Tuple[sp.csr_matrix, List[sp.csc_matrix]]:
    """Random coarse adjacency (a cycle) and up-sampling matrices with 3 entries per row."""
    rng = np.random.default_rng(seed)
    counts = spec['counts']
    ups = []
    for coarse, fine in zip(counts[:-1], counts[1:]):
        cols = (rng.integers(0, coarse, size=fine)[:, None] + np.arange(3)) % coarse
        rows = np.repeat(np.arange(fine), 3)
        ups.append(sp.csc_matrix((np.full(3 * fine, 1 / 3), (rows, cols.ravel())),
                                 shape=(fine, coarse)))
    idx = np.arange(counts[0])
    cycle = sp.coo_matrix((np.ones(counts[0]), (idx, (idx + 1) % counts[0])),
                          shape=(counts[0], counts[0]))
    return ((cycle + cycle.T) > 0).astype(np.float64).tocsr(), ups


def _network(spec: dict, size: str, seed: int) -> FastMETRONetwork:
    adjacency, ups = _mesh(spec, seed)
    return FastMETRONetwork(adjacency, ups, num_joints=spec['num_joints'],
                            num_vertices=spec['num_vertices'], model_size=size)


def _official_network(network: FastMETRONetwork, name: str) -> Shapes:
    shapes = {expected_official_key('head.network.' + key, 'hrnet_w64'): shape
              for key, shape in _shapes(network).items()}
    _check_official(shapes, name)
    return shapes


class _Block(nn.Module):
    """GraphCMR's FCBlock / FCResBlock: only the parameter layout matters here."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.fc_block = nn.Sequential(*layers)


def _smpl_regressor() -> nn.Module:
    """GraphCMR's SMPL parameter regressor layout: 1723 x 3 -> 1024 -> 24 * 9 + 10."""
    def residual() -> _Block:
        return _Block(nn.Linear(1024, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
                      nn.Linear(1024, 1024), nn.BatchNorm1d(1024))
    module = nn.Module()
    module.regressor = nn.Sequential(
        _Block(nn.Linear(1723 * 3, 1024), nn.BatchNorm1d(1024), nn.ReLU()),
        residual(), residual(), nn.Linear(1024, 24 * 9 + 10))
    return module


@pytest.fixture(scope='module')
def resnet50():
    """(official R50 shapes, MMPose ResNet-50 target shapes)."""
    with torch.device('meta'):
        official = nn.Sequential(*list(torchvision.models.resnet50().children())[:-2])
        target = MODELS.build(Config.fromfile(str(CONFIGS / 'backbone_r50.py')).model.backbone)
    return _shapes(official, 'backbone.'), _shapes(target, 'backbone.')


@pytest.fixture(scope='module')
def hrnet_w64():
    """(official HRNet-W64-C source tensors, target backbone + neck shapes w/o classifier)."""
    cfg = Config.fromfile(str(CONFIGS / 'backbone_hrnet_w64.py'))
    with torch.device('meta'):
        backbone = MODELS.build(cfg.model.backbone)
        neck = MODELS.build(dict(cfg.model.neck, with_classifier=True))
    official = _shapes(backbone, 'backbone.')
    official.update(_shapes(neck, 'backbone.'))
    _check_official(official, 'backbone_hrnet_w64')
    target = _shapes(backbone, 'backbone.')
    target.update({key: shape for key, shape in _shapes(neck, 'neck.').items()
                   if not key.startswith('neck.classifier.')})
    return _random_state_dict(official, seed=1), target


@pytest.fixture(scope='module')
def body_s_r50(resnet50):
    """(official S-R50 body state dict, target shapes)."""
    official_backbone, target_backbone = resnet50
    network = _network(BODY, 'S', seed=0)
    official = dict(official_backbone, **_official_network(network, 'body_S'))
    return _random_state_dict(official, seed=2), dict(target_backbone,
                                                      **_shapes(network, 'head.network.'))


@pytest.fixture
def body_s_r50_model() -> nn.Module:
    """An estimator with body_s_r50's target keys (backbone.*, head.network.*)."""
    estimator = nn.Module()
    estimator.backbone = MODELS.build(
        Config.fromfile(str(CONFIGS / 'backbone_r50.py')).model.backbone)
    estimator.head = nn.Module()
    estimator.head.network = _network(BODY, 'S', seed=0)
    return estimator


def test_body_s_r50_fills_every_key_from_its_official_key(body_s_r50):
    source, target = body_s_r50
    result = convert_state_dict(source, target)
    assert result.ok, result.report()
    assert list(result.state_dict) == list(target) and not result.discarded
    for key, value in result.state_dict.items():
        assert value is source[expected_official_key(key, 'resnet50')], key
    assert result.state_dict['backbone.conv1.weight'] is source['backbone.0.weight']
    assert result.state_dict['backbone.layer4.2.bn3.running_var'] is \
        source['backbone.7.2.bn3.running_var']
    assert result.state_dict['backbone.layer1.0.downsample.0.weight'] is \
        source['backbone.4.0.downsample.0.weight']
    assert result.state_dict['head.network.input_proj.weight'] is source['conv_1x1.weight']


@pytest.mark.parametrize('with_smpl', [False, True])
def test_body_l_h64_drops_only_the_unused_classifier(hrnet_w64, with_smpl):
    backbone_source, backbone_target = hrnet_w64
    network = _network(BODY, 'L', seed=0)
    official = _official_network(network, 'body_L')
    target = dict(backbone_target, **_shapes(network, 'head.network.'))
    if with_smpl:
        official.update(_shapes(_smpl_regressor(), 'smpl_parameter_regressor.'))
        _check_official(official, 'body_L_smpl')
        target.update(_shapes(SMPLParameterRegressor(), 'head.smpl_regressor.'))
    source = dict(backbone_source, **_random_state_dict(official, seed=3))
    result = convert_state_dict(source, target)
    assert result.ok, result.report()
    assert result.backbone == 'hrnet_w64' and sorted(result.discarded) == sorted(CLASSIFIER_KEYS)
    assert set(result.state_dict) == set(target)
    for key, value in result.state_dict.items():
        assert value is source[expected_official_key(key, 'hrnet_w64')], key
    assert result.state_dict['neck.final_layer.0.weight'] is source['backbone.final_layer.0.weight']
    assert result.state_dict['backbone.stage4.2.fuse_layers.3.0.2.0.weight'] is \
        source['backbone.stage4.2.fuse_layers.3.0.2.0.weight']
    if with_smpl:
        pairs = {'output_layer.weight': 'regressor.3.weight',
                 'input_layer.bias': 'regressor.0.fc_block.0.bias',
                 'input_norm.running_var': 'regressor.0.fc_block.1.running_var',
                 'res_blocks.0.fc2.weight': 'regressor.1.fc_block.3.weight',
                 'res_blocks.1.norm2.num_batches_tracked':
                 'regressor.2.fc_block.4.num_batches_tracked'}
        for ours, theirs in pairs.items():
            assert result.state_dict['head.smpl_regressor.' + ours] is \
                source['smpl_parameter_regressor.' + theirs]


def test_smpl_regressor_strictness(hrnet_w64):
    """Missing, extra and unexpected regressor keys, and a config without the regressor."""
    backbone_source, backbone_target = hrnet_w64
    network = _network(BODY, 'S', seed=0)
    official = dict(_official_network(network, 'body_S'),
                    **_shapes(_smpl_regressor(), 'smpl_parameter_regressor.'))
    source = dict(backbone_source, **_random_state_dict(official, seed=5))
    target = dict(backbone_target, **_shapes(network, 'head.network.'),
                  **_shapes(SMPLParameterRegressor(), 'head.smpl_regressor.'))
    assert convert_state_dict(source, target).ok

    broken = {key: value for key, value in source.items()
              if key != 'smpl_parameter_regressor.regressor.2.fc_block.1.running_mean'}
    broken['smpl_parameter_regressor.regressor.1.fc_block.2.weight'] = torch.zeros(1)
    message = _failure(broken, target)
    assert "head.smpl_regressor.res_blocks.1.norm1.running_mean (from official " \
           "'smpl_parameter_regressor.regressor.2.fc_block.1.running_mean')" in message
    assert "smpl_parameter_regressor.regressor.1.fc_block.2.weight: no mapping" in message

    without = {key: shape for key, shape in target.items()
               if not key.startswith('head.smpl_regressor.')}
    message = _failure(source, without)
    assert "maps to 'head.smpl_regressor.output_layer.weight', which the target model does " \
           "not have" in message
    assert 'checkpoint has an SMPL parameter regressor but the target model has none' in message
    message = _failure({key: value for key, value in source.items()
                        if not key.startswith('smpl_parameter_regressor.')}, target)
    assert 'missing target keys (37)' in message and 'has no SMPL parameter regressor' in message


def test_hand_l_h64_with_the_classifier_in_the_target(hrnet_w64):
    backbone_source, backbone_target = hrnet_w64
    network = _network(HAND, 'L', seed=1)
    source = dict(backbone_source,
                  **_random_state_dict(_official_network(network, 'hand_L'), seed=4))
    target = dict(backbone_target, **_shapes(network, 'head.network.'))
    target.update({'neck.classifier.weight': (1000, 2048), 'neck.classifier.bias': (1000, )})
    result = convert_state_dict(source, target)
    assert result.ok, result.report()
    assert not result.discarded
    assert result.state_dict['neck.classifier.weight'] is source['backbone.classifier.weight']


def _failure(source, target) -> str:
    result = convert_state_dict(source, target)
    assert not result.ok
    with pytest.raises(OfficialCheckpointError) as error:
        result.raise_if_failed()
    return str(error.value)


def test_missing_key_is_named(body_s_r50):
    source, target = body_s_r50
    source = dict(source)
    del source['transformer_1.encoder.layers.0.linear1.weight']
    del source['backbone.5.1.bn2.running_mean']
    message = _failure(source, target)
    assert 'missing target keys (2)' in message
    assert "head.network.transformer_1.encoder.layers.0.ffn.fc_in.weight (from official " \
           "'transformer_1.encoder.layers.0.linear1.weight')" in message
    assert "backbone.layer2.1.bn2.running_mean (from official " \
           "'backbone.5.1.bn2.running_mean')" in message


def test_extra_keys_are_named(body_s_r50):
    source, target = body_s_r50
    source = dict(source, **{'backbone.8.weight': torch.zeros(3),
                             'transformer_1.encoder.layers.0.norm9.weight': torch.zeros(3),
                             'head_token_embed.weight': torch.zeros(3)})
    message = _failure(source, target)
    assert 'unused source keys (3)' in message
    for key in ('backbone.8.weight', 'transformer_1.encoder.layers.0.norm9.weight',
                'head_token_embed.weight'):
        assert f'  {key}: no mapping' in message


def test_key_the_target_lacks_is_named(body_s_r50):
    source, target = body_s_r50
    target = {key: shape for key, shape in target.items()
              if not key.startswith('head.network.upsample_intermediate.')}
    message = _failure(source, target)
    assert "coarse2intermediate_upsample.weight: maps to " \
           "'head.network.upsample_intermediate.weight', which the target model does not " \
           "have" in message


def test_wrong_shape_is_named(body_s_r50):
    source, target = body_s_r50
    source = dict(source, **{'cam_predictor.weight': torch.zeros(4, 128)})
    message = _failure(source, target)
    assert 'cam_predictor.weight (4, 128) -> head.network.camera_head.weight (3, 128) ' \
           '(expected)' in message


def test_checkpoint_and_config_with_different_backbones(body_s_r50, hrnet_w64):
    source, _ = body_s_r50
    _, hrnet_target = hrnet_w64
    message = _failure(source, hrnet_target)
    assert 'ResNet-50 backbone but the target model has a neck' in message
    missing = convert_state_dict(source, hrnet_target).missing
    assert len(missing) > 1000 and all(f'  {entry}\n' in message for entry in missing)
    with pytest.raises(OfficialCheckpointError, match='cannot tell the official backbone'):
        convert_state_dict({'conv_1x1.weight': torch.zeros(1)}, {})
    with pytest.raises(OfficialCheckpointError, match="'backbone.0.weight' holds a str"):
        convert_state_dict({'backbone.0.weight': 'x'}, {})


def test_tool_writes_a_loadable_checkpoint_once(body_s_r50, body_s_r50_model, tmp_path):
    source, _ = body_s_r50
    official = tmp_path / 'state_dict.bin'
    # nested under 'model' with DataParallel prefixes: both are unwrapped
    torch.save({'model': {f'module.{key}': value for key, value in source.items()}}, official)
    output = tmp_path / 'out' / 'converted.pth'
    tool.convert_file(str(official), str(output), body_s_r50_model, meta={'config': 'test'})

    checkpoint = torch.load(output, map_location='cpu', weights_only=True)
    assert set(checkpoint) == {'state_dict', 'meta'}
    assert checkpoint['meta']['official_backbone'] == 'resnet50'
    assert checkpoint['meta']['config'] == 'test'
    assert checkpoint['meta']['source_sha256'] == tool.file_sha256(str(official))
    estimator = body_s_r50_model
    load_checkpoint(estimator, str(output), map_location='cpu', strict=True)
    torch.testing.assert_close(estimator.backbone.layer3[5].conv2.weight,
                               source['backbone.6.5.conv2.weight'], rtol=0, atol=0)

    written = output.read_bytes()
    with pytest.raises(FileExistsError, match='--overwrite'):
        tool.convert_file(str(official), str(output), estimator)
    with pytest.raises(FileExistsError, match='--overwrite'):
        tool.write_checkpoint({'state_dict': {}}, str(output))
    assert output.read_bytes() == written
    tool.write_checkpoint({'state_dict': {}, 'meta': {}}, str(output), overwrite=True)
    assert torch.load(output, weights_only=True)['state_dict'] == {}
    assert sorted(os.listdir(output.parent)) == ['converted.pth']  # no temporary left


def test_tool_refuses_bad_files_and_writes_nothing(body_s_r50, body_s_r50_model, tmp_path):
    source, _ = body_s_r50
    broken = tmp_path / 'broken.bin'
    torch.save({key: value for key, value in source.items() if key != 'xyz_regressor.bias'},
               broken)
    with pytest.raises(OfficialCheckpointError, match=r"head\.network\.xyz_head\.bias"):
        tool.convert_file(str(broken), str(tmp_path / 'out.pth'), body_s_r50_model)
    assert not (tmp_path / 'out.pth').exists()

    pickled = tmp_path / 'model.bin'
    torch.save(nn.Linear(2, 2), pickled)
    with pytest.raises(OfficialCheckpointError, match=r'state_dict\(\)'):
        tool.load_official_state_dict(str(pickled))
    with pytest.raises(OfficialCheckpointError, match="'module.a' and another key"):
        tool.unwrap_state_dict({'a': torch.zeros(1), 'module.a': torch.zeros(1)}, 'x.bin')
    with pytest.raises(OfficialCheckpointError, match="'epoch' holds a int"):
        tool.unwrap_state_dict({'epoch': 3, 'a': torch.zeros(1)}, 'x.bin')


def test_tool_errors_name_the_file_and_every_key(body_s_r50, body_s_r50_model, tmp_path):
    source, _ = body_s_r50
    broken = dict(source, **{'cam_predictor.weight': torch.zeros(4, 128),
                             'backbone.8.weight': torch.zeros(3)})
    del broken['backbone.5.1.bn2.running_mean']
    path = tmp_path / 'broken.bin'
    torch.save(broken, path)
    with pytest.raises(OfficialCheckpointError) as error:
        tool.convert_file(str(path), str(tmp_path / 'out.pth'), body_s_r50_model)
    message = str(error.value)
    assert message.startswith(f'{path}: official checkpoint conversion (resnet50 backbone): '
                              'FAILED')
    assert 'shape mismatches (1):\n  cam_predictor.weight (4, 128) -> ' \
           'head.network.camera_head.weight (3, 128) (expected)' in message
    assert 'unused source keys (1):\n  backbone.8.weight: no mapping' in message
    assert "missing target keys (1):\n  backbone.layer2.1.bn2.running_mean (from official " \
           "'backbone.5.1.bn2.running_mean')" in message
    assert not (tmp_path / 'out.pth').exists()


def test_old_command_converts_for_the_model_of_a_config(synthetic_data_dir, tmp_path,
                                                        monkeypatch, capsys):
    """tools/convert_official_checkpoint.py still works: it runs the new tool, which builds
    the config's model and loads the converted checkpoint into it strictly."""
    config = ROOT / 'configs' / 'official' / 'fastmetro_s_r50_h36m_release.py'
    options = {'model.head.hierarchy_file': synthetic_data_dir / 'synthetic_downsampling.npz',
               'model.head.body_model.model_path': synthetic_data_dir / 'SMPL_NEUTRAL.pkl',
               'model.head.joint_regressor_file':
               synthetic_data_dir / 'J_regressor_h36m_synthetic.npy'}
    target = tool.target_shapes_of(tool.build_model(str(config), {
        key: str(value) for key, value in options.items()}))
    official = {expected_official_key(key, 'resnet50'): shape for key, shape in target.items()}
    assert None not in official  # the release config's model holds official keys only
    source = _random_state_dict(official, seed=6)
    torch.save(source, tmp_path / 'official.bin')
    output = tmp_path / 'converted.pth'
    monkeypatch.setattr(sys, 'argv', [
        str(OLD_TOOL), str(tmp_path / 'official.bin'), str(output), '--config', str(config),
        '--cfg-options', *[f'{key}={value}' for key, value in options.items()]])
    with pytest.raises(SystemExit) as exit_status:
        runpy.run_path(str(OLD_TOOL), run_name='__main__')
    assert exit_status.value.code == 0, capsys.readouterr().err
    checkpoint = torch.load(output, map_location='cpu', weights_only=True)
    assert list(checkpoint['state_dict']) == list(target)
    for key, value in checkpoint['state_dict'].items():
        assert torch.equal(value, source[expected_official_key(key, 'resnet50')]), key
    assert checkpoint['meta']['config'] == str(config)


def _official_network_shapes(num_layers: int, num_joints: int, num_vertices: int,
                             intermediate: int = 0) -> Dict[str, tuple]:
    """Keys and shapes of the official released network (as in official_state_dict/*.txt),
    written out by hand rather than derived from the key tables."""
    shapes: Dict[str, tuple] = {}
    for name, d, ffn in (('transformer_1', 512, 2048), ('transformer_2', 128, 512)):
        for stack in ('encoder', 'decoder'):
            shapes[f'{name}.{stack}.norm.weight'] = (d,)
            shapes[f'{name}.{stack}.norm.bias'] = (d,)
            attentions = ['self_attn'] + (['multihead_attn'] if stack == 'decoder' else [])
            norms = ['norm1', 'norm2'] + (['norm3'] if stack == 'decoder' else [])
            for i in range(num_layers):
                prefix = f'{name}.{stack}.layers.{i}'
                for attention in attentions:
                    shapes[f'{prefix}.{attention}.in_proj_weight'] = (3 * d, d)
                    shapes[f'{prefix}.{attention}.in_proj_bias'] = (3 * d,)
                    shapes[f'{prefix}.{attention}.out_proj.weight'] = (d, d)
                    shapes[f'{prefix}.{attention}.out_proj.bias'] = (d,)
                shapes[f'{prefix}.linear1.weight'] = (ffn, d)
                shapes[f'{prefix}.linear1.bias'] = (ffn,)
                shapes[f'{prefix}.linear2.weight'] = (d, ffn)
                shapes[f'{prefix}.linear2.bias'] = (d,)
                for norm in norms:
                    shapes[f'{prefix}.{norm}.weight'] = (d,)
                    shapes[f'{prefix}.{norm}.bias'] = (d,)
    for name in ('dim_reduce_enc_cam', 'dim_reduce_enc_img', 'dim_reduce_dec'):
        shapes[f'{name}.weight'] = (128, 512)
        shapes[f'{name}.bias'] = (128,)
    shapes['cam_token_embed.weight'] = (1, 512)
    shapes['joint_token_embed.weight'] = (num_joints, 512)
    shapes['vertex_token_embed.weight'] = (num_vertices, 512)
    for name in ('xyz_regressor', 'cam_predictor'):
        shapes[f'{name}.weight'] = (3, 128)
        shapes[f'{name}.bias'] = (3,)
    shapes['conv_1x1.weight'] = (512, 2048, 1, 1)
    shapes['conv_1x1.bias'] = (512,)
    if intermediate:
        shapes['coarse2intermediate_upsample.weight'] = (intermediate, num_vertices)
        shapes['coarse2intermediate_upsample.bias'] = (intermediate,)
    return shapes


@pytest.mark.parametrize('spec,size,num_layers,expected_keys', [
    (BODY, 'S', 1, 85), (HAND, 'L', 3, 203),
])
def test_official_network_keys_map_one_to_one(spec, size, num_layers, expected_keys):
    official = _official_network_shapes(num_layers, spec['num_joints'], spec['num_vertices'],
                                        intermediate=1723 if spec is BODY else 0)
    assert len(official) == expected_keys  # line counts of official_state_dict/*.txt
    network = _network(spec, size, seed=0)
    converted = {tool.rename(key, tool.HEAD_KEYS): torch.empty(shape)
                 for key, shape in official.items()}
    assert {key: tuple(value.shape) for key, value in converted.items()} == \
        _shapes(network, 'head.network.')
    estimator = nn.Module()
    estimator.head = nn.Module()
    estimator.head.network = network
    loaded = tool.unwrap_state_dict(
        {f'module.{key}': torch.zeros(shape) for key, shape in official.items()}, 'x.bin')
    estimator.load_state_dict({tool.rename(key, tool.HEAD_KEYS): value
                               for key, value in loaded.items()})
    assert all(torch.all(p == 0) for p in network.parameters())


def test_network_key_examples_and_keys_without_a_row():
    def ours(key: str):
        return tool.rename(key, tool.HEAD_KEYS)

    assert ours('transformer_1.decoder.layers.2.multihead_attn.in_proj_weight') == \
        'head.network.transformer_1.decoder.layers.2.cross_attn.in_proj_weight'
    assert ours('transformer_2.decoder.layers.0.norm2.bias') == \
        'head.network.transformer_2.decoder.layers.0.cross_attn_norm.bias'
    assert ours('transformer_2.encoder.layers.0.norm2.bias') == \
        'head.network.transformer_2.encoder.layers.0.ffn_norm.bias'
    assert ours('transformer_1.encoder.norm.weight') == \
        'head.network.transformer_1.encoder.norm.weight'
    assert ours('conv_1x1.weight') == 'head.network.input_proj.weight'
    assert ours('backbone.0.weight') is None  # in the backbone tables only
    assert ours('transformer_1.encoder.layers.0.norm3.weight') is None  # decoder layers only
    assert ours('position_encoding_1.foo') is None
