"""MeshLocalVisualizer: built from MMPose's VISUALIZERS, draws meshes where the person is, and
tools/test.py --show-dir saves one rendered picture per test image through the runner."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.structures import InstanceData
from mmpose.registry import VISUALIZERS
from mmpose.structures import PoseDataSample

from fastmetro_mm.mesh.image_camera import fit_crop_cam

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scene_helpers import (ROOT, posed_body, render_ground_truth,  # noqa: E402
                           save_mesh_checkpoint, square_box)

WIDTH, HEIGHT = 320, 240
INPUT = 128


def test_visualizer_draws_the_mesh_over_the_person_and_gt_keypoints(synthetic_data_dir,
                                                                   tmp_path):
    body = posed_body(synthetic_data_dir, 2)
    gt = render_ground_truth(body['vertices'], body['faces'], WIDTH, HEIGHT, 2,
                             fov_range=(8.0, 12.0))
    center, side = square_box(gt['uv'])
    root_relative = body['vertices'] - body['vertices'].mean(0)
    cam = fit_crop_cam(root_relative, gt['uv'], center, side)
    visualizer = VISUALIZERS.build(dict(
        type='MeshLocalVisualizer', name='test_mesh_visualizer', alpha=1.0,
        body_model=dict(model_type='smpl', model_path=str(synthetic_data_dir /
                                                            'SMPL_NEUTRAL.pkl'))))
    sample = PoseDataSample(metainfo=dict(input_center=center, input_scale=np.array([side, side]),
                                          input_size=(INPUT, INPUT)))
    sample.pred_instances = InstanceData(vertices=root_relative[None].astype(np.float32),
                                         cam=cam[None].astype(np.float32))
    marked = gt['uv'][[0, 3000, 6000]]  # three vertices as "GT keypoints", in crop pixels
    sample.gt_instances = InstanceData(
        keypoints=((marked - center) / side * INPUT + INPUT / 2)[None],
        keypoints_visible=np.ones((1, 3)))
    out_file = tmp_path / 'drawn.png'
    drawn = visualizer.add_datasample('sample', gt['image'], sample, out_file=str(out_file))

    assert drawn.shape == (HEIGHT, 3 * WIDTH, 3)  # GT | prediction | side view
    np.testing.assert_array_equal(cv2.imread(str(out_file))[..., ::-1], drawn)
    overlay = drawn[:, WIDTH:2 * WIDTH]
    covered = np.any(overlay != gt['image'], axis=-1)
    iou = (covered & gt['mask']).sum() / (covered | gt['mask']).sum()
    assert iou > 0.9
    gt_panel = drawn[:, :WIDTH]
    for x, y in np.round(marked).astype(int):  # lime dots at the GT keypoints
        assert tuple(gt_panel[y, x]) == (0, 255, 0)
    side_view = drawn[:, 2 * WIDTH:]
    assert (side_view != 255).any(axis=-1).sum() > 0.5 * gt['mask'].sum()


def test_visualizer_without_faces_says_how_to_give_them():
    visualizer = VISUALIZERS.build(dict(type='MeshLocalVisualizer', name='test_no_faces'))
    with pytest.raises(ValueError, match='body_model'):
        visualizer.faces


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'tools_{name}', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_test_tool_show_dir_saves_rendered_predictions(synthetic_data_dir, tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'dataset_converters' / 'make_synthetic.py'),
         '--model-dir', str(synthetic_data_dir), '--out-dir', str(tmp_path / 'data'),
         '--num-train', '1', '--num-test', '3', '--image-size', '96', '96', '--seed', '2'],
        check=True, capture_output=True, timeout=300)
    model = save_mesh_checkpoint(synthetic_data_dir, tmp_path / 'model.pth')
    options = [f'{key}={value}' for key, value in model['cfg_options'].items()]
    data_dir = synthetic_data_dir
    options += [
        f'test_dataloader.dataset.data_root={tmp_path / "data"}',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        'test_dataloader.batch_size=2',
        f'test_evaluator.joint_regressor_file={data_dir / "J_regressor_h36m_synthetic.npy"}',
        f'test_evaluator.body_model.model_path={data_dir / "SMPL_NEUTRAL.pkl"}',
        # MMEngine keeps one visualizer per name and process: a fresh name, so that an
        # earlier in-process run's visualizer (without this model's faces) is not reused.
        'visualizer.name=show_dir_test_visualizer',
    ]
    test_tool = _load_tool('test')
    args = test_tool.parse_args([model['config'], model['checkpoint'], '--work-dir',
                                 str(tmp_path / 'work'), '--show-dir', 'vis',
                                 '--cfg-options', *options])
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    test_tool.merge_args(cfg, args)
    assert cfg.default_hooks.visualization.enable is True
    assert cfg.default_hooks.visualization.out_dir == 'vis'
    assert cfg.visualizer.body_model == dict(model_path=str(data_dir / 'SMPL_NEUTRAL.pkl'),
                                             model_type='smpl')
    metrics = test_tool.main([model['config'], model['checkpoint'], '--work-dir',
                              str(tmp_path / 'work'), '--show-dir', 'vis', '--cfg-options',
                              *options])
    assert 'mesh/MPJPE' in metrics
    pictures = sorted((tmp_path / 'work').glob('*/vis/*.jpg'))
    assert [p.name for p in pictures] == ['000000_0.jpg', '000001_0.jpg', '000002_0.jpg']
    picture = cv2.imread(str(pictures[0]))
    assert picture.shape == (96, 2 * 96, 3)  # prediction | side view (the hook draws no GT)
    image = cv2.imread(str(tmp_path / 'data' / 'images' / 'test' / '000000.jpg'))
    assert (np.abs(picture[:, :96].astype(int) - image).max(-1) > 40).sum() > 20
