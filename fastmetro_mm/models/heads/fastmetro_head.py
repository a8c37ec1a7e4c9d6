"""FastMETRO as an MMPose head: backbone features in, mesh, joints and camera out.

The head owns the network (``self.network``, a :class:`FastMETRONetwork`) and the fixed
pieces around it, all read from files named in the config and never checkpointed: the mesh
hierarchy (attention mask, up-sampling, GT mesh down-sampling), the body model that turns
GT pose and shape into GT meshes, and the joint regressor used for the loss and for the
reported 3D keypoints (H36M -> 14 joints for the body, MANO's 21 joints for the hand).
Optionally (body only) it also owns the released SMPL parameter regressor
(``self.smpl_regressor``), which reads the detached intermediate mesh.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import scipy.sparse as sp
import torch
from mmengine.structures import InstanceData
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from smplx.lbs import batch_rodrigues
from torch import Tensor, nn

from fastmetro_mm.mesh.body_model import SMPL_GENDERS, BodyModel
from fastmetro_mm.mesh.camera import weak_perspective_project
from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.mesh.joint_regressor import JointRegressor
from fastmetro_mm.mesh.joint_sets import (H36M_TO_J14, J14, MANO_21,
                                          MANO_FINGERTIP_VERTEX_IDS, JointSet)
from fastmetro_mm.models.fastmetro_network import FastMETRONetwork
from fastmetro_mm.models.heads.sample_fields import (gather_instances, input_sizes,
                                                     instance_field)
from fastmetro_mm.models.losses import SMPLParameterLoss  # noqa: F401
from fastmetro_mm.models.smpl_parameter_regressor import SMPLParameterRegressor  # noqa: F401

Feats = Union[Tensor, Sequence[Tensor]]


@dataclass(frozen=True)
class MeshPreset:
    """What differs between the body and the hand model.

    Attributes:
        model_type: body model, 'smpl' or 'mano'.
        joint_set: the K joints of the tokens, the loss and the outputs.
        coarse_level: hierarchy level of the vertex tokens (SMPL 2: 431, MANO 1: 195).
        regressor_select: rows of the joint regressor file giving ``joint_set``.
    """

    model_type: str
    joint_set: JointSet
    coarse_level: int
    regressor_select: Optional[Tuple[int, ...]]


MESH_PRESETS: Dict[str, MeshPreset] = {
    'body': MeshPreset('smpl', J14, 2, H36M_TO_J14),
    'hand': MeshPreset('mano', MANO_21, 1, None),
}

#: ``gt_instances.gender`` codes of the data contract.
GENDER_CODES = {0: 'neutral', 1: 'male', 2: 'female'}


def _selection_index(down: sp.spmatrix) -> np.ndarray:
    """(n_coarse, n_fine) 0/1 selection matrix -> (n_coarse,) kept fine-vertex indices."""
    csr = sp.csr_matrix(down)
    return csr.indices[csr.indptr[:-1]].astype(np.int64)


@MODELS.register_module()
class FastMETROHead(BaseHead):
    """FastMETRO mesh-regression head (Cho et al., ECCV 2022) for top-down estimators.

    Args:
        in_channels: channels of the last backbone/neck feature map (2048 for ResNet-50 and
            the HRNet-W64 classification neck).
        hierarchy_file: ``mesh_downsampling.npz`` (body) / ``mano_downsampling.npz`` (hand)
            format file; its level 0 must match the body model.
        body_model: keyword arguments of :class:`BodyModel` except ``model_type``:
            ``model_path`` (file or folder), and ``gender`` (SMPL) or ``is_rhand`` /
            ``flat_hand_mean`` (MANO), optionally ``num_betas``.
        mesh_type: 'body' (SMPL, 14 joints, coarse level 2) or 'hand' (MANO, 21 joints,
            coarse level 1).
        joint_regressor_file: (K_all, V) regressor ``.npy``/``.npz`` for the loss and the
            outputs; required for the body (``J_regressor_h36m_correct.npy``). For the hand,
            None means MANO's own regressor plus the fingertip vertices (21 joints).
        joint_regressor_select: rows of that file to keep; 'preset' means H36M -> J14 for
            the body and all rows for the hand; None keeps all rows.
        fingertip_vertex_ids: hand only, without a regressor file: the thumb, index,
            middle, ring and pinky tip vertices.
        model_size: 'S', 'M' or 'L'; None means 'L' unless explicit layer counts are given.
        num_encoder_layers: encoder depth of both transformers instead of ``model_size``.
        num_decoder_layers: decoder depth of both transformers instead of ``model_size``.
        layout: 'release' (official code and checkpoints) or 'paper'.
        network_cfg: further :class:`FastMETRONetwork` arguments (``dropout``, widths).
        use_sample_gender: body only: build each GT mesh with the model of the sample's
            ``gender`` (0 neutral, 1 male, 2 female); needs a model folder holding all
            three files. Off by default: the released code uses the neutral model.
        loss: loss config; a ``MeshLoss`` gets this mesh type's root joints.
        smpl_regressor: body only: config of the released option that regresses SMPL
            rotations and betas from the detached intermediate (1723-vertex) mesh, e.g.
            ``dict()`` for :class:`SMPLParameterRegressor` with the released sizes; its
            ``num_vertices`` and ``num_joints`` default to the hierarchy's and the body
            model's. None (default): no regressor.
        smpl_loss: loss of the regressor's outputs (with ``smpl_regressor`` only); a
            ``SMPLParameterLoss`` gets the body root joints.
        mesh_loss_scale: factor on every term of ``loss``. The released code trains the
            regressor on Human3.6M with 1e-8 (mostly the regressor learns) and fine-tunes
            on 3DPW with 1.
        init_cfg: MMEngine init config; None keeps the network's own (Xavier) init.
    """

    def __init__(self,
                 in_channels: int,
                 hierarchy_file: str,
                 body_model: Mapping[str, Any],
                 mesh_type: str = 'body',
                 joint_regressor_file: Optional[str] = None,
                 joint_regressor_select: Union[str, Sequence[int], None] = 'preset',
                 fingertip_vertex_ids: Sequence[int] = MANO_FINGERTIP_VERTEX_IDS,
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
        super().__init__(init_cfg)
        if mesh_type not in MESH_PRESETS:
            raise ValueError(f'FastMETROHead: mesh_type must be one of '
                             f'{sorted(MESH_PRESETS)}, got {mesh_type!r}')
        preset = MESH_PRESETS[mesh_type]
        self.mesh_type = mesh_type
        self.in_channels = in_channels
        self.joint_set = preset.joint_set
        self.root_indices = preset.joint_set.root
        self.decoder = None  # BaseHead.decode is for keypoint codecs; meshes need none

        hierarchy = MeshHierarchy.from_npz(hierarchy_file)
        coarse = preset.coarse_level
        if hierarchy.num_levels <= coarse:
            raise ValueError(f'{hierarchy_file}: {hierarchy.num_levels} level(s) '
                             f'{hierarchy.vertex_counts}, but a {mesh_type} model puts its '
                             f'vertex tokens on level {coarse}')
        self.vertex_counts = hierarchy.vertex_counts[:coarse + 1]  # fine first
        self._build_body_models(body_model, preset, use_sample_gender, hierarchy_file)
        self.joint_regressor = self._build_joint_regressor(
            joint_regressor_file, joint_regressor_select, fingertip_vertex_ids, preset)

        if model_size is None and num_encoder_layers is None and num_decoder_layers is None:
            model_size = 'L'
        self.network = FastMETRONetwork(
            hierarchy.adjacency[coarse], hierarchy.upsampling_chain(coarse, 0),
            num_joints=len(self.joint_set), num_vertices=hierarchy.num_vertices(coarse),
            in_channels=in_channels, model_size=model_size,
            num_encoder_layers=num_encoder_layers, num_decoder_layers=num_decoder_layers,
            layout=layout, **dict(network_cfg or {}))

        # GT meshes of the coarser levels are vertex subsets of the fine mesh.
        index = np.arange(self.vertex_counts[0])
        level_index = []
        for level in range(coarse):
            index = index[_selection_index(hierarchy.down[level])]
            level_index.append(index)
        self.register_buffer('coarse_index', torch.from_numpy(level_index[-1]),
                             persistent=False)
        self.register_buffer('intermediate_index',
                             torch.from_numpy(level_index[0]) if coarse == 2 else None,
                             persistent=False)

        loss = dict(loss)
        if loss.get('type') == 'MeshLoss':
            loss.setdefault('root_indices', self.root_indices)
        self.loss_module = MODELS.build(loss)
        loss_root = getattr(self.loss_module, 'root_indices', None)
        if loss_root is not None and tuple(loss_root) != tuple(self.root_indices):
            raise ValueError(
                f'FastMETROHead: loss root_indices {tuple(loss_root)} differ from the '
                f'{mesh_type} root {self.root_indices} used for the outputs')
        level = getattr(self.loss_module, 'regularized_level', None)
        if level is not None and getattr(self.loss_module, 'faces', None) is None:
            level_of = {'fine': 0, 'coarse': coarse}
            if coarse == 2:
                level_of['intermediate'] = 1
            if level not in level_of:
                raise ValueError(f'FastMETROHead: the loss regularises the {level!r} mesh, '
                                 f'which a {mesh_type} model does not have')
            self.loss_module.set_faces(hierarchy.faces[level_of[level]])
        if mesh_loss_scale < 0:
            raise ValueError(f'FastMETROHead: mesh_loss_scale must be >= 0, got '
                             f'{mesh_loss_scale}')
        self.mesh_loss_scale = float(mesh_loss_scale)
        self.smpl_regressor: Optional[nn.Module] = None
        self.smpl_loss_module: Optional[nn.Module] = None
        if smpl_regressor is not None:
            self._build_smpl_regressor(smpl_regressor, smpl_loss)

    def _build_smpl_regressor(self, cfg: Mapping[str, Any], loss: Mapping[str, Any]) -> None:
        """Builds the SMPL parameter regressor on the intermediate mesh, and its loss."""
        if self.mesh_type != 'body' or len(self.vertex_counts) != 3:
            raise ValueError('FastMETROHead: smpl_regressor needs a body head with an '
                             f'intermediate mesh level; this is a {self.mesh_type} head with '
                             f'levels {self.vertex_counts}')
        model = self.body_models[self.default_gender]
        cfg = dict(cfg)
        cfg.setdefault('type', 'SMPLParameterRegressor')
        cfg.setdefault('num_vertices', self.vertex_counts[1])
        cfg.setdefault('num_joints', model.num_joints)
        cfg.setdefault('num_betas', min(10, model.num_betas))
        if (cfg['num_vertices'], cfg['num_joints']) != (self.vertex_counts[1],
                                                         model.num_joints):
            raise ValueError(
                f"FastMETROHead: smpl_regressor num_vertices={cfg['num_vertices']}, "
                f"num_joints={cfg['num_joints']}, but the intermediate mesh has "
                f'{self.vertex_counts[1]} vertices and the body model {model.num_joints} joints')
        if cfg['num_betas'] > model.num_betas:
            raise ValueError(f"FastMETROHead: smpl_regressor num_betas={cfg['num_betas']} but "
                             f'the body model {model.model_path} has {model.num_betas}')
        self.smpl_regressor = MODELS.build(cfg)
        loss = dict(loss)
        if loss.get('type') == 'SMPLParameterLoss':
            loss.setdefault('root_indices', self.root_indices)
        self.smpl_loss_module = MODELS.build(loss)

    def _build_body_models(self, cfg: Mapping[str, Any], preset: MeshPreset,
                           use_sample_gender: bool, hierarchy_file: str) -> None:
        cfg = dict(cfg)
        if 'model_path' not in cfg:
            raise KeyError(f'FastMETROHead body_model needs model_path (the '
                           f'{preset.model_type.upper()} file or folder); got keys '
                           f'{sorted(cfg)}')
        if cfg.pop('model_type', preset.model_type) != preset.model_type:
            raise ValueError(f'FastMETROHead: a {self.mesh_type} head needs '
                             f"model_type='{preset.model_type}' in body_model")
        if use_sample_gender and preset.model_type != 'smpl':
            raise ValueError('FastMETROHead: use_sample_gender is for SMPL bodies only')
        self.use_sample_gender = use_sample_gender
        genders = SMPL_GENDERS if use_sample_gender else (cfg.pop('gender', 'neutral'), )
        cfg.pop('gender', None)
        if preset.model_type == 'mano':
            genders = ('neutral', )
        self.body_models = nn.ModuleDict({
            gender: BodyModel(model_type=preset.model_type, gender=gender, **cfg)
            for gender in genders
        })
        self.default_gender = genders[0]
        for gender, model in self.body_models.items():
            if model.num_vertices != self.vertex_counts[0]:
                raise ValueError(
                    f'FastMETROHead: body model {model.model_path} has {model.num_vertices} '
                    f'vertices but level 0 of {hierarchy_file} has {self.vertex_counts[0]}')

    def _build_joint_regressor(self, path: Optional[str],
                               select: Union[str, Sequence[int], None],
                               fingertip_vertex_ids: Sequence[int],
                               preset: MeshPreset) -> JointRegressor:
        if isinstance(select, str):
            if select != 'preset':
                raise ValueError("FastMETROHead joint_regressor_select must be 'preset', "
                                 f'None or a list of rows, got {select!r}')
            select = preset.regressor_select
        num_vertices = self.vertex_counts[0]
        if path is not None:
            regressor = JointRegressor.from_file(path, select=select,
                                                 num_vertices=num_vertices)
            source = path
        elif preset.model_type == 'mano':
            mano = self.body_models[self.default_gender]
            regressor = JointRegressor.mano_21(mano.j_regressor, fingertip_vertex_ids)
            source = f'{mano.model_path} J_regressor + fingertips'
        else:
            raise ValueError('FastMETROHead: a body head needs joint_regressor_file (e.g. '
                             'data/body_models/J_regressor_h36m_correct.npy) for its loss '
                             'and 3D keypoints')
        if regressor.num_joints != len(preset.joint_set):
            raise ValueError(f'FastMETROHead: joint regressor from {source} gives '
                             f'{regressor.num_joints} joints, the {self.mesh_type} model '
                             f'has {len(preset.joint_set)} ({preset.joint_set.name})')
        return regressor

    # ------------------------------------------------------------------------------------
    def forward(self, feats: Feats, return_attention: bool = False) -> Dict[str, Any]:
        """Runs the network on the last feature map.

        Args:
            feats: tuple of backbone/neck outputs; the last, (B, C, h, w), is used.
            return_attention: also return the attention maps (see FastMETRONetwork).

        Returns:
            The network's dict: 'pred_cam' (B, 3), 'pred_3d_joints' (B, K, 3),
            'pred_3d_vertices_coarse' (B, N, 3), ['pred_3d_vertices_intermediate'],
            'pred_3d_vertices_fine' (B, V, 3), ['attention']; with the SMPL regressor,
            'pred_smpl_rotmat' (B, 24, 3, 3) and 'pred_smpl_betas' (B, 10), regressed from
            the detached intermediate mesh.
        """
        features = feats[-1] if isinstance(feats, (tuple, list)) else feats
        out = self.network(features, return_attention=return_attention)
        if self.smpl_regressor is not None:
            # Detached, as released: the regressor's loss must not move the network.
            rotmats, betas = self.smpl_regressor(out['pred_3d_vertices_intermediate'].detach())
            out['pred_smpl_rotmat'], out['pred_smpl_betas'] = rotmats, betas
        return out

    def smpl_mesh(self, rotmats: Tensor, betas: Tensor) -> Tuple[Tensor, Tensor]:
        """The body model's mesh of regressed SMPL parameters and its regressed joints.

        Args:
            rotmats: (B, 24, 3, 3) rotations, global orientation first.
            betas: (B, b) shape coefficients.

        Returns:
            vertices (B, V, 3) and joints (B, K, 3), not centred.
        """
        vertices = self.body_models[self.default_gender](rotmats, betas).vertices
        return vertices, self.joint_regressor(vertices)

    def predict(self,
                feats: Feats,
                batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> List[InstanceData]:
        """Predicts root-relative meshes and joints, camera and 2D keypoints.

        Args:
            feats: backbone/neck outputs.
            batch_data_samples: B samples; ``metainfo['input_size']`` (w, h) is read.
            test_cfg: ``output_attention=True`` adds the decoder attention maps;
                ``output_smpl_mesh=False`` leaves out ``smpl_vertices``;
                ``flip_test`` is not supported.

        Returns:
            B InstanceData, numpy, leading instance axis 1: ``vertices`` (1, V, 3) and
            ``keypoints_3d`` (1, K, 3) metres, centred on the root of the joints regressed
            from the mesh; ``cam`` (1, 3) for those centred points; ``keypoints`` (1, K, 2)
            their projection in input-crop pixels; ``keypoint_scores`` (1, K) ones; with
            attention, ``decoder_self_attention`` (1, 2, L, K+N, K+N) and
            ``decoder_cross_attention`` (1, 2, L, K+N, hw) for transformers 1 and 2.
            With the SMPL regressor: ``smpl_pose`` (1, 24, 3, 3) rotation matrices,
            ``smpl_betas`` (1, 10) and ``smpl_vertices`` (1, V, 3), the body model's mesh of
            those parameters centred like ``vertices`` (on its own regressed root).
        """
        if test_cfg.get('flip_test', False):
            raise ValueError('FastMETROHead does not support flip_test (the released '
                             'model has no flip averaging); set test_cfg.flip_test=False')
        output_attention = bool(test_cfg.get('output_attention', False))
        out = self.forward(feats, return_attention=output_attention)
        batch = out['pred_cam'].shape[0]
        if batch_data_samples is None or len(batch_data_samples) != batch:
            raise ValueError(f'FastMETROHead.predict: {batch} feature maps but '
                             f'{0 if batch_data_samples is None else len(batch_data_samples)}'
                             ' data samples')
        vertices = out['pred_3d_vertices_fine'].float()
        joints = self.joint_regressor(vertices)  # (B, K, 3)
        root = joints[:, list(self.root_indices)].mean(dim=1, keepdim=True)
        vertices, joints = vertices - root, joints - root
        cam = out['pred_cam'].float()
        size = input_sizes(batch_data_samples, vertices.device)  # (B, 2)
        keypoints = (weak_perspective_project(joints, cam) + 1.0) * 0.5 * size[:, None]

        arrays = {
            'vertices': vertices,
            'keypoints_3d': joints,
            'cam': cam,
            'keypoints': keypoints,
            'keypoint_scores': torch.ones_like(keypoints[..., 0]),
        }
        if self.smpl_regressor is not None:
            arrays['smpl_pose'] = out['pred_smpl_rotmat'].float()
            arrays['smpl_betas'] = out['pred_smpl_betas'].float()
            if test_cfg.get('output_smpl_mesh', True):
                smpl_vertices, smpl_joints = self.smpl_mesh(arrays['smpl_pose'],
                                                            arrays['smpl_betas'])
                smpl_root = smpl_joints[:, list(self.root_indices)].mean(dim=1, keepdim=True)
                arrays['smpl_vertices'] = smpl_vertices - smpl_root
        if output_attention:
            for name, key in (('decoder_self_attention', 'decoder_self_attn'),
                              ('decoder_cross_attention', 'decoder_cross_attn')):
                per_transformer = [torch.stack(out['attention'][t][key], dim=1)
                                   for t in ('transformer_1', 'transformer_2')]
                arrays[name] = torch.stack(per_transformer, dim=1)  # (B, 2, L, ...)
        arrays = {k: v.detach().cpu().numpy() for k, v in arrays.items()}
        return [InstanceData(**{k: v[i:i + 1] for k, v in arrays.items()})
                for i in range(batch)]

    def loss(self,
             feats: Feats,
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> Dict[str, Tensor]:
        """Computes the loss terms of a batch.

        Args:
            feats: backbone/neck outputs.
            batch_data_samples: B samples whose ``gt_instances`` hold, with a leading
                instance axis of 1: ``keypoints`` (1, K, 2) input pixels,
                ``keypoints_visible`` (1, K), ``joints_3d`` (1, K, 3) metres,
                ``joints_3d_visible`` (1, K), ``smpl_pose`` (1, 72 | 48), ``smpl_betas``
                (1, b), ``has_smpl`` (1,), ``has_joints_3d`` (1,) and, with
                ``use_sample_gender``, ``gender`` (1,); ``metainfo['input_size']`` is (w, h).
            train_cfg: unused.

        Returns:
            The loss module's dict of named, weighted terms (each times
            ``mesh_loss_scale``), and with the SMPL regressor the ``smpl_loss`` terms.
        """
        out = self.forward(feats)
        device = out['pred_cam'].device
        if batch_data_samples is None or len(batch_data_samples) != out['pred_cam'].shape[0]:
            raise ValueError('FastMETROHead.loss: need one data sample per feature map')
        target = self._targets(batch_data_samples, device)
        pred = dict(out)
        pred['pred_3d_joints_from_mesh'] = self.joint_regressor(out['pred_3d_vertices_fine'])
        losses = self.loss_module(pred, target)
        if self.mesh_loss_scale != 1.0:
            losses = {name: self.mesh_loss_scale * value for name, value in losses.items()}
        if self.smpl_regressor is not None:
            vertices, joints = self.smpl_mesh(out['pred_smpl_rotmat'], out['pred_smpl_betas'])
            losses.update(self.smpl_loss_module(
                dict(rotmats=out['pred_smpl_rotmat'], betas=out['pred_smpl_betas'],
                     vertices=vertices, joints=joints, pred_cam=out['pred_cam']), target))
        return losses

    # ------------------------------------------------------------------------------------
    @torch.no_grad()
    def _targets(self, samples: Sequence[Any], device: torch.device) -> Dict[str, Tensor]:
        """Stacks the GT of B samples and builds their GT meshes (see :meth:`loss`)."""
        num_joints = len(self.joint_set)
        model = self.body_models[self.default_gender]
        pose_dim = 3 * model.num_joints

        def field(key: str, shape: Tuple[int, ...]) -> Tensor:
            return gather_instances(samples, key, shape, device)

        # Any number of shape coefficients up to the model's; all samples must agree.
        num_betas = instance_field(samples[0], 'smpl_betas', 0, device).shape[-1]
        target = {
            'joints_3d': field('joints_3d', (num_joints, 3)),
            'joints_3d_visible': field('joints_3d_visible', (num_joints, )),
            'has_joints_3d': field('has_joints_3d', ()),
            'keypoints_2d_visible': field('keypoints_visible', (num_joints, )),
            'has_smpl': field('has_smpl', ()),
        }
        size = input_sizes(samples, device)  # (B, 2) w, h
        keypoints = field('keypoints', (num_joints, 2))
        target['keypoints_2d'] = keypoints / size[:, None] * 2.0 - 1.0
        pose = field('smpl_pose', (pose_dim, ))
        betas = field('smpl_betas', (num_betas, ))
        if self.use_sample_gender:
            codes = field('gender', ()).long()
            unknown = sorted(set(codes.tolist()) - set(GENDER_CODES))
            if unknown:
                raise ValueError(f'FastMETROHead: gt_instances.gender codes {unknown}; '
                                 f'expected {GENDER_CODES}')
        else:
            codes = torch.zeros(len(samples), dtype=torch.long, device=device)

        vertices = torch.zeros(len(samples), self.vertex_counts[0], 3, device=device)
        has_smpl = target['has_smpl'] > 0
        for code in codes[has_smpl].unique().tolist():
            gender = GENDER_CODES[code] if self.use_sample_gender else self.default_gender
            chosen = torch.nonzero(has_smpl & (codes == code)).squeeze(1)
            vertices[chosen] = self.body_models[gender](pose[chosen], betas[chosen]).vertices
        target['vertices_fine'] = vertices
        target['vertices_coarse'] = vertices[:, self.coarse_index]
        if self.intermediate_index is not None:
            target['vertices_intermediate'] = vertices[:, self.intermediate_index]
        target['joints_from_mesh'] = self.joint_regressor(vertices)
        if self.smpl_regressor is not None:
            # Samples without SMPL GT may hold anything; their rotations are never read.
            safe_pose = torch.where(has_smpl[:, None], pose, torch.zeros_like(pose))
            target['smpl_rotmats'] = batch_rodrigues(safe_pose.reshape(-1, 3)).reshape(
                len(samples), -1, 3, 3)
            target['smpl_betas'] = betas
        return target
