"""ONNX export (tools/deployment/export_onnx.py) and the onnxruntime backend of the API.

The synthetic FastMETRO-S-R50 is exported once through the tool; ONNX Runtime must give every
output of the head's forward within 1e-4 of PyTorch at batch 1 and 3 (the dynamic axis), and
``init_model(backend='onnxruntime')`` the same ``inference_mesh`` results. The SMPL-regressor
variant is exported through the API.
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fastmetro_mm.apis import inference_mesh, init_model
from fastmetro_mm.deployment import (ExportableMeshNetwork, OnnxRuntimeNetwork, export_onnx,
                                     use_onnxruntime)

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-4


def _options(mesh_checkpoint) -> list:
    return [f'{key}={value}' for key, value in mesh_checkpoint['cfg_options'].items()]


@pytest.fixture(scope='module')
def exported(mesh_checkpoint, tmp_path_factory) -> Path:
    """The synthetic model exported by the tool (in-process: no second interpreter)."""
    out = tmp_path_factory.mktemp('onnx') / 'fastmetro_s.onnx'
    spec = importlib.util.spec_from_file_location(
        'export_onnx_tool', ROOT / 'tools' / 'deployment' / 'export_onnx.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([mesh_checkpoint['config'], mesh_checkpoint['checkpoint'], '--out',
                      str(out), '--no-check', '--cfg-options', *_options(mesh_checkpoint)]) == 0
    return out


@pytest.fixture(scope='module')
def model(mesh_checkpoint):
    return init_model(mesh_checkpoint['config'], mesh_checkpoint['checkpoint'], 'cpu',
                      cfg_options=mesh_checkpoint['cfg_options'])


def _max_differences(model, network: OnnxRuntimeNetwork, batch: int) -> dict:
    torch.manual_seed(batch)
    image = torch.randn(batch, 3, *network.input_shape[2:])
    with torch.no_grad():
        expected = model.head.forward(model.extract_feat(image))
    got = network(image)
    assert sorted(got) == sorted(expected)
    return {name: float((got[name] - expected[name]).abs().max()) for name in got}


@pytest.fixture(scope='module')
def network(exported) -> OnnxRuntimeNetwork:
    return OnnxRuntimeNetwork(exported)


@pytest.mark.parametrize('batch', [1, 3])
def test_onnxruntime_outputs_match_pytorch(model, network, batch):
    assert network.output_names == ['pred_cam', 'pred_3d_joints', 'pred_3d_vertices_coarse',
                                    'pred_3d_vertices_intermediate', 'pred_3d_vertices_fine']
    differences = _max_differences(model, network, batch)
    assert max(differences.values()) <= TOLERANCE, differences


def test_api_backend_gives_the_pytorch_results(model, exported, mesh_checkpoint):
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[40, 20, 200, 230], [10, 20, 90, 200]], np.float32)
    ort_model = init_model(mesh_checkpoint['config'], None, 'cpu',
                           cfg_options=mesh_checkpoint['cfg_options'],
                           backend='onnxruntime', onnx_file=exported)
    expected = inference_mesh(model, image, boxes)
    got = inference_mesh(ort_model, image, boxes, batch_size=1)
    for person, reference in zip(got, expected):
        for key in ('vertices', 'keypoints_3d', 'cam', 'vertices_cam', 'cam_t'):
            np.testing.assert_allclose(getattr(person, key), getattr(reference, key),
                                       atol=TOLERANCE, err_msg=key)
        np.testing.assert_allclose(person.keypoints_2d, reference.keypoints_2d, atol=1e-2)
    with pytest.raises(ValueError, match='attention'):
        inference_mesh(ort_model, image, boxes, return_attention=True)


def test_refusals(model, exported, mesh_checkpoint):
    with pytest.raises(FileExistsError, match='exists'):
        export_onnx(model, exported)
    with pytest.raises(ValueError, match='onnx_file'):
        init_model(mesh_checkpoint['config'], None, 'cpu',
                   cfg_options=mesh_checkpoint['cfg_options'], backend='onnxruntime')
    with pytest.raises(FileNotFoundError, match='missing.onnx'):
        OnnxRuntimeNetwork(exported.parent / 'missing.onnx')


def test_smpl_regressor_is_exported(mesh_checkpoint, tmp_path):
    options = dict(mesh_checkpoint['cfg_options'])
    # A ResNet-18 backbone (512 channels) keeps building and tracing short.
    options.update({'model.head.smpl_regressor.hidden_channels': 32,
                    'model.head.smpl_regressor.num_blocks': 1,
                    'model.backbone.depth': 18, 'model.head.in_channels': 512})
    smpl_model = init_model(mesh_checkpoint['config'], None, 'cpu', cfg_options=options)
    out = tmp_path / 'smpl.onnx'
    names = export_onnx(smpl_model, out)
    assert names[-2:] == ['pred_smpl_matrices', 'pred_smpl_betas']
    network = OnnxRuntimeNetwork(out)
    differences = _max_differences(smpl_model, network, 2)
    assert max(differences.values()) <= TOLERANCE, differences
    use_onnxruntime(smpl_model, out)
    assert smpl_model.exported_network is not None
    wrapper = ExportableMeshNetwork(smpl_model)
    assert wrapper.estimator is smpl_model


def test_image_demo_runs_the_onnx_file(model, exported, mesh_checkpoint, tmp_path):
    import cv2
    sys.path.insert(0, str(ROOT / 'demo'))  # the demo imports demo_setup beside it
    spec = importlib.util.spec_from_file_location('image_demo_onnx', ROOT / 'demo' /
                                                  'image_demo.py')
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    image = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    folder = tmp_path / 'images'
    folder.mkdir()
    cv2.imwrite(str(folder / 'img.png'), image)
    box = [20, 5, 140, 115]
    argv = [mesh_checkpoint['config'], mesh_checkpoint['checkpoint'], '--input', str(folder),
            '--out-dir', str(tmp_path / 'out'), '--bbox', *map(str, box),
            '--backend', 'onnxruntime', '--onnx', str(exported),
            '--cfg-options', *_options(mesh_checkpoint)]
    assert demo.main(argv) == 0
    numbers = np.load(tmp_path / 'out' / 'predictions.npz')
    expected = inference_mesh(model, str(folder / 'img.png'), np.array([box], np.float32))
    np.testing.assert_allclose(numbers['vertices'][0], expected[0].vertices, atol=TOLERANCE)


def test_hand_config_is_exported(synthetic_data_dir, tmp_path):
    options = {'model.head.hierarchy_file': str(synthetic_data_dir /
                                                'synthetic_mano_downsampling.npz'),
               'model.head.body_model.model_path': str(synthetic_data_dir / 'MANO_RIGHT.pkl'),
               'model.backbone.depth': 18, 'model.head.in_channels': 512}
    hand_model = init_model(str(ROOT / 'configs' / 'fastmetro_s_r50_synthetic_hand.py'), None,
                            'cpu', cfg_options=options)
    out = tmp_path / 'hand.onnx'
    assert export_onnx(hand_model, out) == ['pred_cam', 'pred_3d_joints',
                                            'pred_3d_vertices_coarse', 'pred_3d_vertices_fine']
    differences = _max_differences(hand_model, OnnxRuntimeNetwork(out), 3)
    assert max(differences.values()) <= TOLERANCE, differences
