"""``METROHead``: the METRO-style network behind FastMETRO's head interface.

Everything around the network is FastMETROHead's, so that METRO and FastMETRO differ in the
transformer only: the mesh hierarchy and its fixed up-sampling, the body model that makes the
GT meshes, the joint regressor, the loss (``MeshLoss``, paper eq. 1-6), ``loss`` / ``predict``
and the outputs that ``TopdownMeshEstimator`` and ``MeshMetric`` read.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Union

import torch
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType

from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.models.heads.fastmetro_head import MESH_PRESETS, FastMETROHead

from .metro_network import METRONetwork


@MODELS.register_module()
class METROHead(FastMETROHead):
    """METRO-style encoder-only mesh head (Lin et al., CVPR 2021) on FastMETRO's parts.

    Args:
        in_channels: channels of the backbone/neck map (2048 for ResNet-50).
        hierarchy_file: as FastMETROHead.
        body_model: as FastMETROHead.
        mesh_type: 'body' or 'hand', as FastMETROHead.
        joint_regressor_file: as FastMETROHead.
        joint_regressor_select: as FastMETROHead.
        hidden_dims: BERT width of the three encoder blocks (METRO: 1024, 256, 128).
        output_dims: output width of the blocks (METRO: 512, 128, 3).
        num_layers: BERT layers per block (4).
        num_heads: attention heads (4).
        ffn_dim: feed-forward width (3072).
        dropout: dropout probability (0.1).
        mask_ratio: masked vertex modelling's largest masked fraction (0.3).
        template_global_orient: axis-angle rotation of the rest pose giving the template
            tokens; METRO turns SMPL upright in camera coordinates (y down) by pi about x.
        with_unused_bert_tables: add the released METRO's unused BERT tables (frozen) so
            that the parameter count matches the paper's 102.3M; compute is unchanged.
        loss: loss config (a ``MeshLoss`` by default, as FastMETROHead).
        init_cfg: MMEngine init config; None keeps BERT's initialisation.
    """

    def __init__(self,
                 in_channels: int,
                 hierarchy_file: str,
                 body_model: Mapping[str, Any],
                 mesh_type: str = 'body',
                 joint_regressor_file: Optional[str] = None,
                 joint_regressor_select: Union[str, Sequence[int], None] = 'preset',
                 hidden_dims: Sequence[int] = (1024, 256, 128),
                 output_dims: Sequence[int] = (512, 128, 3),
                 num_layers: int = 4,
                 num_heads: int = 4,
                 ffn_dim: int = 3072,
                 dropout: float = 0.1,
                 mask_ratio: float = 0.3,
                 template_global_orient: Sequence[float] = (math.pi, 0.0, 0.0),
                 with_unused_bert_tables: bool = False,
                 loss: ConfigType = dict(type='MeshLoss'),
                 init_cfg: OptConfigType = None) -> None:
        # FastMETROHead builds its own network; the smallest one (one layer, width 8) is built
        # and replaced below. The rest of its construction is what this head reuses.
        super().__init__(in_channels, hierarchy_file, body_model, mesh_type=mesh_type,
                         joint_regressor_file=joint_regressor_file,
                         joint_regressor_select=joint_regressor_select,
                         num_encoder_layers=1, num_decoder_layers=1, layout='paper',
                         network_cfg=dict(d_model_1=8, d_model_2=8, dim_feedforward_1=8,
                                          dim_feedforward_2=8, nhead=1),
                         loss=loss, init_cfg=init_cfg)
        if len(template_global_orient) != 3:
            raise ValueError(f'METROHead: template_global_orient must be an axis-angle '
                             f'(3 values), got {template_global_orient}')
        coarse = MESH_PRESETS[mesh_type].coarse_level
        hierarchy = MeshHierarchy.from_npz(hierarchy_file)
        self.network = METRONetwork(
            self._template(template_global_orient), len(self.joint_set),
            hierarchy.upsampling_chain(coarse, 0), in_channels=in_channels,
            hidden_dims=hidden_dims, output_dims=output_dims, num_layers=num_layers,
            num_heads=num_heads, ffn_dim=ffn_dim, dropout=dropout, mask_ratio=mask_ratio,
            with_unused_bert_tables=with_unused_bert_tables)

    @torch.no_grad()
    def _template(self, global_orient: Sequence[float]) -> torch.Tensor:
        """(K + N, 3) rest-pose joints and coarse vertices, centred on the root joints."""
        model = self.body_models[self.default_gender]
        pose = torch.zeros(1, 3 * model.num_joints)
        pose[0, :3] = torch.as_tensor(global_orient, dtype=torch.float32)
        vertices = model(pose, torch.zeros(1, model.num_betas)).vertices.float()  # (1, V, 3)
        joints = self.joint_regressor(vertices)  # (1, K, 3)
        root = joints[:, list(self.root_indices)].mean(dim=1, keepdim=True)
        coarse = vertices[:, self.coarse_index]  # (1, N, 3)
        return torch.cat([joints, coarse], dim=1)[0] - root[0]
