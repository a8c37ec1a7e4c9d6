"""A METRO-style encoder-only mesh transformer (Lin et al., CVPR 2021) on FastMETRO's parts.

Tokens: the K template joints and N coarse template vertices (xyz of the body model at rest,
centred on the root), each concatenated with the same global image feature (the backbone map
averaged over space): (B, K + N, C + 3). Three encoder blocks reduce every token to xyz:
C + 3 -> 512 -> 128 -> 3 (hidden 1024 / 256 / 128). The first K outputs are the 3D joints,
the last N the coarse mesh, which the fixed up-sampler of FastMETRO brings to the full mesh.
The camera (s, tx, ty) comes from the coarse mesh as in METRO: Linear(3, 1) per vertex, then
Linear(N, 250) and Linear(250, 3) across vertices.

Training masks tokens as METRO's masked vertex modelling does: per sample a fraction
``u * mask_ratio`` (u uniform in [0, 1)) of the joint tokens and of the vertex tokens have
their whole input vector replaced by the constant 0.01.

Not copied from the released METRO: the global feature replaces its 49-to-445 token
convolution (the paper's design), and FastMETRO's fixed up-sampling replaces its two learned
Linear(431, 1723) / Linear(1723, 6890) layers, so that the comparison with FastMETRO differs
in the transformer only.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Sequence

import torch
from mmpose.registry import MODELS
from smplx.lbs import batch_rodrigues
from torch import nn

from fastmetro_mm.mesh.upsampler import MeshUpsampler

from .encoder_block import METROEncoderBlock

#: Value of masked input tokens (METRO's masked vertex modelling).
MASK_VALUE = 0.01


@MODELS.register_module()
class METRONetwork(nn.Module):
    """Template tokens + global image feature -> three METRO encoder blocks -> mesh.

    Built by ``MeshHead(network=dict(type='METRONetwork', ...))``, which passes the mesh
    facts ``rest_pose``, ``num_joints``, ``up_matrices`` and ``in_channels``.

    Args:
        rest_pose: (K + N, 3) zero-pose joints then coarse vertices, metres, root-centred.
        num_joints: K.
        up_matrices: fixed up-sampling matrices, coarse to fine, as for FastMETRONetwork
            (``[U[1], U[0]]`` for SMPL 431 -> 1723 -> 6890, ``[U[0]]`` for MANO).
        in_channels: channels C of the backbone map (2048 for ResNet-50 / HRNet-W64 + neck).
        hidden_dims: BERT width of each block (1024, 256, 128).
        output_dims: output width of each block (512, 128, 3); the last must be 3.
        num_layers: BERT layers per block (4).
        num_heads: attention heads (4).
        ffn_dim: feed-forward width (3072).
        dropout: dropout probability (0.1).
        mask_ratio: largest fraction of masked joint / vertex tokens in training (0.3);
            0 turns masking off.
        camera_hidden: width of the camera's middle layer (250).
        template_global_orient: axis-angle rotation of the rest pose giving the template
            tokens; METRO turns SMPL upright in camera coordinates (y down) by pi about x.
        with_unused_bert_tables: see :class:`METROEncoderBlock`.
    """

    def __init__(self,
                 rest_pose: torch.Tensor,
                 num_joints: int,
                 up_matrices: Sequence[Any],
                 in_channels: int = 2048,
                 hidden_dims: Sequence[int] = (1024, 256, 128),
                 output_dims: Sequence[int] = (512, 128, 3),
                 num_layers: int = 4,
                 num_heads: int = 4,
                 ffn_dim: int = 3072,
                 dropout: float = 0.1,
                 mask_ratio: float = 0.3,
                 camera_hidden: int = 250,
                 template_global_orient: Sequence[float] = (math.pi, 0.0, 0.0),
                 with_unused_bert_tables: bool = False) -> None:
        super().__init__()
        rest_pose = torch.as_tensor(rest_pose, dtype=torch.float32)
        if rest_pose.dim() != 2 or rest_pose.shape[1] != 3 or rest_pose.shape[0] <= num_joints:
            raise ValueError(f'METRONetwork: rest_pose must be (K + N, 3) with K = {num_joints} '
                             f'joints and N >= 1 vertices, got {tuple(rest_pose.shape)}')
        if len(template_global_orient) != 3:
            raise ValueError(f'METRONetwork: template_global_orient must be an axis-angle '
                             f'(3 values), got {template_global_orient}')
        # The body model turns the whole rest pose about its root, and the template is
        # root-centred, so turning the centred rest pose gives the same tokens.
        rotation = batch_rodrigues(torch.tensor([list(template_global_orient)],
                                                dtype=torch.float32))[0]  # (3, 3)
        template = rest_pose @ rotation.T  # (K + N, 3)
        if len(hidden_dims) != len(output_dims) or not hidden_dims:
            raise ValueError(f'METRONetwork: hidden_dims {tuple(hidden_dims)} and output_dims '
                             f'{tuple(output_dims)} must name the same number (>= 1) of blocks')
        if output_dims[-1] != 3:
            raise ValueError(f'METRONetwork: the last block must output xyz (3), got '
                             f'output_dims {tuple(output_dims)}')
        if not 0.0 <= mask_ratio <= 1.0:
            raise ValueError(f'METRONetwork: mask_ratio must be in [0, 1], got {mask_ratio}')
        num_vertices = template.shape[0] - num_joints
        if int(up_matrices[0].shape[1]) != num_vertices:
            raise ValueError(f'METRONetwork: {num_vertices} template vertices but the first '
                             f'up-sampling matrix takes {int(up_matrices[0].shape[1])}')
        self.num_joints = num_joints
        self.num_vertices = num_vertices
        self.in_channels = in_channels
        self.mask_ratio = float(mask_ratio)
        self.register_buffer('template', template, persistent=False)  # (K + N, 3)

        in_dims = [in_channels + 3] + list(output_dims[:-1])
        self.blocks = nn.ModuleList(
            METROEncoderBlock(i, h, o, num_layers, num_heads, ffn_dim, dropout,
                              max(512, num_joints + num_vertices), with_unused_bert_tables)
            for i, h, o in zip(in_dims, hidden_dims, output_dims))
        self.camera_per_vertex = nn.Linear(3, 1)
        self.camera_hidden = nn.Linear(num_vertices, camera_hidden)
        self.camera_out = nn.Linear(camera_hidden, 3)
        self.upsample_intermediate = (MeshUpsampler([up_matrices[0]])
                                      if len(up_matrices) == 2 else None)
        self.upsample_fine = MeshUpsampler([up_matrices[-1]])

    def transformer_parameters(self) -> int:
        """Parameters of the three encoder blocks (what the paper's Table 2 counts)."""
        return sum(p.numel() for p in self.blocks.parameters())

    def _mask(self, tokens: torch.Tensor) -> torch.Tensor:
        """Masked vertex modelling: (B, T, D) tokens with some rows set to MASK_VALUE."""
        batch = tokens.shape[0]
        keep = torch.ones(batch, tokens.shape[1], dtype=torch.bool, device=tokens.device)
        for start, count in ((0, self.num_joints), (self.num_joints, self.num_vertices)):
            fraction = torch.rand(batch, device=tokens.device) * self.mask_ratio
            num_masked = (fraction * count).long()  # (B,)
            # A random permutation per sample; its first num_masked entries are masked.
            order = torch.rand(batch, count, device=tokens.device).argsort(dim=1)
            masked = torch.arange(count, device=tokens.device)[None] < num_masked[:, None]
            keep[:, start:start + count].scatter_(1, order, ~masked)
        return torch.where(keep[..., None], tokens, torch.full_like(tokens, MASK_VALUE))

    def forward(self, features: torch.Tensor,
                return_attention: bool = False) -> Dict[str, torch.Tensor]:
        """Predicts camera, joints and meshes from a backbone feature map.

        Args:
            features: (B, C, h, w) backbone map.
            return_attention: not supported (raises); kept for MeshHead's interface.

        Returns:
            'pred_cam' (B, 3), 'pred_3d_joints' (B, K, 3), 'pred_3d_vertices_coarse'
            (B, N, 3), 'pred_3d_vertices_intermediate' (B, N_mid, 3) for two-step chains,
            'pred_3d_vertices_fine' (B, V, 3).
        """
        if return_attention:
            raise ValueError('METRONetwork: attention maps are not returned; set '
                             'test_cfg.output_attention=False')
        if features.dim() != 4 or features.shape[1] != self.in_channels:
            raise ValueError(f'METRONetwork expects a (B, {self.in_channels}, h, w) feature '
                             f'map, got {tuple(features.shape)}')
        batch = features.shape[0]
        image = features.mean(dim=(2, 3))  # (B, C) global feature
        template = self.template.to(image.dtype).expand(batch, -1, -1)  # (B, K + N, 3)
        tokens = torch.cat([template, image[:, None].expand(-1, template.shape[1], -1)],
                           dim=2)  # (B, K + N, 3 + C)
        if self.training and self.mask_ratio > 0:
            tokens = self._mask(tokens)
        for block in self.blocks:
            tokens = block(tokens)
        xyz = tokens  # (B, K + N, 3)
        coarse = xyz[:, self.num_joints:]  # (B, N, 3)
        camera = self.camera_per_vertex(coarse)[..., 0]  # (B, N)
        result = {
            'pred_cam': self.camera_out(self.camera_hidden(camera)),  # (B, 3)
            'pred_3d_joints': xyz[:, :self.num_joints],
            'pred_3d_vertices_coarse': coarse,
        }
        if self.upsample_intermediate is not None:
            intermediate = self.upsample_intermediate(coarse)  # (B, N_mid, 3)
            result['pred_3d_vertices_intermediate'] = intermediate
            result['pred_3d_vertices_fine'] = self.upsample_fine(intermediate)
        else:
            result['pred_3d_vertices_fine'] = self.upsample_fine(coarse)  # (B, V, 3)
        return result
