"""Checkpoints written before MeshHead load strictly into today's code with the same outputs.

The fixtures (fixtures/checkpoint_bc82ce4_*.pth, written by make_checkpoint_fixture.py at
commit bc82ce4, when FastMETROHead built its own network) hold tiny estimators' state dicts
and what that code computed from them. Each is loaded through MMEngine's load_checkpoint
(strict) into the same model built two ways: the FastMETROHead preset with the old config,
and MeshHead with the network config of today's configs.
"""
import sys
from pathlib import Path

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from mmpose.registry import MODELS

FIXTURES = Path(__file__).resolve().parent / 'fixtures'
sys.path.insert(0, str(FIXTURES))
from make_checkpoint_fixture import (MODELS_TO_WRITE, estimator_cfg, run,  # noqa: E402
                                     with_files)
from tiny_meshes import write_tiny_mesh_files  # noqa: E402


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    return write_tiny_mesh_files(tmp_path_factory.mktemp('compat'))


def as_mesh_head(old: dict) -> dict:
    """The FastMETROHead config ``old`` in today's form: MeshHead with a network config."""
    cfg = dict(old)
    network = dict(cfg.pop('network_cfg', None) or {}, type='FastMETRONetwork')
    for key in ('model_size', 'num_encoder_layers', 'num_decoder_layers', 'layout'):
        if key in cfg:
            network[key] = cfg.pop(key)
    cfg.update(type='MeshHead', network=network)
    return cfg


@pytest.mark.parametrize('name', sorted(MODELS_TO_WRITE))
@pytest.mark.parametrize('form', ['FastMETROHead', 'MeshHead'])
def test_old_checkpoint_loads_strictly_with_the_same_outputs(files, name, form):
    """With the mesh root of the time (mesh_root_rows=None: the joints' root), every output
    and loss term is what bc82ce4 computed."""
    path = FIXTURES / f'checkpoint_bc82ce4_{name}.pth'
    head_cfg, num_joints, pose_dim = MODELS_TO_WRITE[name]
    head_cfg = dict(head_cfg, mesh_root_rows=None)
    if form == 'MeshHead':
        head_cfg = as_mesh_head(head_cfg)
    torch.manual_seed(1)  # other weights than the fixture's, so loading must change them
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(estimator_cfg(with_files(head_cfg, files)))
    assert type(model.head).__name__ == form
    load_checkpoint(model, str(path), map_location='cpu', strict=True)
    expected = torch.load(path, map_location='cpu', weights_only=True)['fixture']
    got = run(model, num_joints, pose_dim)
    assert set(got['outputs']) == set(expected['outputs'])
    for key, value in expected['outputs'].items():
        # The fixtures were written with torch's default 2 CPU threads; another thread count
        # sums in another order, which moves pixel keypoints (~200) by a float32 rounding step
        # (3e-5): hence the relative term.
        torch.testing.assert_close(got['outputs'][key], value, rtol=1e-6, atol=1e-6,
                                   msg=lambda text, key=key: f'{name} {form}: {key}: {text}')
    assert set(got['losses']) == set(expected['losses'])
    for key, value in expected['losses'].items():
        # Losses sum thousands of terms, and another CPU's matrix kernels round otherwise: on
        # an AMD EPYC the SMPL-shape loss (~186) moved by 1.6e-6 relative (19 float32 steps).
        torch.testing.assert_close(got['losses'][key], value, rtol=1e-5, atol=1e-7,
                                   msg=lambda text, key=key: f'{name} {form}: {key}: {text}')


@pytest.mark.parametrize('name', sorted(MODELS_TO_WRITE))
def test_old_checkpoint_with_the_released_mesh_root(files, name):
    """Today's default centres meshes on the released root (body: the H36M pelvis): the same
    weights give the same camera and the same mesh up to that translation."""
    path = FIXTURES / f'checkpoint_bc82ce4_{name}.pth'
    head_cfg, num_joints, pose_dim = MODELS_TO_WRITE[name]
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(estimator_cfg(with_files(as_mesh_head(head_cfg), files)))
    load_checkpoint(model, str(path), map_location='cpu', strict=True)
    expected = torch.load(path, map_location='cpu', weights_only=True)['fixture']['outputs']
    got = run(model, num_joints, pose_dim)['outputs']
    torch.testing.assert_close(got['cam'], expected['cam'], rtol=0, atol=1e-6)
    shift = got['vertices'] - expected['vertices']  # (B, V, 3): one translation per mesh
    torch.testing.assert_close(shift, shift[:, :1].expand_as(shift), rtol=0, atol=1e-6)
    torch.testing.assert_close(got['keypoints_3d'] - expected['keypoints_3d'],
                               shift[:, :1].expand_as(expected['keypoints_3d']), rtol=0,
                               atol=1e-6)
    if name.startswith('hand'):  # the hand's root is its wrist, as before
        assert shift.abs().max() < 1e-6
    else:
        assert shift.abs().max() > 1e-4
