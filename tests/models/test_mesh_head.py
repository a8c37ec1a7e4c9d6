"""MeshHead builds any registered network from its config with the mesh facts it names."""
import numpy as np
import pytest
import torch
from torch import nn

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.models.heads import build_with_facts
from mmpose.registry import MODELS

from tiny_meshes import features, make_samples, write_tiny_mesh_files

NARROW = dict(d_model_1=32, d_model_2=16, dim_feedforward_1=64, dim_feedforward_2=32, nhead=4,
              dropout=0.0)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    return write_tiny_mesh_files(tmp_path_factory.mktemp('mesh_head'))


def mesh_head_cfg(files, network, **overrides):
    cfg = dict(type='MeshHead', in_channels=32, mesh_type='body', network=network,
               hierarchy_file=str(files / 'body.npz'),
               body_model=dict(model_path=str(files / 'SMPL_NEUTRAL.pkl')),
               joint_regressor_file=str(files / 'h36m.npy'))
    cfg.update(overrides)
    return cfg


@MODELS.register_module(force=True)
class FactRecordingNetwork(nn.Module):
    """A user network naming some facts: the coarse mean of a linear map of the features."""

    def __init__(self, num_joints, num_vertices, in_channels, up_matrices, scale=1.0):
        super().__init__()
        self.facts = dict(num_joints=num_joints, num_vertices=num_vertices,
                          in_channels=in_channels, up_matrices=up_matrices)
        self.linear = nn.Linear(in_channels, 3 * (num_joints + num_vertices) + 3)
        self.up = [torch.as_tensor(m.toarray(), dtype=torch.float32) for m in up_matrices]
        self.scale = scale

    def forward(self, features, return_attention=False):
        batch = features.shape[0]
        out = self.scale * self.linear(features.mean(dim=(2, 3)))
        joints = out[:, :-3 - 3 * self.facts['num_vertices']].reshape(batch, -1, 3)
        coarse = out[:, joints.shape[1] * 3:-3].reshape(batch, -1, 3)
        meshes = [coarse]
        for matrix in self.up:
            meshes.append(torch.einsum('ij,bjc->bic', matrix, meshes[-1]))
        result = {'pred_cam': out[:, -3:], 'pred_3d_joints': joints,
                  'pred_3d_vertices_coarse': coarse, 'pred_3d_vertices_fine': meshes[-1]}
        if len(meshes) == 3:
            result['pred_3d_vertices_intermediate'] = meshes[1]
        return result


@MODELS.register_module(force=True)
class AnyFactsNetwork(FactRecordingNetwork):
    """Takes ``**kwargs``, so it is given every fact."""

    def __init__(self, **facts):
        super().__init__(facts['num_joints'], facts['num_vertices'], facts['in_channels'],
                         facts['up_matrices'])
        self.all_facts = facts


def test_network_gets_the_facts_it_names_and_a_contradicting_config_value_is_an_error(files):
    hierarchy = MeshHierarchy.from_npz(files / 'body.npz')
    head = MODELS.build(mesh_head_cfg(files, dict(type='FactRecordingNetwork', scale=0.5)))
    facts = head.network.facts
    assert (facts['num_joints'], facts['num_vertices'], facts['in_channels']) == (14, 11, 32)
    assert [m.shape for m in facts['up_matrices']] == [(41, 11), (162, 41)]
    assert (facts['up_matrices'][1] != hierarchy.up[0]).nnz == 0
    assert head.network.scale == 0.5
    # Every state-dict entry is the network's: the mesh machinery is never checkpointed.
    assert set(head.state_dict()) == {'network.linear.weight', 'network.linear.bias'}
    # A training step runs the head's own targets and loss on a user network.
    losses = head.loss(features(2), make_samples(14, 72, has_smpl=[1, 0]))
    assert {'loss_vertices', 'loss_joints_3d', 'loss_joints_2d'} <= set(losses)
    sum(losses.values()).backward()
    assert head.network.linear.weight.grad.abs().sum() > 0
    head.eval()
    pred = head.predict(features(2), make_samples(14, 72, has_smpl=[1, 1]))[0]
    assert pred.vertices.shape == (1, 162, 3)
    # The H36M 'Pelvis' (row 0 of the regressor file) regressed from the mesh is the origin.
    pelvis = np.load(files / 'h36m.npy')[0] @ pred.vertices[0].astype(np.float64)
    np.testing.assert_allclose(pelvis, 0, atol=1e-6)

    # A config value that contradicts a size the head knows is named with both values.
    with pytest.raises(ValueError, match='sets num_vertices=12, but the head knows '
                                         'num_vertices=11'):
        MODELS.build(mesh_head_cfg(files, dict(type='FastMETRONetwork', num_vertices=12)))


