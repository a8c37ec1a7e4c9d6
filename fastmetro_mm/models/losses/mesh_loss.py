"""FastMETRO's training loss (paper eq. 1-6, plus the released code's optional terms).

Terms, each an element-wise mean L1 as in the released code (whose loss weights assume it):

- vertices: fine mesh (paper); the released code also supervises the coarse and
  intermediate meshes (body split 0.25 / 0.5 / 0.25, hand 0.5 / 0.5 coarse / fine). Every
  mesh, predicted or ground truth, is centred on the root regressed from its own fine mesh:
  ``pred_3d_mesh_root`` / ``mesh_root`` when given (MeshHead gives the H36M 'Pelvis' row of the
  body and the wrist of the hand, as the released training step), else the root of the
  joints regressed from it.
- 3D joints: the joint tokens' joints and the joints regressed from the fine mesh, each
  root-centred (body: mid-hip of the 14 joints; hand: wrist) against the root-centred GT.
- 2D joints: the token joints centred on their root and the mesh-regressed joints centred
  on their mesh's root (as released), projected by the predicted weak-perspective camera and
  compared with the GT in crop coordinates [-1, 1].
- optional (released code only, off by default): edge-length (GT and self) and normal-vector
  losses on one mesh level.

Availability: 3D-joint terms count only samples with ``has_joints_3d`` (times per-joint
visibility), mesh terms only samples with ``has_smpl``; 2D terms weight each joint by its
visibility and, as in the released code, average over the whole batch. A term with no
available sample is an exact zero whose gradient is zero.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmpose.registry import MODELS
from torch import Tensor, nn

from fastmetro_mm.mesh.camera import weak_perspective_project
from fastmetro_mm.mesh.hierarchy import MeshHierarchy
from fastmetro_mm.mesh.joint_sets import root_point

from .mesh_surface import (edge_lengths, edge_normal_cosines, edges_from_faces,
                           read_faces_file)

MESH_LEVELS = ('coarse', 'intermediate', 'fine')
def _float(tensor: Tensor) -> Tensor:
    """At least float32 (half precision from autocast is promoted; float64 is kept)."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


def _weighted_l1(pred: Tensor, target: Tensor, weight: Tensor, num_samples: Tensor) -> Tensor:
    """Sum of ``weight * |pred - target|`` over (B, N, D), divided by num_samples * N * D.

    Args:
        pred: (B, N, D).
        target: (B, N, D); entries with weight 0 are never read (NaN there is harmless).
        weight: (B, N) non-negative.
        num_samples: () number of samples the mean is taken over; 0 gives an exact 0.
    """
    keep = (weight > 0)[..., None]
    target = torch.where(keep, target, torch.zeros_like(target))
    error = (pred - target).abs() * weight[..., None]
    count = num_samples * pred.shape[1] * pred.shape[2]
    return error.sum() / count.clamp(min=1)


