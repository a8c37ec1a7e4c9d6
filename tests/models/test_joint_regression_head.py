"""JointRegressionHead (the quickstart's backbone warm-up head) through MMPose's registry."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

import fastmetro_mm  # noqa: F401  (registers into mmpose.registry)
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample


def _sample(joints, visible=None, has_3d=1):
    sample = PoseDataSample()
    sample.gt_instances = InstanceData(
        joints_3d=joints[None].astype(np.float32),
        joints_3d_visible=np.ones((1, len(joints)), np.float32) if visible is None
        else visible[None].astype(np.float32),
        has_joints_3d=np.array([has_3d]))
    return sample


def _head(**kwargs):
    cfg = dict(type='JointRegressionHead', in_channels=8, num_joints=4, root_indices=(0, 1))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_loss_is_the_root_relative_l1_and_ignores_invisible_joints():
    head = _head(loss_weight=1.0)
    with torch.no_grad():
        head.fc.weight.zero_()
        head.fc.bias.zero_()  # predicts 0 for every joint, i.e. all on the root
    feats = (torch.randn(2, 8, 3, 3), )
    joints = np.array([[0, 0, 0], [2, 0, 0], [1, 3, 0], [1, 0, 6]], np.float64)
    # A translation does not change the loss: it is root-relative (root = mean of 0 and 1).
    samples = [_sample(joints), _sample(joints + 5.0)]
    relative = np.abs(joints - joints[:2].mean(0)).sum(1)  # (4,) L1 per joint
    loss = head.loss(feats, samples)['loss_joints_3d']
    assert loss.item() == pytest.approx(relative.sum() / 12, rel=1e-6)
    # Joint 3 invisible in the first sample, the second sample without 3D joints.
    samples = [_sample(joints, visible=np.array([1, 1, 1, 0])), _sample(joints, has_3d=0)]
    loss = head.loss(feats, samples)['loss_joints_3d']
    assert loss.item() == pytest.approx(relative[:3].sum() / 9, rel=1e-6)


def test_training_fits_joints_that_depend_on_the_features():
    torch.manual_seed(0)
    head = _head()
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(16, 8))
    targets = np.einsum('bc,ckd->bkd', codes, rng.normal(size=(8, 4, 3))) * 0.1
    feats = (torch.as_tensor(codes, dtype=torch.float32)[:, :, None, None].expand(-1, -1, 2, 2), )
    samples = [_sample(t) for t in targets]
    first = head.loss(feats, samples)['loss_joints_3d'].item()
    for _ in range(300):
        loss = head.loss(feats, samples)['loss_joints_3d']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05 * first
    predictions = head.predict(feats, samples)
    assert len(predictions) == 16 and predictions[0].keypoints_3d.shape == (1, 4, 3)
    relative = targets - targets[:, :2].mean(1, keepdims=True)
    assert np.abs(predictions[3].keypoints_3d[0] - relative[3]).max() < 0.05


def test_bad_root_and_bad_ground_truth_are_named():
    with pytest.raises(ValueError, match=r'root_indices \(5,\)'):
        _head(root_indices=(5, ))
    head = _head()
    with pytest.raises(ValueError,
                       match='JointRegressionHead: data sample 0 gt_instances.joints_3d'):
        head.loss((torch.zeros(1, 8, 2, 2), ), [_sample(np.zeros((3, 3)))])
