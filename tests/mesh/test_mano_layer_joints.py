"""mano_layer_joints: MANO's posed skeleton plus the layer's fingertips, in FreiHAND order."""
import pytest
import torch

from fastmetro_mm.mesh import MANO_16, MANO_21, mano_layer_joints


def test_order_and_fingertips_follow_the_mano_layer():
    skeleton = torch.randn(2, 16, 3)
    vertices = torch.randn(2, 778, 3)
    right = mano_layer_joints(skeleton, vertices, is_rhand=True)
    assert right.shape == (2, 21, 3)
    # Skeleton joints keep their names; MANO_21 holds MANO_16's joints plus the five tips.
    for name in MANO_16.names:
        torch.testing.assert_close(right[:, MANO_21.index(name)],
                                   skeleton[:, MANO_16.index(name)])
    tips = {'Thumb_4': 745, 'Index_4': 317, 'Middle_4': 444, 'Ring_4': 556, 'Pinky_4': 673}
    for name, vertex in tips.items():
        torch.testing.assert_close(right[:, MANO_21.index(name)], vertices[:, vertex])
    # The layer's left hand takes the neighbouring middle-tip vertex.
    left = mano_layer_joints(skeleton, vertices, is_rhand=False)
    torch.testing.assert_close(left[:, MANO_21.index('Middle_4')], vertices[:, 445])


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r'skeleton must be \(B, 16, 3\)'):
        mano_layer_joints(torch.zeros(1, 21, 3), torch.zeros(1, 778, 3))
    with pytest.raises(ValueError, match=r'vertices must be \(B, 778, 3\)'):
        mano_layer_joints(torch.zeros(1, 16, 3), torch.zeros(1, 162, 3))
