"""A mesh-regression head for MMPose's top-down estimators: any network, one mesh machinery.

``MeshHead`` owns what every network that regresses a body or hand mesh needs, all read from
files named in the config and never checkpointed: the mesh hierarchy (token mesh, its
adjacency, the up-sampling chain, the GT meshes of every level), the body models that turn GT
pose and shape into GT meshes, and the joint regressor of the loss and of the reported 3D
keypoints (H36M -> 14 joints for the body, MANO's 21 joints for the hand). It builds its
network from a config, handing it the mesh facts its constructor names (see
:mod:`.mesh_facts`)::

    head=dict(type='MeshHead', in_channels=2048, mesh_type='body', hierarchy_file=...,
              body_model=dict(model_path=...), joint_regressor_file=...,
              network=dict(type='FastMETRONetwork', model_size='S'),
              loss=dict(type='MeshLoss'))

A network maps (B, C, h, w) features to a dict with 'pred_cam' (B, 3), 'pred_3d_joints'
(B, K, 3), 'pred_3d_vertices_coarse' (B, N, 3), ['pred_3d_vertices_intermediate'] and
'pred_3d_vertices_fine' (B, V, 3). Optionally (body only) the head also owns the released
SMPL parameter regressor, which reads the detached intermediate mesh.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import InstanceData
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from fastmetro_mm.mesh.camera import weak_perspective_project
from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.mesh.joint_sets import MANO_FINGERTIP_VERTEX_IDS, JointSet
from fastmetro_mm.mesh.mesh_type import get_mesh_type
from fastmetro_mm.models.fastmetro_network import FastMETRONetwork  # noqa: F401 (registers)
from fastmetro_mm.models.losses import MeshLoss, SMPLParameterLoss  # noqa: F401 (register)
from fastmetro_mm.models.smpl_parameter_regressor import SMPLParameterRegressor  # noqa: F401

from .mesh_facts import build_with_facts
from .mesh_targets import (MeshTargets, build_body_models, build_joint_regressor,
                           build_mesh_root_regressor)
from .sample_fields import input_sizes

Feats = Union[Tensor, Sequence[Tensor]]


@MODELS.register_module()
class MeshHead(BaseHead):
    """Mesh-regression head: builds a network by config and owns the mesh machinery.

    Args:
        in_channels: channels of the last backbone/neck feature map (2048 for ResNet-50 and
            the HRNet-W64 classification neck).
        hierarchy_file: ``mesh_downsampling.npz`` (body) / ``mano_downsampling.npz`` (hand)
            format file; its level 0 must match the body model.
        body_model: keyword arguments of :class:`BodyModel` except ``model_type``:
            ``model_path`` (file or folder), and ``gender`` (SMPL) or ``is_rhand`` /
            ``flat_hand_mean`` (MANO), optionally ``num_betas``.
        network: config of the network (e.g. ``dict(type='FastMETRONetwork',
            model_size='S')``). It gets as default arguments the facts its constructor
            names: ``adjacency`` (N, N) of the token mesh, ``up_matrices`` (scipy, coarse to
            fine), ``num_joints`` K, ``num_vertices`` N, ``in_channels`` and ``rest_pose``
            (K + N, 3) (the body model's zero pose: joints, then token-mesh vertices, metres,
            centred on the root).
        mesh_type: 'body' (SMPL, 14 joints, tokens on level 2) or 'hand' (MANO, 21 joints,
            level 1).
        joint_regressor_file: (K_all, V) regressor ``.npy``/``.npz`` for the loss and the
            outputs; required for the body (``J_regressor_h36m_correct.npy``). For the hand,
            None means MANO's own regressor plus the fingertip vertices (21 joints).
        joint_regressor_select: rows of that file to keep; 'preset' means H36M -> J14 for
            the body and all rows for the hand; None keeps all rows.
        fingertip_vertex_ids: hand only, without a regressor file: the thumb, index,
            middle, ring and pinky tip vertices.
        mesh_root_rows: rows of the full joint regressor whose mean is the root that meshes,
            and the mesh-regressed joints projected to 2D, are centred on, in the loss and the
            outputs. 'preset', as the released code: the H36M 'Pelvis' row (body), the wrist
            (hand). None: the root of the K joints (J14 mid-hip), the convention of this
            project's checkpoints before it followed the release.
        use_sample_gender: body only: build each GT mesh with the model of the sample's
            ``gender`` (:class:`Gender` codes); needs a model folder holding all three files.
            Off by default: the released code uses the neutral model.
        gt_joints_3d: where the loss's GT 3D joints come from. 'annotation' (default): each
            sample's ``joints_3d`` with ``joints_3d_visible`` and ``has_joints_3d``.
            'body_model' (hand only), as the released FreiHAND training step: the MANO
            layer's 21 joints of the sample's GT pose and shape (posed skeleton plus
            fingertip vertices, see :func:`~fastmetro_mm.mesh.mano_layer_joints`), every
            confidence 1, available exactly where ``has_smpl`` is; the samples' 3D joints
            are then not read. The 2D terms are the same in both: like the released loss
            they weight each joint by its ``keypoints_visible`` and read no per-sample 2D
            flag (the release's ``has_2d_joints``, a copy of ``has_smpl``, is unused there).
        loss: loss config; it gets ``root_indices`` (the joint set's root),
            ``hierarchy_file`` and ``coarse_level`` when its constructor names them.
        smpl_regressor: body only: config of the released option that regresses SMPL
            rotations and betas from the detached intermediate (1723-vertex) mesh, e.g.
            ``dict()`` for :class:`SMPLParameterRegressor` with the released sizes; it gets
            ``num_vertices``, ``num_joints`` and ``num_betas`` from the hierarchy and the
            body model. None (default): no regressor.
        smpl_loss: loss of the regressor's outputs (with ``smpl_regressor`` only); it gets
            ``root_indices``.
        mesh_loss_scale: factor on every term of ``loss``. The released code trains the
            regressor on Human3.6M with 1e-8 (mostly the regressor learns) and fine-tunes
            on 3DPW with 1.
        init_cfg: MMEngine init config; None keeps the network's own initialisation.
    """

    def __init__(self,
                 in_channels: int,
                 hierarchy_file: str,
                 body_model: Mapping[str, Any],
                 network: ConfigType = dict(type='FastMETRONetwork'),
                 mesh_type: str = 'body',
                 joint_regressor_file: Optional[str] = None,
                 joint_regressor_select: Union[str, Sequence[int], None] = 'preset',
                 fingertip_vertex_ids: Sequence[int] = MANO_FINGERTIP_VERTEX_IDS,
                 mesh_root_rows: Union[str, Sequence[int], None] = 'preset',
                 use_sample_gender: bool = False,
                 gt_joints_3d: str = 'annotation',
                 loss: ConfigType = dict(type='MeshLoss'),
                 smpl_regressor: OptConfigType = None,
                 smpl_loss: ConfigType = dict(type='SMPLParameterLoss'),
                 mesh_loss_scale: float = 1.0,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg)
        owner = type(self).__name__
        kind = get_mesh_type(mesh_type, owner)
        self.mesh_type = mesh_type
        self.in_channels = in_channels
        self.joint_set: JointSet = kind.joint_set
        self.decoder = None  # BaseHead.decode is for keypoint codecs; meshes need none
        if mesh_loss_scale < 0:
            raise ValueError(f'{owner}: mesh_loss_scale must be >= 0, got {mesh_loss_scale}')
        self.mesh_loss_scale = float(mesh_loss_scale)
        # Set by fastmetro_mm.engine.MeshLossScaleHook, which then applies the scale to the
        # float32 parameter gradients: in fp16 gradients scaled by 1e-8 round to zero.
        self.mesh_loss_scale_in_gradients = False

        hierarchy = MeshHierarchy.from_npz(hierarchy_file)
        coarse = kind.coarse_level
        if hierarchy.num_levels <= coarse:
            raise ValueError(f'{hierarchy_file}: {hierarchy.num_levels} level(s) '
                             f'{hierarchy.vertex_counts}, but a {mesh_type} model puts its '
                             f'vertex tokens on level {coarse}')
        self.vertex_counts = hierarchy.vertex_counts[:coarse + 1]  # fine first
        body_models = build_body_models(body_model, kind, use_sample_gender,
                                        self.vertex_counts[0], hierarchy_file, owner)
        self.joint_regressor = build_joint_regressor(
            joint_regressor_file, joint_regressor_select, fingertip_vertex_ids, kind,
            next(iter(body_models.values())), owner)
        self.targets = MeshTargets(
            body_models, self.joint_regressor,
            build_mesh_root_regressor(joint_regressor_file, mesh_root_rows, kind,
                                      self.joint_regressor, owner),
            hierarchy, coarse, use_sample_gender, owner,
            gt_root_joint=kind.gt_root_joint if mesh_root_rows == 'preset' else None,
            gt_joints_3d=gt_joints_3d)

        self.network = build_with_facts(network, dict(
            adjacency=hierarchy.adjacency[coarse],
            up_matrices=hierarchy.upsampling_chain(coarse, 0),
            num_joints=len(self.joint_set),
            num_vertices=hierarchy.num_vertices(coarse),
            in_channels=in_channels,
            rest_pose=self._rest_pose()), f'{owner} network')
        self.loss_module = build_with_facts(loss, dict(
            root_indices=self.root_indices, hierarchy_file=hierarchy_file,
            coarse_level=coarse), f'{owner} loss')
        self._check_root(self.loss_module, 'loss')

        self.smpl_regressor: Optional[nn.Module] = None
        self.smpl_loss_module: Optional[nn.Module] = None
        if smpl_regressor is not None:
            self._build_smpl_regressor(smpl_regressor, smpl_loss)

    # ------------------------------------------------------------------------------------
    @property
    def root_indices(self) -> Tuple[int, ...]:
        """Joints whose mean is the root of every root-relative output."""
        return self.joint_set.root

    @property
    def body_models(self) -> nn.ModuleDict:
        """Gender name -> body model of the GT meshes (the first is the default)."""
        return self.targets.body_models

    @property
    def default_gender(self) -> str:
        return self.targets.default_gender

    @property
    def coarse_index(self) -> Tensor:
        """(N,) fine-mesh indices of the token mesh's vertices."""
        return self.targets.coarse_index

    @property
    def intermediate_index(self) -> Optional[Tensor]:
        """(N_mid,) fine-mesh indices of the intermediate mesh (body), else None."""
        return self.targets.intermediate_index

    @torch.no_grad()
    def _rest_pose(self) -> Tensor:
        """(K + N, 3) zero-pose, mean-shape joints and token-mesh vertices, root-centred."""
        model = self.targets.body_model
        vertices = model(torch.zeros(1, 3 * model.num_joints),
                         torch.zeros(1, model.num_betas)).vertices.float()  # (1, V, 3)
        joints = self.joint_regressor(vertices)  # (1, K, 3)
        tokens = torch.cat([joints, vertices[:, self.coarse_index]], dim=1)
        return self.joint_set.centre(tokens, joints)[0]

    def _check_root(self, module: nn.Module, name: str) -> None:
        root = getattr(module, 'root_indices', None)
        if root is not None and tuple(root) != tuple(self.root_indices):
            raise ValueError(f'{type(self).__name__}: {name} root_indices {tuple(root)} '
                             f'differ from the {self.mesh_type} root {self.root_indices} used '
                             'for the outputs')

    def _build_smpl_regressor(self, cfg: Mapping[str, Any], loss: Mapping[str, Any]) -> None:
        """Builds the SMPL parameter regressor on the intermediate mesh, and its loss."""
        owner = type(self).__name__
        if self.mesh_type != 'body' or len(self.vertex_counts) != 3:
            raise ValueError(f'{owner}: smpl_regressor needs a body head with an intermediate '
                             f'mesh level; this is a {self.mesh_type} head with levels '
                             f'{self.vertex_counts}')
        model = self.targets.body_model
        cfg = dict(cfg)
        cfg.setdefault('type', 'SMPLParameterRegressor')
        facts = dict(num_vertices=self.vertex_counts[1], num_joints=model.num_joints,
                     num_betas=min(10, model.num_betas))
        given = {name: cfg.get(name, value) for name, value in facts.items()}
        if (given['num_vertices'], given['num_joints']) != (facts['num_vertices'],
                                                             facts['num_joints']):
            raise ValueError(
                f"{owner}: smpl_regressor num_vertices={given['num_vertices']}, "
                f"num_joints={given['num_joints']}, but the intermediate mesh has "
                f"{facts['num_vertices']} vertices and the body model {model.num_joints} "
                'joints')
        if given['num_betas'] > model.num_betas:
            raise ValueError(f"{owner}: smpl_regressor num_betas={given['num_betas']} but "
                             f'the body model {model.model_path} has {model.num_betas}')
        self.smpl_regressor = build_with_facts(cfg, facts, f'{owner} smpl_regressor')
        self.smpl_loss_module = build_with_facts(
            loss, dict(root_indices=self.root_indices), f'{owner} smpl_loss')
        self._check_root(self.smpl_loss_module, 'smpl_loss')

    # ------------------------------------------------------------------------------------
    def forward(self, feats: Feats, return_attention: bool = False) -> Dict[str, Any]:
        """Runs the network on the last feature map.

        Args:
            feats: tuple of backbone/neck outputs; the last, (B, C, h, w), is used.
            return_attention: also return the attention maps (networks that have them).

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
        vertices = self.targets.body_model(rotmats, betas).vertices
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
            ``keypoints_3d`` (1, K, 3) metres, centred on the mesh's root (the regressed H36M
            pelvis of the body, the wrist of the hand, as released; see ``mesh_root_rows``);
            ``cam`` (1, 3) for those centred points; ``keypoints`` (1, K, 2)
            their projection in input-crop pixels; ``keypoint_scores`` (1, K) ones; with
            attention, ``decoder_self_attention`` (1, 2, L, K+N, K+N) and
            ``decoder_cross_attention`` (1, 2, L, K+N, hw) for transformers 1 and 2.
            With the SMPL regressor: ``smpl_pose`` (1, 24, 3, 3) rotation matrices,
            ``smpl_betas`` (1, 10) and ``smpl_vertices`` (1, V, 3), the body model's mesh of
            those parameters centred like ``vertices`` (on its own regressed root).
        """
        if test_cfg.get('flip_test', False):
            raise ValueError(f'{type(self).__name__} does not support flip_test (the released '
                             'model has no flip averaging); set test_cfg.flip_test=False')
        output_attention = bool(test_cfg.get('output_attention', False))
        out = self.forward(feats, return_attention=output_attention)
        return self.predict_from_outputs(out, batch_data_samples, test_cfg)

    def predict_from_outputs(self,
                             out: Mapping[str, Tensor],
                             batch_data_samples: OptSampleList,
                             test_cfg: ConfigType = {}) -> List[InstanceData]:
        """The post-processing of :meth:`predict` on outputs of :meth:`forward`.

        Split from ``predict`` so that a network run elsewhere (ONNX Runtime, see
        ``fastmetro_mm.deployment``) gets exactly the same results from its outputs.

        Args:
            out: :meth:`forward`'s dict (torch tensors); 'attention' is needed only with
                ``test_cfg.output_attention``.
            batch_data_samples: as in :meth:`predict`.
            test_cfg: as in :meth:`predict`.

        Returns:
            As :meth:`predict`.
        """
        owner = type(self).__name__
        output_attention = bool(test_cfg.get('output_attention', False))
        if output_attention and 'attention' not in out:
            raise ValueError(f'{owner}: test_cfg.output_attention is set but the outputs have '
                             f'no attention maps (keys {sorted(out)}); an exported network '
                             'returns none: use the PyTorch backend for attention')
        batch = out['pred_cam'].shape[0]
        if batch_data_samples is None or len(batch_data_samples) != batch:
            raise ValueError(f'{owner}.predict: {batch} feature maps but '
                             f'{0 if batch_data_samples is None else len(batch_data_samples)}'
                             ' data samples')
        vertices = out['pred_3d_vertices_fine'].float()
        root = self.targets.mesh_root(vertices)  # (B, 1, 3)
        joints = self.joint_regressor(vertices) - root  # (B, K, 3)
        vertices = vertices - root
        cam = out['pred_cam'].float()
        size = input_sizes(batch_data_samples, vertices.device, owner)  # (B, 2)
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
                smpl_vertices, _ = self.smpl_mesh(arrays['smpl_pose'], arrays['smpl_betas'])
                arrays['smpl_vertices'] = smpl_vertices - self.targets.mesh_root(smpl_vertices)
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
                With ``gt_joints_3d='body_model'`` the three 3D-joint fields are not read.
            train_cfg: unused.

        Returns:
            The loss module's dict of named, weighted terms (each times
            ``mesh_loss_scale``), and with the SMPL regressor the ``smpl_loss`` terms.
        """
        out = self.forward(feats)
        device = out['pred_cam'].device
        if batch_data_samples is None or len(batch_data_samples) != out['pred_cam'].shape[0]:
            raise ValueError(f'{type(self).__name__}.loss: need one data sample per feature '
                             'map')
        target = self.targets(batch_data_samples, device,
                              with_rotmats=self.smpl_regressor is not None)
        pred = dict(out)
        pred['pred_3d_joints_from_mesh'] = self.joint_regressor(out['pred_3d_vertices_fine'])
        pred['pred_3d_mesh_root'] = self.targets.mesh_root(out['pred_3d_vertices_fine'])
        losses = self.loss_module(pred, target)
        scale = self.mesh_loss_scale
        if scale != 1.0 and self.mesh_loss_scale_in_gradients:
            # The logged value is scaled, the gradient is not (the gradient hooks scale it).
            losses = {name: (scale * value).detach() + (value - value.detach())
                      for name, value in losses.items()}
        elif scale != 1.0:
            losses = {name: scale * value for name, value in losses.items()}
        if self.smpl_regressor is not None:
            vertices, joints = self.smpl_mesh(out['pred_smpl_rotmat'], out['pred_smpl_betas'])
            losses.update(self.smpl_loss_module(
                dict(rotmats=out['pred_smpl_rotmat'], betas=out['pred_smpl_betas'],
                     vertices=vertices, joints=joints,
                     mesh_root=self.targets.mesh_root(vertices), pred_cam=out['pred_cam']),
                target))
        return losses
