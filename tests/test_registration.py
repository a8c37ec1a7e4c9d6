"""`import fastmetro_mm` / `custom_imports` registers the plugin in MMPose's registries."""
from pathlib import Path

import numpy as np
import torch
import trimesh
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from fastmetro_mm.mesh.hierarchy import MeshHierarchy


def test_config_with_custom_imports_builds_plugin_modules(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=2)  # 162 vertices
    hierarchy_file = tmp_path / 'sphere_hierarchy.npz'
    MeshHierarchy.build(sphere.vertices, sphere.faces, factors=(4,)).save(hierarchy_file)
    regressor_file = tmp_path / 'regressor.npy'
    regressor = np.zeros((2, 162))
    regressor[0, :3] = 1 / 3
    regressor[1, 10] = 1.0
    np.save(regressor_file, regressor)

    cfg = Config(dict(
        default_scope='mmpose',
        custom_imports=dict(imports=['fastmetro_mm'], allow_failed_imports=False),
        upsampler=dict(type='MeshUpsampler', hierarchy_file=str(hierarchy_file), from_level=1),
        regressor=dict(type='JointRegressor', regressor_file=str(regressor_file),
                       num_vertices=162),
    ))
    import_modules_from_strings(**cfg.custom_imports)
    from mmpose.registry import MODELS
    init_default_scope(cfg.default_scope)
    upsampler = MODELS.build(cfg.upsampler)
    joint_regressor = MODELS.build(cfg.regressor)

    assert upsampler.vertex_counts == (41, 162)
    down = MeshHierarchy.from_npz(hierarchy_file).down[0]
    coarse = torch.from_numpy(down @ sphere.vertices)[None]
    fine = upsampler(coarse.double())
    assert fine.shape == (1, 162, 3)
    kept = down.tocsr().indices  # kept vertices are reproduced exactly by their identity rows
    torch.testing.assert_close(fine[0, kept], torch.from_numpy(sphere.vertices[kept]))
    joints = joint_regressor(torch.from_numpy(sphere.vertices).float()[None])
    torch.testing.assert_close(joints[0, 1], torch.from_numpy(sphere.vertices[10]).float())
    torch.testing.assert_close(joints[0, 0],
                               torch.from_numpy(sphere.vertices[:3].mean(0)).float())


def test_every_registered_name_is_in_its_registry():
    import fastmetro_mm
    import mmpose.registry
    assert set(fastmetro_mm.REGISTERED_NAMES) == {
        'MODELS', 'TRANSFORMS', 'DATASETS', 'DATA_SAMPLERS', 'METRICS', 'HOOKS', 'VISUALIZERS',
        'OPTIM_WRAPPERS'}
    for registry_name, names in fastmetro_mm.REGISTERED_NAMES.items():
        registry = getattr(mmpose.registry, registry_name)
        assert names, registry.name
        assert [name for name in names if name not in registry] == [], registry.name


def test_resume_state_hook_builds_from_a_config():
    import fastmetro_mm  # noqa: F401
    from mmpose.registry import HOOKS

    from fastmetro_mm.engine import ResumeStateHook
    init_default_scope('mmpose')
    hook = HOOKS.build(dict(type='ResumeStateHook'))
    assert isinstance(hook, ResumeStateHook) and hook.priority == 'LOWEST'
    runtime = Config.fromfile(str(Path(__file__).resolve().parents[1] / 'configs' / '_base_' /
                                  'default_runtime.py'))
    assert dict(type='ResumeStateHook') in runtime.custom_hooks


def test_mesh_visualizer_is_registered_in_mmpose_visualizers():
    import fastmetro_mm
    from mmpose.registry import VISUALIZERS
    assert fastmetro_mm.REGISTERED_VISUALIZERS == ('MeshLocalVisualizer', )
    for name in fastmetro_mm.REGISTERED_VISUALIZERS:
        assert name in VISUALIZERS, name
    visualizer = VISUALIZERS.build(dict(type='MeshLocalVisualizer', name='registration_test',
                                        faces=np.array([[0, 1, 2]])))
    assert visualizer.faces.shape == (1, 3)
