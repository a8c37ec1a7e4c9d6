"""Training loss of the optional SMPL parameter regressor, as the released code defines it.

The released body training adds, when the regressor is on, ``loss_weight`` (1000) times:

- rotations: mean squared error between the predicted and GT rotation matrices (GT from the
  axis-angle pose), samples with SMPL GT only;
- shape: 0.1 x mean squared error of the betas, same samples;
- 3D joints: L1 between the joints regressed from the regressed SMPL mesh and the GT
  joints, both root-centred, samples with 3D GT (per-joint visibility);
- 2D joints: L1 between those joints projected by the *detached* predicted camera and the GT
  2D joints, visibility-weighted, averaged over the whole batch;
- vertices: L1 between the regressed SMPL mesh and the GT mesh, samples with SMPL GT.

The regressor reads a detached mesh, so these terms train the regressor only. Meshes are
centred on the root of the joints regressed from them, as in :class:`MeshLoss` (the released
code centres meshes on the H36M pelvis row instead; the L1 differs only by that offset).
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn

from fastmetro_mm.mesh.camera import weak_perspective_project
from fastmetro_mm.mesh.joint_sets import root_point

from .mesh_loss import _float, _weighted_l1

_TERMS = ('rotmat', 'betas', 'joints_3d', 'joints_2d', 'vertices')


@MODELS.register_module()
class SMPLParameterLoss(nn.Module):
    """Loss of :class:`SMPLParameterRegressor`'s outputs, returned as named terms.

    Args:
        loss_weight: overall weight (released ``smpl_param_loss_weight``: 1000).
        term_weights: relative weight per term; released: rotmat 1, betas 0.1, joints_3d 1,
            joints_2d 1, vertices 1. Missing terms keep their released weight; a zero
            weight drops the term.
        root_indices: joints whose mean is the root ((2, 3): mid-hip of the 14 body joints).
    """

    def __init__(self,
                 loss_weight: float = 1000.0,
                 term_weights: Optional[Mapping[str, float]] = None,
                 root_indices: Sequence[int] = (2, 3)) -> None:
        super().__init__()
        weights = dict(rotmat=1.0, betas=0.1, joints_3d=1.0, joints_2d=1.0, vertices=1.0)
        unknown = set(term_weights or {}) - set(_TERMS)
        if unknown:
            raise ValueError(f'SMPLParameterLoss term_weights: unknown term(s) '
                             f'{sorted(unknown)}; terms are {_TERMS}')
        weights.update(term_weights or {})
        negative = {k: v for k, v in weights.items() if v < 0}
        if loss_weight < 0 or negative:
            raise ValueError(f'SMPLParameterLoss weights must be >= 0, got loss_weight='
                             f'{loss_weight}, term_weights {negative}')
        if len(root_indices) == 0:
            raise ValueError('SMPLParameterLoss root_indices must name at least one joint')
        self.loss_weight = float(loss_weight)
        self.term_weights = {k: float(v) for k, v in weights.items()}
        self.root_indices = tuple(int(i) for i in root_indices)

    def forward(self, pred: Mapping[str, Tensor],
                target: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        """Computes the weighted terms.

        Args:
            pred:
                - 'rotmats': (B, J, 3, 3) regressed rotations; 'betas': (B, b).
                - 'vertices': (B, V, 3) the SMPL mesh of those parameters.
                - 'joints': (B, K, 3) joints regressed from that mesh.
                - 'mesh_root' (optional): (B, 1, 3) that mesh's root (MeshHead: the H36M
                  pelvis, as released); the mesh and the joints projected to 2D are centred
                  on it, and on the GT's 'mesh_root'. Without it, on the joints' root.
                - 'pred_cam': (B, 3) the network's camera (detached here).
            target:
                - 'smpl_rotmats': (B, J, 3, 3), 'smpl_betas': (B, b' <= b) (missing
                  trailing coefficients are zero), 'has_smpl': (B,).
                - 'vertices_fine': (B, V, 3), 'joints_from_mesh': (B, K, 3) joints
                  regressed from it.
                - 'joints_3d': (B, K, 3), 'joints_3d_visible': (B, K), 'has_joints_3d': (B,).
                - 'keypoints_2d': (B, K, 2) crop coordinates [-1, 1],
                  'keypoints_2d_visible': (B, K).

        Returns:
            'loss_smpl_rotmat', 'loss_smpl_betas', 'loss_smpl_joints_3d',
            'loss_smpl_joints_2d', 'loss_smpl_vertices' (those with a non-zero weight).
        """
        rotmats = _float(self._get(pred, 'rotmats'))
        betas = _float(self._get(pred, 'betas'))
        vertices = _float(self._get(pred, 'vertices'))
        joints = _float(self._get(pred, 'joints'))
        cam = _float(self._get(pred, 'pred_cam')).detach()
        batch = rotmats.shape[0]
        gt_betas = self._target(target, 'smpl_betas', None)
        if gt_betas.dim() != 2 or gt_betas.shape[0] != batch or \
                gt_betas.shape[1] > betas.shape[1]:
            raise ValueError(f"SMPLParameterLoss: target['smpl_betas'] has shape "
                             f'{tuple(gt_betas.shape)}, expected ({batch}, <= {betas.shape[1]})')
        gt_betas = F.pad(gt_betas, (0, betas.shape[1] - gt_betas.shape[1]))
        gt_rotmats = self._target(target, 'smpl_rotmats', tuple(rotmats.shape))
        has_smpl = self._target(target, 'has_smpl', (batch, ))
        gt_vertices = self._target(target, 'vertices_fine', tuple(vertices.shape))
        gt_mesh_joints = self._target(target, 'joints_from_mesh', tuple(joints.shape))
        gt_joints = self._target(target, 'joints_3d', tuple(joints.shape))
        joints_visible = self._target(target, 'joints_3d_visible', tuple(joints.shape[:2]))
        has_joints_3d = self._target(target, 'has_joints_3d', (batch, ))
        keypoints_2d = self._target(target, 'keypoints_2d', tuple(joints.shape[:2]) + (2, ))
        keypoints_visible = self._target(target, 'keypoints_2d_visible',
                                         tuple(joints.shape[:2]))

        num_smpl = (has_smpl > 0).sum().to(rotmats.dtype)
        available = has_smpl > 0
        terms: Dict[str, Tensor] = {}
        # Mean squared errors over the available samples' entries (torch's MSELoss mean).
        terms['rotmat'] = self._weighted_mse(rotmats.flatten(1), gt_rotmats.flatten(1),
                                             available, num_smpl)
        terms['betas'] = self._weighted_mse(betas, gt_betas, available, num_smpl)

        centred = joints - root_point(joints, self.root_indices)
        has_3d = has_joints_3d > 0
        gt_joints = torch.where(has_3d[:, None, None], gt_joints, torch.zeros_like(gt_joints))
        terms['joints_3d'] = _weighted_l1(
            centred, gt_joints - root_point(gt_joints, self.root_indices),
            joints_visible * has_3d[:, None], has_3d.sum().to(rotmats.dtype))
        if 'mesh_root' in pred:
            mesh_root = _float(pred['mesh_root'])
            gt_mesh_root = self._target(target, 'mesh_root', tuple(mesh_root.shape))
        else:
            mesh_root = root_point(joints, self.root_indices)
            gt_mesh_joints = torch.where(available[:, None, None], gt_mesh_joints,
                                         torch.zeros_like(gt_mesh_joints))
            gt_mesh_root = root_point(gt_mesh_joints, self.root_indices)
        gt_mesh_root = torch.where(available[:, None, None], gt_mesh_root,
                                   torch.zeros_like(gt_mesh_root))
        terms['joints_2d'] = _weighted_l1(
            weak_perspective_project(joints - mesh_root, cam), keypoints_2d, keypoints_visible,
            rotmats.new_tensor(float(batch)))
        gt_vertices = torch.where(available[:, None, None], gt_vertices,
                                  torch.zeros_like(gt_vertices))
        terms['vertices'] = _weighted_l1(
            vertices - mesh_root, gt_vertices - gt_mesh_root,
            available[:, None].expand(-1, vertices.shape[1]).to(vertices.dtype), num_smpl)
        return {f'loss_smpl_{name}': self.loss_weight * self.term_weights[name] * value
                for name, value in terms.items() if self.term_weights[name]}

    @staticmethod
    def _weighted_mse(pred: Tensor, target: Tensor, available: Tensor,
                      num_samples: Tensor) -> Tensor:
        """Mean of (pred - target)^2 over the available samples of (B, D); 0 if none."""
        target = torch.where(available[:, None], target, torch.zeros_like(target))
        error = (pred - target)**2 * available[:, None].to(pred.dtype)
        return error.sum() / (num_samples * pred.shape[1]).clamp(min=1)

    @staticmethod
    def _get(inputs: Mapping[str, Tensor], key: str) -> Tensor:
        if key not in inputs:
            raise KeyError(f'SMPLParameterLoss: pred has no {key!r}; keys: {sorted(inputs)}')
        return inputs[key]

    @staticmethod
    def _target(target: Mapping[str, Tensor], key: str,
                shape: Optional[Tuple[int, ...]] = None) -> Tensor:
        if key not in target:
            raise KeyError(f'SMPLParameterLoss: target has no {key!r}; keys: '
                           f'{sorted(target)}')
        value = _float(target[key])
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(f'SMPLParameterLoss: target[{key!r}] has shape '
                             f'{tuple(value.shape)}, expected {tuple(shape)}')
        return value

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, term_weights={self.term_weights}, '
                f'root={self.root_indices}')
