"""projects/pose2d_and_mesh: a heatmap head and the FastMETRO head on one ResNet-50, trained
jointly for two iterations on the synthetic body and evaluated with MeshMetric and MMPose's
PCKAccuracy / EPE (through KeypointMetricAdapter)."""
import math

import numpy as np
import pytest
import torch

from projects_helpers import ROOT, run_project_config

CONFIG = ROOT / 'projects' / 'pose2d_and_mesh' / 'configs' / 'pose2d_mesh_r50_synthetic.py'
J24_TO_J14 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18]


@pytest.fixture(scope='module')
def trained(project_workspace, tmp_path_factory):
    return run_project_config(CONFIG, project_workspace, tmp_path_factory.mktemp('pose_mesh'))


def test_joint_training_and_both_metrics(trained):
    runner, metrics, _ = trained
    assert runner.iter == 2
    for key in ('mesh/MPJPE', 'mesh/PA-MPJPE', 'mesh/MPVPE', 'mesh/PA-MPVPE'):
        assert math.isfinite(metrics[key]) and metrics[key] > 0, (key, metrics)
    assert 0.0 <= metrics['PCK'] <= 1.0
    assert math.isfinite(metrics['EPE']) and metrics['EPE'] > 0


def test_losses_are_both_heads_weighted(trained):
    runner, _, batches = trained
    model = runner.model
    model.eval()  # no dropout, fixed BatchNorm: the same features twice
    data = model.data_preprocessor(batches['train'], True)
    with torch.no_grad():
        losses = model.loss(data['inputs'], data['data_samples'])
        feats = model.extract_feat(data['inputs'])
        pose = model.head.loss(feats, data['data_samples'])
        mesh = model.mesh_head.loss(feats, data['data_samples'])
    assert set(losses) == {f'pose2d_{k}' for k in pose} | {f'mesh_{k}' for k in mesh}
    assert model.loss_weights == {'pose2d': 1000.0, 'mesh': 1.0}
    torch.testing.assert_close(losses['pose2d_loss_kpt'], 1000.0 * pose['loss_kpt'])
    torch.testing.assert_close(losses['pose2d_acc_pose'], pose['acc_pose'])  # not weighted
    torch.testing.assert_close(losses['mesh_loss_vertices'], mesh['loss_vertices'])


def test_one_pass_predicts_2d_keypoints_and_meshes(trained):
    runner, _, batches = trained
    model = runner.model
    model.eval()
    data = model.data_preprocessor(batches['val'], False)
    with torch.no_grad():
        samples = model.predict(data['inputs'], data['data_samples'])
        mesh_only = model.mesh_head.predict(model.extract_feat(data['inputs']),
                                            data['data_samples'])
    for sample, mesh in zip(samples, mesh_only):
        pred, gt, meta = sample.pred_instances, sample.gt_instances, sample.metainfo
        assert pred.keypoints.shape == (1, 24, 2) and pred.keypoint_scores.shape == (1, 24)
        assert pred.vertices.shape == (1, 6890, 3) and pred.keypoints_3d.shape == (1, 14, 3)
        np.testing.assert_allclose(pred.vertices, mesh.vertices, rtol=1e-5, atol=1e-6)
        # Crop pixels -> image pixels: the crop of input_size covers center +- scale / 2.
        center, scale, size = (np.asarray(meta[k], np.float32)[:2]
                               for k in ('input_center', 'input_scale', 'input_size'))
        expected = mesh.keypoints / size * scale + center - scale / 2
        np.testing.assert_allclose(pred.mesh_keypoints, expected, rtol=1e-5, atol=1e-3)
        # The packer's image-pixel J24 joints are the mesh head's crop-pixel J14 joints
        # mapped by the same crop (no augmentation at test time).
        image = np.asarray(gt.keypoints) / size * scale + center - scale / 2
        np.testing.assert_allclose(np.asarray(gt.pose2d_keypoints)[:, J24_TO_J14], image,
                                   rtol=1e-5, atol=1e-2)
        assert gt.pose2d_keypoints_visible.shape == (1, 24)


def test_metric_adapter_known_answers():
    import fastmetro_mm  # noqa: F401
    import projects.pose2d_and_mesh.pose2d_and_mesh  # noqa: F401  (registers the adapter)
    from mmpose.registry import METRICS

    keypoints = np.array([[[10.0, 10.0], [20.0, 30.0], [50.0, 40.0]]])
    visible = np.array([[1.0, 1.0, 0.0]])

    def sample(shift):
        return dict(
            pred_instances=dict(keypoints=keypoints + shift),
            gt_instances=dict(pose2d_keypoints=keypoints, pose2d_keypoints_visible=visible,
                              # what the mesh head reads: must not reach the metric
                              keypoints=np.zeros_like(keypoints),
                              keypoints_visible=np.zeros((1, 3)),
                              bboxes=np.array([[0.0, 0.0, 100.0, 100.0]])))

    epe = METRICS.build(dict(type='KeypointMetricAdapter', metric=dict(type='EPE')))
    pck = METRICS.build(dict(type='KeypointMetricAdapter',
                             metric=dict(type='PCKAccuracy', thr=0.06, norm_item='bbox')))
    for metric in (epe, pck):
        metric.dataset_meta = {}
        metric.process([], [sample(np.array([3.0, 4.0])), sample(np.zeros(2))])
    assert epe.evaluate(2)['EPE'] == pytest.approx(2.5)  # (5 + 5 + 0 + 0) / 4 visible
    assert pck.evaluate(2)['PCK'] == pytest.approx(1.0)  # 5 px / 100 px < 0.06
    bad = METRICS.build(dict(type='KeypointMetricAdapter', metric=dict(type='EPE')))
    with pytest.raises(KeyError, match='pose2d_keypoints'):
        bad.process([], [dict(pred_instances=dict(keypoints=keypoints),
                              gt_instances=dict(keypoints=keypoints))])
