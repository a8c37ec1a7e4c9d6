"""``METROHead``: a :class:`MeshHead` preset with the METRO network's arguments flat.

The METRO baseline is ``MeshHead(network=dict(type='METRONetwork', ...))``: the mesh
hierarchy, the body model of the GT meshes, the joint regressor, the loss (``MeshLoss``,
paper eq. 1-6), ``loss`` / ``predict`` and the outputs are FastMETRO's, so that METRO and
FastMETRO differ in the network only. This preset keeps configs that name ``METROHead``
working, with the same modules and state-dict keys.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Union

from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType

from fastmetro_mm.models.heads import MeshHead

from .metro_network import METRONetwork  # noqa: F401  (registers the network)


@MODELS.register_module()
class METROHead(MeshHead):
    """METRO-style encoder-only mesh head (Lin et al., CVPR 2021) in the pre-``network`` form.

    Args:
        hidden_dims, output_dims, num_layers, num_heads, ffn_dim, dropout, mask_ratio,
        template_global_orient, with_unused_bert_tables: :class:`METRONetwork` arguments.
        Others: as :class:`MeshHead`.
    """

    def __init__(self,
                 in_channels: int,
                 hierarchy_file: str,
                 body_model: Mapping[str, Any],
                 mesh_type: str = 'body',
                 joint_regressor_file: Optional[str] = None,
                 joint_regressor_select: Union[str, Sequence[int], None] = 'preset',
                 mesh_root_rows: Union[str, Sequence[int], None] = 'preset',
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
        network = dict(type='METRONetwork', hidden_dims=hidden_dims, output_dims=output_dims,
                       num_layers=num_layers, num_heads=num_heads, ffn_dim=ffn_dim,
                       dropout=dropout, mask_ratio=mask_ratio,
                       template_global_orient=template_global_orient,
                       with_unused_bert_tables=with_unused_bert_tables)
        super().__init__(in_channels, hierarchy_file, body_model, network=network,
                         mesh_type=mesh_type, joint_regressor_file=joint_regressor_file,
                         joint_regressor_select=joint_regressor_select,
                         mesh_root_rows=mesh_root_rows, loss=loss,
                         init_cfg=init_cfg)