def test_kwargs_network_gets_every_fact_including_the_rest_pose(files):
    head = MODELS.build(mesh_head_cfg(files, dict(type='AnyFactsNetwork')))
    facts = head.network.all_facts
    assert set(facts) == {'adjacency', 'up_matrices', 'num_joints', 'num_vertices',
                          'in_channels', 'rest_pose'}
    assert facts['adjacency'].shape == (11, 11)
    rest = facts['rest_pose']
    assert rest.shape == (14 + 11, 3)
    # Joints first, centred on the mid-hip; then the token mesh (the fine mesh's subset).
    torch.testing.assert_close(rest[2:4].mean(0), torch.zeros(3), atol=1e-6, rtol=0)
    model = head.body_models['neutral']
    zero = model(torch.zeros(1, 72), torch.zeros(1, 10)).vertices.float()[0]
    root = head.joint_regressor(zero[None])[0, 2:4].mean(0)
    torch.testing.assert_close(rest[14:], zero[head.coarse_index] - root)


def test_fastmetro_sizes_differ_in_one_line_and_match_the_preset(files):
    counts = {}
    for size in ('S', 'M', 'L'):
        head = MODELS.build(mesh_head_cfg(files, dict(type='FastMETRONetwork',
                                                      model_size=size, **NARROW)))
        counts[size] = len(head.network.transformer_1.decoder.layers)
    assert counts == {'S': 1, 'M': 2, 'L': 3}

    torch.manual_seed(0)
    head = MODELS.build(mesh_head_cfg(files, dict(type='FastMETRONetwork', model_size='S',
                                                  layout='paper', **NARROW)))
    preset_cfg = mesh_head_cfg(files, None)
    del preset_cfg['network']
    preset_cfg.update(type='FastMETROHead', model_size='S', layout='paper', network_cfg=NARROW)
    preset = MODELS.build(preset_cfg)
    assert type(preset.network) is type(head.network)
    preset.load_state_dict(head.state_dict(), strict=True)
    head.eval(), preset.eval()
    samples = make_samples(14, 72, has_smpl=[1, 1])
    for ours, theirs in zip(head.predict(features(2), samples),
                            preset.predict(features(2), samples)):
        np.testing.assert_array_equal(ours.vertices, theirs.vertices)
        np.testing.assert_array_equal(ours.keypoints, theirs.keypoints)


def test_build_errors_name_the_part_and_type(files):
    with pytest.raises(KeyError, match="MeshHead network: type 'NoSuchNetwork' is not "
                                       'registered'):
        MODELS.build(mesh_head_cfg(files, dict(type='NoSuchNetwork')))
    with pytest.raises(KeyError, match='MeshHead network: the config needs a type'):
        MODELS.build(mesh_head_cfg(files, dict(model_size='S')))
    with pytest.raises(KeyError, match='my part: the config needs a type'):
        build_with_facts(dict(), {}, 'my part')
    with pytest.raises(ValueError, match="loss root_indices \\(0,\\) differ from the body "
                                         'root \\(2, 3\\)'):
        MODELS.build(mesh_head_cfg(files, dict(type='FactRecordingNetwork'),
                                   loss=dict(type='MeshLoss', root_indices=(0, ))))
