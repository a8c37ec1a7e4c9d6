"""What a mesh head compares its network against: GT fields of a batch and the GT meshes.

The body model (one per gender when samples carry theirs) turns GT pose and shape into the
GT fine mesh; the coarser GT meshes are its vertex subsets on the hierarchy's levels, and the
joint regressor gives the joints the mesh loss compares regressed joints with. Nothing here
is a learnt parameter or checkpointed.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from smplx.lbs import batch_rodrigues
from torch import Tensor, nn

from fastmetro_mm.mesh.body_model import BodyModel
from fastmetro_mm.mesh.gender import SMPL_GENDERS, Gender
from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.mesh.joint_regressor import JointRegressor
from fastmetro_mm.mesh.joint_sets import root_point
from fastmetro_mm.mesh.mano_layer_joints import mano_layer_joints
from fastmetro_mm.mesh.mesh_type import MeshType

from .sample_fields import (host_input_sizes, host_instance, stack_instances,
                            to_device_at_once)

#: Where GT 3D joints come from (``MeshHead(gt_joints_3d=...)``).
GT_JOINTS_3D_SOURCES = ('annotation', 'body_model')


def build_body_models(cfg: Mapping[str, Any], mesh_type: MeshType, use_sample_gender: bool,
                      num_vertices: int, source: str, owner: str) -> nn.ModuleDict:
    """The body models of a head: one (the configured gender) or all three SMPL genders.

    Args:
        cfg: :class:`BodyModel` keyword arguments without ``model_type``: ``model_path`` and
            ``gender`` (SMPL) or ``is_rhand`` / ``flat_hand_mean`` (MANO), ``num_betas``.
        mesh_type: the head's mesh type (its ``model_type`` is the body-model family).
        use_sample_gender: SMPL only: build neutral, male and female models.
        num_vertices: level 0 of the hierarchy, which every model must have.
        source: the hierarchy file, for messages.
        owner: the head, for messages.

    Returns:
        gender name -> BodyModel; the first entry is the default.
    """
    cfg = dict(cfg)
    family = mesh_type.model_type
    if 'model_path' not in cfg:
        raise KeyError(f'{owner} body_model needs model_path (the {family.upper()} file or '
                       f'folder); got keys {sorted(cfg)}')
    if cfg.pop('model_type', family) != family:
        raise ValueError(f"{owner}: a {mesh_type.name} head needs model_type='{family}' in "
                         'body_model')
    if use_sample_gender and family != 'smpl':
        raise ValueError(f'{owner}: use_sample_gender is for SMPL bodies only')
    gender = cfg.pop('gender', 'neutral')
    if family == 'mano':
        genders: Tuple[str, ...] = ('neutral', )
    else:
        genders = SMPL_GENDERS if use_sample_gender else (gender, )
    models = nn.ModuleDict({
        name: BodyModel(model_type=family, gender=name, **cfg) for name in genders})
    for model in models.values():
        if model.num_vertices != num_vertices:
            raise ValueError(f'{owner}: body model {model.model_path} has {model.num_vertices} '
                             f'vertices but level 0 of {source} has {num_vertices}')
    return models


def build_joint_regressor(path: Optional[str], select: Union[str, Sequence[int], None],
                          fingertip_vertex_ids: Sequence[int], mesh_type: MeshType,
                          body_model: BodyModel, owner: str) -> JointRegressor:
    """The regressor of the K joints of ``mesh_type`` from the fine mesh.

    Args:
        path: (K_all, V) ``.npy`` / ``.npz`` file, or None for MANO's own regressor plus the
            fingertip vertices (hand only).
        select: rows of the file: 'preset' (H36M -> J14 for the body, all rows for the hand),
            None (all rows) or a list.
        fingertip_vertex_ids: hand without a file: thumb, index, middle, ring, pinky tips.
        mesh_type: the head's mesh type.
        body_model: the default body model (read for MANO's regressor).
        owner: the head, for messages.
    """
    if isinstance(select, str):
        if select != 'preset':
            raise ValueError(f"{owner} joint_regressor_select must be 'preset', None or a "
                             f'list of rows, got {select!r}')
        select = mesh_type.regressor_select
    if path is not None:
        regressor = JointRegressor.from_file(path, select=select,
                                             num_vertices=body_model.num_vertices)
        source = path
    elif mesh_type.model_type == 'mano':
        regressor = JointRegressor.mano_21(body_model.j_regressor, fingertip_vertex_ids)
        source = f'{body_model.model_path} J_regressor + fingertips'
    else:
        raise ValueError(f'{owner}: a body head needs joint_regressor_file (e.g. '
                         'data/body_models/J_regressor_h36m_correct.npy) for its loss and 3D '
                         'keypoints')
    if regressor.num_joints != len(mesh_type.joint_set):
        raise ValueError(f'{owner}: joint regressor from {source} gives {regressor.num_joints} '
                         f'joints, the {mesh_type.name} model has {len(mesh_type.joint_set)} '
                         f'({mesh_type.joint_set.name})')
    return regressor


def build_mesh_root_regressor(path: Optional[str], rows: Union[str, Sequence[int], None],
                              mesh_type: MeshType, joint_regressor: JointRegressor,
                              owner: str) -> JointRegressor:
    """The regressor of the rows whose mean is each mesh's root.

    Args:
        path: the joint regressor file (None: the hand's 21 joints are the full regressor).
        rows: rows of the full regressor: 'preset' (:attr:`MeshType.mesh_root_rows`: the H36M
            'Pelvis' of the body, the wrist of the hand, as the released training step
            centres meshes), a list, or None for the root of the K output joints (the mid-hip
            for the body; the convention of this project before it followed the release).
        mesh_type: the head's mesh type.
        joint_regressor: the head's K-joint regressor.
        owner: the head, for messages.

    Returns:
        A (R, V) regressor; the mean of its R rows is the root.
    """
    if rows is None:
        return JointRegressor(joint_regressor.to_dense(), select=mesh_type.joint_set.root)
    if isinstance(rows, str):
        if rows != 'preset':
            raise ValueError(f"{owner} mesh_root_rows must be 'preset', None or a list of "
                             f'rows, got {rows!r}')
        rows = mesh_type.mesh_root_rows
    if not rows:
        raise ValueError(f'{owner} mesh_root_rows must name at least one row')
    if path is not None:
        return JointRegressor.from_file(path, select=rows,
                                        num_vertices=joint_regressor.num_vertices)
    return JointRegressor(joint_regressor.to_dense(), select=rows)


class MeshTargets(nn.Module):
    """Stacks a batch's ground truth and builds its GT meshes on every token level.

    Args:
        body_models: gender name -> body model (:func:`build_body_models`).
        joint_regressor: the head's K-joint regressor.
        mesh_root_regressor: the rows whose mean is each mesh's root
            (:func:`build_mesh_root_regressor`).
        hierarchy: the head's mesh hierarchy.
        coarse_level: level of the vertex tokens; every level from 0 to it gets a GT mesh.
        use_sample_gender: read ``gt_instances.gender`` (:class:`Gender` codes).
        owner: the head, for messages.
        gt_root_joint: body-model skeleton joint that GT meshes are centred on instead of the
            regressed root (:attr:`MeshType.gt_root_joint`: the hand's wrist), or None.
        gt_joints_3d: 'annotation' reads ``joints_3d``, ``joints_3d_visible`` and
            ``has_joints_3d`` from the samples. 'body_model' (MANO only), as the released
            hand training step: the GT 3D joints are the MANO layer's 21 joints of the GT
            pose and shape (:func:`mano_layer_joints`), every confidence is 1 and
            ``has_joints_3d`` is ``has_smpl``; the samples' 3D joints are not read.
    """

    def __init__(self, body_models: nn.ModuleDict, joint_regressor: JointRegressor,
                 mesh_root_regressor: JointRegressor, hierarchy: MeshHierarchy,
                 coarse_level: int, use_sample_gender: bool, owner: str,
                 gt_root_joint: Optional[int] = None,
                 gt_joints_3d: str = 'annotation') -> None:
        super().__init__()
        if gt_joints_3d not in GT_JOINTS_3D_SOURCES:
            raise ValueError(f'{owner} gt_joints_3d must be one of {GT_JOINTS_3D_SOURCES}, '
                             f'got {gt_joints_3d!r}')
        family = next(iter(body_models.values())).model_type
        if gt_joints_3d == 'body_model' and family != 'mano':
            raise ValueError(f"{owner}: gt_joints_3d='body_model' is the released hand step's "
                             f"GT (the MANO layer's 21 joints); this head's body model is "
                             f"{family.upper()}, use 'annotation'")
        self.gt_joints_3d = gt_joints_3d
        self.body_models = body_models
        self.default_gender = next(iter(body_models))
        self.joint_regressor = joint_regressor
        self.mesh_root_regressor = mesh_root_regressor
        self.gt_root_joint = gt_root_joint
        self.use_sample_gender = use_sample_gender
        self.owner = owner
        self.register_buffer('coarse_index',
                             torch.from_numpy(hierarchy.kept_vertices(coarse_level)),
                             persistent=False)
        self.register_buffer('intermediate_index',
                             torch.from_numpy(hierarchy.kept_vertices(1))
                             if coarse_level == 2 else None, persistent=False)

    @property
    def body_model(self) -> BodyModel:
        """The default (configured gender's) body model."""
        return self.body_models[self.default_gender]

    @torch.no_grad()
    def forward(self, samples: Sequence[Any], device: torch.device,
                with_rotmats: bool = False) -> Dict[str, Tensor]:
        """The targets of B samples (see ``MeshHead.loss`` for the fields read).

        Returns:
            'joints_3d' (B, K, 3), 'joints_3d_visible' (B, K), 'has_joints_3d' (B,),
            'keypoints_2d' (B, K, 2) in crop coordinates [-1, 1], 'keypoints_2d_visible'
            (B, K), 'has_smpl' (B,), 'vertices_fine' (B, V, 3) (zeros without SMPL GT),
            'vertices_coarse', ['vertices_intermediate'], 'joints_from_mesh' (B, K, 3),
            'mesh_root' (B, 1, 3) the root each GT mesh is centred on; with
            ``with_rotmats``, 'smpl_rotmats' (B, J, 3, 3) and 'smpl_betas' (B, b).
        """
        num_joints = self.joint_regressor.num_joints
        model = self.body_model
        batch = len(samples)

        def stack(key: str, shape: Tuple[int, ...]) -> np.ndarray:
            return stack_instances(samples, key, shape, self.owner)

        # Everything is read and decided on the host, then copied in one go: no per-sample
        # copy and no device -> host read (sync) in a training step.
        # Any number of shape coefficients up to the model's; all samples must agree.
        num_betas = host_instance(samples[0], 'smpl_betas', 0, self.owner).shape[-1]
        host = {
            'keypoints_2d_visible': stack('keypoints_visible', (num_joints, )),
            'has_smpl': stack('has_smpl', ()),
            'keypoints': stack('keypoints', (num_joints, 2)),
            'input_size': host_input_sizes(samples, self.owner),  # (B, 2) w, h
            'smpl_pose': stack('smpl_pose', (3 * model.num_joints, )),
            'smpl_betas': stack('smpl_betas', (num_betas, )),
        }
        if self.gt_joints_3d == 'annotation':
            host['joints_3d'] = stack('joints_3d', (num_joints, 3))
            host['joints_3d_visible'] = stack('joints_3d_visible', (num_joints, ))
            host['has_joints_3d'] = stack('has_joints_3d', ())
        has_smpl = host['has_smpl'] > 0
        genders = self._genders(stack('gender', ()) if self.use_sample_gender else None, batch)
        # Positions of the samples posed by each body model (float32 is exact below 2**24).
        for gender in sorted(set(g for g, has in zip(genders, has_smpl) if has)):
            host[f'chosen:{gender}'] = np.flatnonzero(
                [g == gender and has for g, has in zip(genders, has_smpl)]).astype(np.float32)
        on_device = to_device_at_once(host, device)
        target = {key: on_device[key] for key in (
            'keypoints_2d_visible', 'has_smpl', 'joints_3d', 'joints_3d_visible',
            'has_joints_3d') if key in on_device}
        if self.gt_joints_3d != 'annotation':
            # As released: 3D joints wherever there is a GT mesh, every joint confident.
            target['joints_3d'] = torch.zeros(batch, num_joints, 3, device=device,
                                              dtype=model.dtype)
            target['joints_3d_visible'] = torch.ones(batch, num_joints, device=device)
            target['has_joints_3d'] = target['has_smpl'].clone()
        target['keypoints_2d'] = (on_device['keypoints'] / on_device['input_size'][:, None]
                                  * 2.0 - 1.0)
        pose, betas = on_device['smpl_pose'], on_device['smpl_betas']

        # GT meshes, joints and rotations in float32 on purpose, also inside a mixed-precision
        # training step: they are targets, and half precision would move them by up to 1e-3.
        with torch.autocast(device_type=device.type, enabled=False):
            vertices = torch.zeros(batch, model.num_vertices, 3, device=device,
                                   dtype=model.dtype)
            skeleton_root = torch.zeros(batch, 1, 3, device=device, dtype=model.dtype)
            for key in [k for k in on_device if k.startswith('chosen:')]:
                gender = key.split(':', 1)[1]
                chosen = on_device[key].long()
                posed = self.body_models[gender](pose[chosen], betas[chosen])
                vertices[chosen] = posed.vertices
                if self.gt_root_joint is not None:
                    skeleton_root[chosen] = posed.joints[:, self.gt_root_joint:
                                                         self.gt_root_joint + 1]
                if self.gt_joints_3d == 'body_model':
                    model_joints = mano_layer_joints(posed.joints, posed.vertices,
                                                     self.body_models[gender].is_rhand)
                    # Wrist-centred as released; the loss re-centres on the root anyway.
                    target['joints_3d'][chosen] = (model_joints - model_joints[:, :1]).to(
                        target['joints_3d'].dtype)
            target['vertices_fine'] = vertices
            target['vertices_coarse'] = vertices[:, self.coarse_index]
            if self.intermediate_index is not None:
                target['vertices_intermediate'] = vertices[:, self.intermediate_index]
            target['joints_from_mesh'] = self.joint_regressor(vertices)
            # The released hand step centres GT meshes on the MANO skeleton's wrist,
            # predicted ones on the wrist regressed from the mesh; the body regresses both.
            target['mesh_root'] = (skeleton_root if self.gt_root_joint is not None
                                   else self.mesh_root(vertices))
            if with_rotmats:
                # Samples without SMPL GT may hold anything; their rotations are never read.
                safe_pose = torch.where(target['has_smpl'][:, None] > 0, pose,
                                        torch.zeros_like(pose))
                target['smpl_rotmats'] = batch_rodrigues(safe_pose.reshape(-1, 3)).reshape(
                    batch, -1, 3, 3)
                target['smpl_betas'] = betas
        return target

    def mesh_root(self, vertices: Tensor) -> Tensor:
        """(B, V, 3) fine meshes -> (B, 1, 3) the root each is centred on."""
        rows = self.mesh_root_regressor(vertices)  # (B, R, 3)
        return root_point(rows, range(rows.shape[1]))

    def _genders(self, codes: Optional[np.ndarray], batch: int) -> Sequence[str]:
        """Body-model name of each sample: its own gender (host codes), or the default."""
        if codes is None:
            return [self.default_gender] * batch
        codes = codes.astype(np.int64).tolist()
        unknown = sorted(set(codes) - {gender.value for gender in Gender})
        if unknown:
            raise ValueError(f'{self.owner}: gt_instances.gender codes {unknown}; expected '
                             f'{ {gender.value: gender.model_name for gender in Gender} }')
        return [Gender(code).model_name for code in codes]
