"""``FastMETROHead``: a :class:`MeshHead` preset with the FastMETRO network's arguments flat.

Configs written before the head took a ``network`` config name FastMETRO's size and layout
on the head itself; this preset keeps them working, with the same modules and state-dict
keys as ``MeshHead(network=dict(type='FastMETRONetwork', ...))``. New configs use
``MeshHead`` directly.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType

from fastmetro_mm.mesh.joint_sets import MANO_FINGERTIP_VERTEX_IDS

from .mesh_head import MeshHead


@MODELS.register_module()
class FastMETROHead(MeshHead):
    """FastMETRO mesh-regression head (Cho et al., ECCV 2022) in the pre-``network`` form.

    Args:
        model_size: 'S', 'M' or 'L'; None means 'L' unless explicit layer counts are given.
        num_encoder_layers: encoder depth of both transformers instead of ``model_size``.
        num_decoder_layers: decoder depth of both transformers instead of ``model_size``.
        layout: 'release' (official code and checkpoints) or 'paper'.
        network_cfg: further :class:`FastMETRONetwork` arguments (``dropout``, widths).
        Others: as :class:`MeshHead`.
    """

    def __init__(self,
                 in_channels: int,
                 hierarchy_file: str,
                 body_model: Mapping[str, Any],
                 mesh_type: str = 'body',
                 joint_regressor_file: Optional[str] = None,
                 joint_regressor_select: Union[str, Sequence[int], None] = 'preset',
                 fingertip_vertex_ids: Sequence[int] = MANO_FINGERTIP_VERTEX_IDS,
                 mesh_root_rows: Union[str, Sequence[int], None] = 'preset',
                 model_size: Optional[str] = None,
                 num_encoder_layers: Optional[int] = None,
                 num_decoder_layers: Optional[int] = None,
                 layout: str = 'release',
                 network_cfg: OptConfigType = None,
                 use_sample_gender: bool = False,
                 loss: ConfigType = dict(type='MeshLoss'),
                 smpl_regressor: OptConfigType = None,
                 smpl_loss: ConfigType = dict(type='SMPLParameterLoss'),
                 mesh_loss_scale: float = 1.0,
                 init_cfg: OptConfigType = None) -> None:
        network = dict(network_cfg or {})
        network.update(type='FastMETRONetwork', model_size=model_size,
                       num_encoder_layers=num_encoder_layers,
                       num_decoder_layers=num_decoder_layers, layout=layout)
        super().__init__(in_channels, hierarchy_file, body_model, network=network,
                         mesh_type=mesh_type, joint_regressor_file=joint_regressor_file,
                         joint_regressor_select=joint_regressor_select,
                         fingertip_vertex_ids=fingertip_vertex_ids,
                         mesh_root_rows=mesh_root_rows, use_sample_gender=use_sample_gender,
                         loss=loss, smpl_regressor=smpl_regressor, smpl_loss=smpl_loss,
                         mesh_loss_scale=mesh_loss_scale, init_cfg=init_cfg)
