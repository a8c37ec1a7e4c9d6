"""A checkpoint that does not fit the model is refused, naming the keys, unless allowed.

The session's random-weight FastMETRO-S body checkpoint (tests/apis/conftest.py) is loaded
into the same config at size L (more transformer layers) and into the
synthetic hand config (other token counts), through ``init_model``, the demos' set-up and
``tools/test.py``; ``strict=False`` / ``--allow-partial-load`` loads the matching part.
"""
import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fastmetro_mm.apis import init_model
from fastmetro_mm.engine import CheckpointMismatchError
from fastmetro_mm.engine.checkpoint_match import compare_state_dict

ROOT = Path(__file__).resolve().parents[2]
HAND_CONFIG = ROOT / 'configs' / 'fastmetro_s_r50_synthetic_hand.py'
SIZE_L = {'model.head.network.model_size': 'L'}


def _hand_options(data_dir: Path) -> dict:
    return {'model.head.hierarchy_file': str(data_dir / 'synthetic_mano_downsampling.npz'),
            'model.head.body_model.model_path': str(data_dir / 'MANO_RIGHT.pkl')}


def test_matching_checkpoint_loads_its_weights(mesh_checkpoint):
    saved = torch.load(mesh_checkpoint['checkpoint'], map_location='cpu')
    model = init_model(mesh_checkpoint['config'], mesh_checkpoint['checkpoint'],
                       cfg_options=dict(mesh_checkpoint['cfg_options']))
    assert not compare_state_dict(model, saved)
    assert all(torch.equal(value, saved[key]) for key, value in model.state_dict().items())


def test_size_s_checkpoint_into_size_l_is_refused_naming_keys(mesh_checkpoint):
    options = dict(mesh_checkpoint['cfg_options'], **SIZE_L)
    with pytest.raises(CheckpointMismatchError) as error:
        init_model(mesh_checkpoint['config'], mesh_checkpoint['checkpoint'],
                   cfg_options=dict(options))
    text = str(error.value)
    assert f"checkpoint {mesh_checkpoint['checkpoint']}" in text and 'strict=False' in text
    # L has more encoder / decoder layers than S: their weights are missing (counted).
    assert 'missing from the checkpoint: head.network.transformer_1.encoder.layers.1.' in text
    assert 'more)' in text and 'unexpected' not in text
    # A partial load on purpose: the backbone (same in S and L) comes from the checkpoint.
    model = init_model(mesh_checkpoint['config'], mesh_checkpoint['checkpoint'],
                       cfg_options=dict(options), strict=False)
    saved = torch.load(mesh_checkpoint['checkpoint'], map_location='cpu')
    assert torch.equal(model.state_dict()['backbone.conv1.weight'],
                       saved['backbone.conv1.weight'])


def test_body_checkpoint_into_hand_config_is_refused(mesh_checkpoint, synthetic_data_dir):
    options = _hand_options(synthetic_data_dir)
    with pytest.raises(CheckpointMismatchError, match='with another shape: .*vertex'):
        init_model(str(HAND_CONFIG), mesh_checkpoint['checkpoint'], cfg_options=dict(options))
    init_model(str(HAND_CONFIG), mesh_checkpoint['checkpoint'], cfg_options=dict(options),
               strict=False)


def test_wrapped_mmengine_checkpoint_loads_with_its_dataset_meta(mesh_checkpoint, tmp_path):
    """An MMEngine checkpoint of a DDP-wrapped model (keys 'module.*') loads strictly."""
    saved = torch.load(mesh_checkpoint['checkpoint'], map_location='cpu')
    path = tmp_path / 'wrapped.pth'
    torch.save(dict(state_dict={f'module.{k}': v for k, v in saved.items()},
                    meta=dict(dataset_meta=dict(dataset_name='from_checkpoint'))), path)
    model = init_model(mesh_checkpoint['config'], str(path),
                       cfg_options=dict(mesh_checkpoint['cfg_options']))
    assert model.dataset_meta['dataset_name'] == 'from_checkpoint'


def _demo_args(mesh_checkpoint, *extra: str) -> argparse.Namespace:
    sys.path.insert(0, str(ROOT / 'demo'))
    try:
        import demo_setup
    finally:
        sys.path.remove(str(ROOT / 'demo'))
    parser = argparse.ArgumentParser()
    demo_setup.add_common_args(parser)
    options = [f'{k}={v}' for k, v in dict(mesh_checkpoint['cfg_options'], **SIZE_L).items()]
    args = parser.parse_args([mesh_checkpoint['config'], mesh_checkpoint['checkpoint'],
                              '--bbox', '0', '0', '10', '10', *extra, '--cfg-options',
                              *options])
    return demo_setup, args


def test_demos_refuse_unless_allowed(mesh_checkpoint):
    demo_setup, args = _demo_args(mesh_checkpoint)
    with pytest.raises(SystemExit, match='(?s)does not fit.*--allow-partial-load'):
        demo_setup.build(args)
    demo_setup, args = _demo_args(mesh_checkpoint, '--allow-partial-load')
    model, detector, _ = demo_setup.build(args)
    assert detector is None and model.head.network is not None


def _test_tool():
    spec = importlib.util.spec_from_file_location('tools_test_strict', ROOT / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tools_test_refuses_a_checkpoint_of_another_size(mesh_checkpoint, synthetic_data_dir,
                                                        tmp_path, monkeypatch):
    """tools/test.py stops at loading (before any test batch), naming the keys."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'synthetic').symlink_to(synthetic_data_dir, target_is_directory=True)
    # A one-person annotation file for the config's test set: no image is read before the
    # checkpoint is loaded.
    annotations = tmp_path / 'data' / 'synthetic_dataset' / 'synthetic_test.npz'
    annotations.parent.mkdir()
    np.savez(annotations, imgname=np.array(['absent.png']), center=np.full((1, 2), 50.0),
             scale=np.full(1, 0.5), part=np.ones((1, 24, 3)))
    options = [f'{k}={v}' for k, v in dict(mesh_checkpoint['cfg_options'], **SIZE_L).items()]
    argv = [mesh_checkpoint['config'], mesh_checkpoint['checkpoint'], '--work-dir', 'work',
            '--cfg-options', *options, 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']
    with pytest.raises(SystemExit) as error:
        _test_tool().main(argv)
    text = str(error.value)
    assert text.startswith(f"tools/test.py: checkpoint {mesh_checkpoint['checkpoint']} does "
                           'not fit') and '--allow-partial-load' in text
    assert 'missing from the checkpoint: head.network.' in text
    tool = _test_tool()
    cfg = tool.merge_args(tool.Config.fromfile(mesh_checkpoint['config']),
                          tool.parse_args([*argv[:2], '--allow-partial-load']))
    hooks = [h for h in cfg.custom_hooks if h['type'] == 'CheckpointMatchHook']
    assert len(hooks) == 1 and hooks[0]['allow_partial'] is True
