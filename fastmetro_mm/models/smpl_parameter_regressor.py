"""SMPL pose and shape from a predicted mesh (the released FastMETRO's optional regressor).

The released code can regress SMPL parameters from the network's detached intermediate mesh
(1723 vertices for SMPL), with GraphCMR's fully connected regressor: the flattened mesh
goes through Linear + BatchNorm + ReLU to ``hidden_channels``, then residual blocks
(Linear, BatchNorm, ReLU, Linear, BatchNorm, added to the input, ReLU), then one Linear to
``num_joints * 9 + num_betas`` numbers: 3 x 3 matrices per joint (global orientation first)
and the shape coefficients. The matrices are projected onto rotations through their SVD.
With the released sizes (1723 vertices, 1024 hidden, 2 blocks, 24 joints, 10 betas) the
module has 9,734,370 parameters.

Module names differ from the released ones (``regressor.N.fc_block.M``);
``tools/model_converters/fastmetro_official_to_mmpose.py`` renames them.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator, Tuple

import torch
from mmengine.logging import print_log
from mmpose.registry import MODELS
from torch import Tensor, nn


def project_to_rotation(matrices: Tensor) -> Tensor:
    """Projects 3 x 3 matrices onto rotations as the released regressor does.

    With ``M = U S V^T``, ``R = U V^T`` is the closest orthogonal matrix; when its determinant
    is -1 the whole matrix is negated (the released code multiplies by the determinant),
    which gives a rotation, though not the closest one in that case.

    Args:
        matrices: (..., 3, 3), any floating dtype.

    Returns:
        (..., 3, 3) rotation matrices in float32 (float64 input stays float64), also under
        autocast: SVD has no half-precision kernels, and a rotation rounded back to half
        precision is off by up to 1e-3, which the rotation loss would then measure.
    """
    if matrices.shape[-2:] != (3, 3):
        raise ValueError(f'project_to_rotation: expected (..., 3, 3) matrices, got '
                         f'{tuple(matrices.shape)}')
    work_dtype = torch.promote_types(matrices.dtype, torch.float32)
    with torch.autocast(device_type=matrices.device.type, enabled=False):
        u, _, vh = torch.linalg.svd(matrices.to(work_dtype))
        rotation = u @ vh
        # The sign is locally constant, so it carries no gradient (the release detaches it).
        sign = torch.linalg.det(rotation).detach().sign()
        return rotation * sign[..., None, None]


class ResidualFCBlock(nn.Module):
    """``relu(x + BN(Linear(relu(BN(Linear(x))))))`` on (B, C) features."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, channels)
        self.norm1 = nn.BatchNorm1d(channels)
        self.fc2 = nn.Linear(channels, channels)
        self.norm2 = nn.BatchNorm1d(channels)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C) -> (B, C)."""
        residual = self.norm2(self.fc2(torch.relu(self.norm1(self.fc1(x)))))
        return torch.relu(x + residual)


@MODELS.register_module()
class SMPLParameterRegressor(nn.Module):
    """Regresses SMPL rotation matrices and shape coefficients from a mesh.

    Args:
        num_vertices: vertices of the input mesh (1723: SMPL's intermediate level).
        num_joints: rotations to regress (24 for SMPL, global orientation first).
        num_betas: shape coefficients to regress (10).
        hidden_channels: width of the hidden layers (1024).
        num_blocks: residual blocks (2).
    """

    def __init__(self,
                 num_vertices: int = 1723,
                 num_joints: int = 24,
                 num_betas: int = 10,
                 hidden_channels: int = 1024,
                 num_blocks: int = 2) -> None:
        super().__init__()
        for name, value in (('num_vertices', num_vertices), ('num_joints', num_joints),
                            ('num_betas', num_betas), ('hidden_channels', hidden_channels)):
            if value < 1:
                raise ValueError(f'SMPLParameterRegressor: {name} must be >= 1, got {value}')
        if num_blocks < 0:
            raise ValueError(f'SMPLParameterRegressor: num_blocks must be >= 0, got '
                             f'{num_blocks}')
        self.num_vertices = num_vertices
        self.num_joints = num_joints
        self.num_betas = num_betas
        self.input_layer = nn.Linear(num_vertices * 3, hidden_channels)
        self.input_norm = nn.BatchNorm1d(hidden_channels)
        self.res_blocks = nn.ModuleList(
            ResidualFCBlock(hidden_channels) for _ in range(num_blocks))
        self.output_layer = nn.Linear(hidden_channels, num_joints * 9 + num_betas)

    def forward(self, vertices: Tensor) -> Tuple[Tensor, Tensor]:
        """Regresses the parameters; the caller detaches the mesh if it must not be trained.

        Args:
            vertices: (B, num_vertices, 3) mesh, as the network predicts it (not centred).

        Returns:
            rotmats: (B, num_joints, 3, 3) rotation matrices, global orientation first.
            betas: (B, num_betas) shape coefficients.
        """
        matrices, betas = self.regress_matrices(vertices)
        return project_to_rotation(matrices), betas

    def regress_matrices(self, vertices: Tensor) -> Tuple[Tensor, Tensor]:
        """:meth:`forward` before the projection onto rotations (which needs an SVD, an
        operator ONNX lacks: an exported graph stops here, see ``fastmetro_mm.deployment``).

        Returns:
            matrices: (B, num_joints, 3, 3), not yet rotations.
            betas: (B, num_betas) shape coefficients.
        """
        if vertices.dim() != 3 or tuple(vertices.shape[1:]) != (self.num_vertices, 3):
            raise ValueError(f'SMPLParameterRegressor expects a (B, {self.num_vertices}, 3) '
                             f'mesh, got {tuple(vertices.shape)}')
        batch = vertices.shape[0]
        with self._running_statistics_for_one_sample(batch):
            x = torch.relu(self.input_norm(self.input_layer(vertices.reshape(batch, -1))))
            for block in self.res_blocks:
                x = block(x)  # (B, hidden)
        # The last layer in float32 on purpose (also under autocast): its outputs are the
        # rotation matrices and shape coefficients themselves.
        with torch.autocast(device_type=x.device.type, enabled=False):
            params = self.output_layer(x.to(self.output_layer.weight.dtype))
        split = self.num_joints * 9
        matrices = params[:, :split].reshape(batch, self.num_joints, 3, 3)
        return matrices, params[:, split:]

    @contextmanager
    def _running_statistics_for_one_sample(self, batch: int) -> Iterator[None]:
        """In training, normalises a batch of one sample with the running statistics.

        BatchNorm cannot take the statistics of a single sample (torch raises), and a
        training epoch can end in a batch of one on some rank (no ``drop_last``). Such a
        batch is normalised as in evaluation, without updating the running statistics; the
        layers' weights still train on it. A warning names the event.
        """
        norms = [m for m in self.modules() if isinstance(m, nn.BatchNorm1d)]
        if not (self.training and batch == 1 and norms):
            yield
            return
        print_log('SMPLParameterRegressor: a training batch of 1 sample is normalised with '
                  "the BatchNorm running statistics (set the train dataloader's "
                  'drop_last=True to leave such batches out)', logger='current',
                  level=logging.WARNING)
        for norm in norms:
            norm.train(False)
        try:
            yield
        finally:
            for norm in norms:
                norm.train(True)

    def extra_repr(self) -> str:
        return (f'num_vertices={self.num_vertices}, num_joints={self.num_joints}, '
                f'num_betas={self.num_betas}, num_blocks={len(self.res_blocks)}')