@MODELS.register_module()
class MeshLoss(nn.Module):
    """FastMETRO's mesh, 3D-joint and 2D-joint losses, returned as named terms.

    Args:
        loss_weight_vertices: lambda_V (paper and release: 100).
        loss_weight_joints_3d: lambda_3D^J, applied to each of the two 3D joint terms
            (1000).
        loss_weight_joints_2d: lambda_2D^J, applied to each of the two 2D joint terms (100).
        vertex_level_weights: split of the vertex loss over the mesh levels; the paper uses
            the fine mesh only (default), the released body code
            ``dict(coarse=0.25, intermediate=0.5, fine=0.25)``, the released hand code
            ``dict(coarse=0.5, fine=0.5)``.
        root_indices: joints whose mean is the root: (2, 3) body (mid-hip of J14), (0,)
            hand (wrist).
        loss_weight_edge: weight of the L1 between predicted and GT edge lengths (released
            body: 100 * 5 = 500 on the intermediate mesh; hand: 100 * 1 on the fine mesh).
        loss_weight_edge_self: weight of the mean predicted edge length (released body:
            100 * 1e-4 = 0.01; hand: not used).
        loss_weight_normal: weight of the mean |cos| between predicted face edges and GT face
            normals (released: 100 * 0.1 = 10).
        regularized_level: mesh level of the edge and normal terms: 'intermediate' (released
            body) or 'fine' (released hand), or 'coarse'.
        edge_pairs: the edges of the edge-length terms: 'unique' (each edge once, the released
            body) or 'per_face' (the three edges of every face, the released hand: an edge
            shared by two faces counts twice, a border edge once).
        faces: (F, 3) triangles of ``regularized_level``; the first of ``faces``,
            ``faces_file`` and ``hierarchy_file`` given is used when edge/normal terms are on.
        faces_file: ``.npy`` (F, 3) triangles, or ``.npz`` with a ``faces`` array, of the
            regularised mesh (e.g. a released 1723-vertex faces file).
        hierarchy_file: mesh hierarchy whose faces of ``regularized_level`` are used; a
            ``MeshHead`` passes its own.
        coarse_level: hierarchy level of the 'coarse' (vertex-token) mesh: 2 for SMPL's 431,
            1 for MANO's 195; 'intermediate' is level 1 of a body hierarchy. A ``MeshHead``
            passes its own.
    """

    def __init__(self,
                 loss_weight_vertices: float = 100.0,
                 loss_weight_joints_3d: float = 1000.0,
                 loss_weight_joints_2d: float = 100.0,
                 vertex_level_weights: Optional[Mapping[str, float]] = None,
                 root_indices: Sequence[int] = (2, 3),
                 loss_weight_edge: float = 0.0,
                 loss_weight_edge_self: float = 0.0,
                 loss_weight_normal: float = 0.0,
                 regularized_level: str = 'intermediate',
                 edge_pairs: str = 'unique',
                 faces: Optional[Union[np.ndarray, Tensor]] = None,
                 faces_file: Optional[str] = None,
                 hierarchy_file: Optional[str] = None,
                 coarse_level: int = 2) -> None:
        super().__init__()
        if vertex_level_weights is None:
            vertex_level_weights = {'fine': 1.0}
        unknown = set(vertex_level_weights) - set(MESH_LEVELS)
        if unknown:
            raise ValueError(f'MeshLoss vertex_level_weights: unknown level(s) '
                             f'{sorted(unknown)}; levels are {MESH_LEVELS}')
        if edge_pairs not in ('unique', 'per_face'):
            raise ValueError(f"MeshLoss edge_pairs must be 'unique' or 'per_face', got "
                             f'{edge_pairs!r}')
        self.edge_pairs = edge_pairs
        if regularized_level not in MESH_LEVELS:
            raise ValueError(f'MeshLoss regularized_level must be one of {MESH_LEVELS}, got '
                             f'{regularized_level!r}')
        weights = dict(loss_weight_vertices=loss_weight_vertices,
                       loss_weight_joints_3d=loss_weight_joints_3d,
                       loss_weight_joints_2d=loss_weight_joints_2d,
                       loss_weight_edge=loss_weight_edge,
                       loss_weight_edge_self=loss_weight_edge_self,
                       loss_weight_normal=loss_weight_normal,
                       **{f'vertex_level_weights[{k!r}]': v
                          for k, v in vertex_level_weights.items()})
        negative = {name: value for name, value in weights.items() if value < 0}
        if negative:
            raise ValueError(f'MeshLoss weights must be >= 0, got {negative}')
        if len(root_indices) == 0:
            raise ValueError('MeshLoss root_indices must name at least one joint')
        self.loss_weight_vertices = float(loss_weight_vertices)
        self.loss_weight_joints_3d = float(loss_weight_joints_3d)
        self.loss_weight_joints_2d = float(loss_weight_joints_2d)
        self.vertex_level_weights = {k: float(v) for k, v in vertex_level_weights.items()}
        self.root_indices = tuple(int(i) for i in root_indices)
        self.loss_weight_edge = float(loss_weight_edge)
        self.loss_weight_edge_self = float(loss_weight_edge_self)
        self.loss_weight_normal = float(loss_weight_normal)
        self._regularized_level = regularized_level
        # Topology of the regularised mesh; fixed data, so never in a checkpoint.
        self.register_buffer('faces', None, persistent=False)
        self.register_buffer('edges', None, persistent=False)
        if self.regularized_level is not None:
            self._set_faces(self._read_faces(faces, faces_file, hierarchy_file, coarse_level))

    def _read_faces(self, faces: Optional[Union[np.ndarray, Tensor]],
                    faces_file: Optional[str], hierarchy_file: Optional[str],
                    coarse_level: int) -> Union[np.ndarray, Tensor]:
        """(F, 3) triangles of the regularised level from the first source given."""
        level = self._regularized_level
        if faces is not None:
            return faces
        if faces_file is not None:
            return read_faces_file(faces_file)
        if hierarchy_file is not None:
            index = {'fine': 0, 'intermediate': 1, 'coarse': coarse_level}[level]
            if level == 'intermediate' and coarse_level != 2:
                raise ValueError(f"MeshLoss: the edge/normal terms regularise the 'intermediate' "
                                 f'mesh, which a hierarchy with vertex tokens on level '
                                 f'{coarse_level} ({hierarchy_file}) does not have')
            return MeshHierarchy.from_npz(hierarchy_file).faces[index]
        raise ValueError(f'MeshLoss: edge/normal terms are on (level {level!r}) but no faces '
                         'were given; pass faces, faces_file or hierarchy_file (MeshHead '
                         'passes its hierarchy file)')

    @property
    def regularized_level(self) -> Optional[str]:
        """Mesh level of the edge/normal terms, or None when those terms are off."""
        if self.loss_weight_edge or self.loss_weight_edge_self or self.loss_weight_normal:
            return self._regularized_level
        return None

    def _set_faces(self, faces: Union[np.ndarray, Tensor]) -> None:
        """Sets the (F, 3) triangles of the regularised mesh level and its unique edges."""
        self.edges = edges_from_faces(faces, unique=self.edge_pairs == 'unique')
        self.faces = torch.as_tensor(np.asarray(faces), dtype=torch.long)
        # Kept on the host: checking it against each batch's mesh then costs no device read.
        self._max_face_index = int(self.faces.max()) if self.faces.numel() else -1

    def forward(self, pred: Mapping[str, Tensor],
                target: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        """Computes the weighted loss terms.

        Args:
            pred: network outputs, uncentred:
                - 'pred_cam': (B, 3) weak-perspective camera (s, tx, ty).
                - 'pred_3d_joints': (B, K, 3) joints from the joint tokens.
                - 'pred_3d_joints_from_mesh': (B, K, 3) joints regressed from the fine mesh.
                - 'pred_3d_mesh_root' (optional): (B, 1, 3) the root of the fine mesh; with
                  it, the GT's 'mesh_root' is needed too.
                - 'pred_3d_vertices_fine': (B, V, 3); 'pred_3d_vertices_intermediate' and
                  'pred_3d_vertices_coarse' when their level weight (or the edge/normal
                  level) needs them.
            target: ground truth:
                - 'joints_3d': (B, K, 3) metres, 'joints_3d_visible': (B, K),
                  'has_joints_3d': (B,).
                - 'keypoints_2d': (B, K, 2) in crop coordinates [-1, 1],
                  'keypoints_2d_visible': (B, K).
                - 'vertices_fine' (B, V, 3) and the same coarser levels as ``pred``,
                  'joints_from_mesh': (B, K, 3) joints regressed from the GT fine mesh,
                  'mesh_root' (B, 1, 3) with 'pred_3d_mesh_root', 'has_smpl': (B,).

        Returns:
            dict of scalar tensors: 'loss_vertices' (fine), 'loss_vertices_intermediate',
            'loss_vertices_coarse', 'loss_joints_3d', 'loss_joints_3d_reg',
            'loss_joints_2d', 'loss_joints_2d_reg', 'loss_edge', 'loss_edge_self',
            'loss_normal'; a term is present only when its weight is non-zero.
        """
        cam = _float(self._get(pred, 'pred_cam', 'pred'))
        token_joints = _float(self._get(pred, 'pred_3d_joints', 'pred'))
        mesh_joints = _float(self._get(pred, 'pred_3d_joints_from_mesh', 'pred'))
        batch, num_joints = token_joints.shape[:2]
        self._check_shape('pred', 'pred_cam', cam, (batch, 3))
        self._check_shape('pred', 'pred_3d_joints_from_mesh', mesh_joints,
                          (batch, num_joints, 3))
        bad_root = [i for i in self.root_indices if not 0 <= i < num_joints]
        if bad_root:
            raise ValueError(f'MeshLoss root_indices {self.root_indices}: {bad_root} outside '
                             f'the {num_joints} predicted joints')

        gt_joints = self._target(target, 'joints_3d', (batch, num_joints, 3))
        joints_visible = self._target(target, 'joints_3d_visible', (batch, num_joints))
        has_joints_3d = self._target(target, 'has_joints_3d', (batch, ))
        keypoints_2d = self._target(target, 'keypoints_2d', (batch, num_joints, 2))
        keypoints_visible = self._target(target, 'keypoints_2d_visible', (batch, num_joints))
        has_smpl = self._target(target, 'has_smpl', (batch, ))

        losses: Dict[str, Tensor] = {}

        # 3D joints (eq. 2): root-centred on both sides; samples without 3D GT give 0.
        weight_3d = joints_visible * has_joints_3d[:, None]
        num_3d = (has_joints_3d > 0).sum().to(cam.dtype)
        # Unavailable samples may hold anything; zero them before they enter the root.
        gt_joints = torch.where((has_joints_3d > 0)[:, None, None], gt_joints,
                                torch.zeros_like(gt_joints))
        gt_centred = gt_joints - root_point(gt_joints, self.root_indices)
        token_centred = token_joints - root_point(token_joints, self.root_indices)
        mesh_centred = mesh_joints - root_point(mesh_joints, self.root_indices)
        if self.loss_weight_joints_3d:
            losses['loss_joints_3d'] = self.loss_weight_joints_3d * _weighted_l1(
                token_centred, gt_centred, weight_3d, num_3d)
            losses['loss_joints_3d_reg'] = self.loss_weight_joints_3d * _weighted_l1(
                mesh_centred, gt_centred, weight_3d, num_3d)

        # 2D joints (eq. 3-5): the released code averages over the whole batch, and projects
        # the mesh-regressed joints centred on their mesh's root.
        pred_mesh_root = self._mesh_root(pred, target, mesh_joints, batch)
        if self.loss_weight_joints_2d:
            num_2d = cam.new_tensor(float(batch))
            for name, joints in (('loss_joints_2d', token_centred),
                                 ('loss_joints_2d_reg', mesh_joints - pred_mesh_root)):
                projected = weak_perspective_project(joints, cam)  # (B, K, 2)
                losses[name] = self.loss_weight_joints_2d * _weighted_l1(
                    projected, keypoints_2d, keypoints_visible, num_2d)

        # Vertices (eq. 1), then the optional edge/normal terms.
        num_mesh = (has_smpl > 0).sum().to(cam.dtype)
        meshes = self._centred_meshes(pred, target, pred_mesh_root, has_smpl)
        for level, name in (('fine', 'loss_vertices'),
                            ('intermediate', 'loss_vertices_intermediate'),
                            ('coarse', 'loss_vertices_coarse')):
            weight = self.loss_weight_vertices * self.vertex_level_weights.get(level, 0.0)
            if weight:
                vertices, gt_vertices = meshes[level]
                per_vertex = has_smpl[:, None].expand(-1, vertices.shape[1])
                losses[name] = weight * _weighted_l1(vertices, gt_vertices, per_vertex,
                                                     num_mesh)
        if self.regularized_level is not None:
            vertices, gt_vertices = meshes[self.regularized_level]
            losses.update(self._regularization(vertices, gt_vertices, has_smpl, num_mesh))
        return losses

    def _mesh_root(self, pred: Mapping[str, Tensor], target: Mapping[str, Tensor],
                   mesh_joints: Tensor, batch: int) -> Tensor:
        """(B, 1, 3) root of the predicted fine mesh: 'pred_3d_mesh_root', else the root of
        its regressed joints."""
        if 'pred_3d_mesh_root' not in pred:
            return root_point(mesh_joints, self.root_indices)
        if 'mesh_root' not in target:
            raise KeyError("MeshLoss: pred has 'pred_3d_mesh_root' but the target has no "
                           f"'mesh_root'; target keys: {sorted(target)}")
        root = _float(pred['pred_3d_mesh_root'])
        self._check_shape('pred', 'pred_3d_mesh_root', root, (batch, 1, 3))
        return root

    def _centred_meshes(self, pred: Mapping[str, Tensor], target: Mapping[str, Tensor],
                        pred_root: Tensor,
                        has_smpl: Tensor) -> Dict[str, Tuple[Tensor, Tensor]]:
        """Predicted and GT meshes of the levels some term needs, each centred on the root
        regressed from its own fine mesh.

        Args:
            pred: see :meth:`forward`.
            target: see :meth:`forward`.
            pred_root: (B, 1, 3) root of the predicted fine mesh (:meth:`_mesh_root`).
            has_smpl: (B,) mesh availability; GT of other samples is replaced by zeros.

        Returns:
            level -> ((B, V_l, 3) prediction, (B, V_l, 3) GT).
        """
        # A list in MESH_LEVELS order, not a set: the levels share pred_root, whose gradient
        # sums one term per level in the order the graph was built. A set's order follows
        # the strings' hashes, which change with every process (PYTHONHASHSEED), so the
        # same seed gave other float32 gradients, and other weights, from run to run.
        needed = [level for level in MESH_LEVELS
                  if (self.loss_weight_vertices and self.vertex_level_weights.get(level))
                  or level == self.regularized_level]
        if not needed:
            return {}
        available = (has_smpl > 0)[:, None, None]
        if 'pred_3d_mesh_root' in pred:
            gt_root = self._target(target, 'mesh_root', tuple(pred_root.shape))
        else:
            gt_joints = self._target(target, 'joints_from_mesh',
                                     tuple(pred['pred_3d_joints_from_mesh'].shape))
            gt_root = root_point(gt_joints, self.root_indices)
        gt_root = torch.where(available, gt_root, torch.zeros_like(gt_root))
        meshes = {}
        for level in needed:
            vertices = _float(self._get(pred, f'pred_3d_vertices_{level}', 'pred'))
            gt_vertices = self._target(target, f'vertices_{level}', tuple(vertices.shape))
            gt_vertices = torch.where(available, gt_vertices, torch.zeros_like(gt_vertices))
            meshes[level] = (vertices - pred_root, gt_vertices - gt_root)
        return meshes

    def _regularization(self, vertices: Tensor, gt_vertices: Tensor, sample_weight: Tensor,
                        num_samples: Tensor) -> Dict[str, Tensor]:
        """Edge-length and normal terms of the released code on (B, V_l, 3) meshes."""
        max_index = self._max_face_index
        if max_index >= vertices.shape[1]:
            raise ValueError(f'MeshLoss faces index vertex {max_index} but the '
                             f'{self._regularized_level} mesh has {vertices.shape[1]} vertices')
        losses: Dict[str, Tensor] = {}
        edges = self.edges.to(vertices.device)
        faces = self.faces.to(vertices.device)
        if self.loss_weight_edge or self.loss_weight_edge_self:
            length = edge_lengths(vertices, edges)  # (B, E, 1)
            per_edge = sample_weight[:, None].expand(-1, edges.shape[0])
            if self.loss_weight_edge:
                gt_length = edge_lengths(gt_vertices, edges)
                losses['loss_edge'] = self.loss_weight_edge * _weighted_l1(
                    length, gt_length, per_edge, num_samples)
            if self.loss_weight_edge_self:
                losses['loss_edge_self'] = self.loss_weight_edge_self * _weighted_l1(
                    length, torch.zeros_like(length), per_edge, num_samples)
        if self.loss_weight_normal:
            cosines = edge_normal_cosines(vertices, gt_vertices, faces)  # (B, F, 3)
            per_face = sample_weight[:, None].expand(-1, faces.shape[0])
            losses['loss_normal'] = self.loss_weight_normal * _weighted_l1(
                cosines, torch.zeros_like(cosines), per_face, num_samples)
        return losses

    @staticmethod
    def _get(inputs: Mapping[str, Tensor], key: str, what: str) -> Tensor:
        if key not in inputs:
            raise KeyError(f'MeshLoss: {what} has no {key!r}; keys: {sorted(inputs)}')
        return inputs[key]

    def _target(self, target: Mapping[str, Tensor], key: str,
                shape: Tuple[int, ...]) -> Tensor:
        value = _float(self._get(target, key, 'target'))
        self._check_shape('target', key, value, shape)
        return value

    @staticmethod
    def _check_shape(what: str, key: str, value: Tensor, shape: Tuple[int, ...]) -> None:
        if tuple(value.shape) != tuple(shape):
            raise ValueError(f'MeshLoss: {what}[{key!r}] has shape {tuple(value.shape)}, '
                             f'expected {tuple(shape)}')

    def extra_repr(self) -> str:
        return (f'vertices={self.loss_weight_vertices}, levels={self.vertex_level_weights}, '
                f'joints_3d={self.loss_weight_joints_3d}, '
                f'joints_2d={self.loss_weight_joints_2d}, root={self.root_indices}, '
                f'edge={self.loss_weight_edge}, edge_self={self.loss_weight_edge_self}, '
                f'normal={self.loss_weight_normal}, '
                f'regularized_level={self.regularized_level!r}')
