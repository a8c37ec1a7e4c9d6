"""A plain 3D joint regressor: global average pool, one linear layer, root-relative L1.

Not part of FastMETRO. It gives a backbone trained from random weights a short, direct
learning signal (every feature channel is one linear step from the 3D joints), which the
quickstart uses to warm a ResNet-18 up on the synthetic training images before FastMETRO-S
trains on it, the role ImageNet weights play for the paper's models. Through FastMETRO's
transformer the same backbone learns far more slowly from random weights (see the README).
"""
from __future__ import annotations

from typing import List, Sequence, Tuple, Union

import torch
from mmengine.structures import InstanceData
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList, SampleList
from torch import Tensor, nn

from fastmetro_mm.mesh.joint_sets import J14, centre_on_root
from fastmetro_mm.models.heads.sample_fields import gather_instances

Feats = Union[Tensor, Sequence[Tensor]]


@MODELS.register_module()
class JointRegressionHead(BaseHead):
    """Regresses K root-relative 3D joints from the last feature map.

    Args:
        in_channels: channels of the last backbone / neck output.
        num_joints: K; the ground truth is ``gt_instances.joints_3d`` (1, K, 3) in metres.
        root_indices: joints whose mean is the root; predictions and targets are compared
            relative to it (default: J14's two hips, FastMETRO's body root).
        loss_weight: scale of the L1 loss.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 num_joints: int = 14,
                 root_indices: Tuple[int, ...] = J14.root,
                 loss_weight: float = 1000.0,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg)
        if num_joints < 1 or not root_indices or not all(
                0 <= i < num_joints for i in root_indices):
            raise ValueError(f'JointRegressionHead: root_indices {tuple(root_indices)} must be '
                             f'a non-empty set of joints of the {num_joints}')
        self.num_joints = num_joints
        self.root_indices = tuple(root_indices)
        self.loss_weight = loss_weight
        self.fc = nn.Linear(in_channels, num_joints * 3)

    def _root_relative(self, joints: Tensor) -> Tensor:
        """(B, K, 3) joints moved so that their root (mean of ``root_indices``) is the origin."""
        return centre_on_root(joints, joints, self.root_indices)

    def forward(self, feats: Feats) -> Tensor:
        """(B, K, 3) root-relative joints in metres from (B, C, h, w) features."""
        features = feats[-1] if isinstance(feats, (list, tuple)) else feats
        joints = self.fc(features.mean(dim=(2, 3)).float())
        return self._root_relative(joints.view(-1, self.num_joints, 3))

    def loss(self,
             feats: Feats,
             batch_data_samples: SampleList,
             train_cfg: ConfigType = {}) -> dict:
        """Weighted L1 between root-relative predicted and GT joints.

        Joints count where ``joints_3d_visible`` is set, in samples with ``has_joints_3d``.
        """
        pred = self.forward(feats)
        device = pred.device
        name = type(self).__name__
        target = gather_instances(batch_data_samples, 'joints_3d', (self.num_joints, 3),
                                  device, name)  # (B, K, 3)
        visible = gather_instances(batch_data_samples, 'joints_3d_visible',
                                   (self.num_joints, ), device, name)  # (B, K)
        has_3d = gather_instances(batch_data_samples, 'has_joints_3d', (), device,
                                  name)  # (B,)
        weight = (visible > 0).float() * (has_3d > 0).float()[:, None]  # (B, K)
        error = (pred - self._root_relative(target)).abs().sum(dim=-1)  # (B, K)
        loss = (error * weight).sum() / (3 * weight.sum()).clamp(min=1.0)
        return dict(loss_joints_3d=self.loss_weight * loss)

    def predict(self,
                feats: Feats,
                batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> List[InstanceData]:
        """B InstanceData with ``keypoints_3d`` (1, K, 3), root-relative metres (numpy)."""
        with torch.no_grad():
            joints = self.forward(feats).cpu().numpy()
        return [InstanceData(keypoints_3d=j[None]) for j in joints]
