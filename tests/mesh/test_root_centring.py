"""Tests for the root helpers of fastmetro_mm.mesh.joint_sets: known answers, torch and numpy."""
import numpy as np
import pytest
import torch

from fastmetro_mm.mesh.joint_sets import H36M_17, J14, MANO_21, centre_on_root, root_point


def j14_joints(batch=2):
    """(B, 14, 3) joints whose hips (2 and 3) are at known places: mid-hip (1 + b, 2, 3)."""
    joints = np.arange(batch * 14 * 3, dtype=np.float64).reshape(batch, 14, 3)
    for b in range(batch):
        joints[b, 2] = [0.0 + b, 1.0, 2.0]
        joints[b, 3] = [2.0 + b, 3.0, 4.0]
    return joints


@pytest.mark.parametrize('as_type', [np.asarray, torch.from_numpy], ids=['numpy', 'torch'])
def test_root_point_is_the_mean_of_the_root_rows(as_type):
    joints = as_type(j14_joints())
    root = root_point(joints, (2, 3))
    assert type(root) is type(joints) and root.dtype == joints.dtype
    assert tuple(root.shape) == (2, 1, 3)
    np.testing.assert_array_equal(np.asarray(root), [[[1.0, 2.0, 3.0]], [[2.0, 2.0, 3.0]]])
    # One root row: the row itself; no batch axis: (1, 3).
    np.testing.assert_array_equal(np.asarray(root_point(joints[0], (5, ))),
                                  np.asarray(joints[0, 5:6]))


@pytest.mark.parametrize('as_type', [np.asarray, torch.from_numpy], ids=['numpy', 'torch'])
def test_centre_on_root_and_joint_set_centre(as_type):
    joints = as_type(j14_joints())
    points = as_type(np.ones((2, 5, 3)))  # e.g. vertices, centred on the joints' root
    centred = centre_on_root(points, joints, J14.root)
    assert type(centred) is type(points) and tuple(centred.shape) == (2, 5, 3)
    expected = np.ones((2, 5, 3)) - np.array([[[1.0, 2.0, 3.0]], [[2.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(np.asarray(centred), expected)
    np.testing.assert_array_equal(np.asarray(J14.centre(points, joints)), expected)
    np.testing.assert_array_equal(np.asarray(J14.root_of(joints)),
                                  np.asarray(root_point(joints, (2, 3))))
    # Centred joints have their root at the origin.
    np.testing.assert_array_equal(np.asarray(J14.root_of(J14.centre(joints, joints))), 0.0)


def test_single_joint_roots_and_gradients():
    wrist = torch.tensor([[[1.0, -2.0, 0.5]]])
    hand = torch.cat([wrist, torch.zeros(1, 20, 3)], dim=1).requires_grad_()
    centred = MANO_21.centre(hand, hand)
    torch.testing.assert_close(centred[0, 1], -wrist[0, 0])
    centred.sum().backward()  # differentiable: d/d(wrist) = 1 - 21 per coordinate
    torch.testing.assert_close(hand.grad[0, 0], torch.full((3, ), -20.0))
    assert H36M_17.root == (0, )
    pelvis = np.random.default_rng(0).normal(size=(17, 3))
    np.testing.assert_array_equal(H36M_17.root_of(pelvis), pelvis[:1])
