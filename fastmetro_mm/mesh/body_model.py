"""SMPL and MANO as fixed, parameter-free layers: pose and shape in, vertices and joints out.

The model arrays come from :func:`~.model_file.load_model_file` (so chumpy is never needed)
and are laid out by smplx's own ``SMPL`` / ``MANO`` constructors; skinning is smplx's ``lbs``.
The wrapped smplx module owns no ``nn.Parameter`` and every buffer is non-persistent, so a
body model inside a network adds nothing to its optimiser or to its checkpoints.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import NamedTuple, Optional, Union

import smplx
import torch
from smplx.lbs import lbs
from torch import Tensor, nn

from .gender import SMPL_GENDERS
from .model_file import MANO_KEYS, SMPL_KEYS, load_model_file, to_smplx_struct
from .model_names import resolve_model_file

PathLike = Union[str, Path]

#: Skeleton joints per model type; the pose is one rotation per joint.
NUM_MODEL_JOINTS = {'smpl': 24, 'mano': 16}


class BodyModelOutput(NamedTuple):
    """Posed mesh.

    Attributes:
        vertices: (B, V, 3) vertices in metres.
        joints: (B, J, 3) the model's own skeleton joints (J = 24 for SMPL, 16 for MANO).
    """

    vertices: Tensor
    joints: Tensor


class BodyModel(nn.Module):
    """SMPL (24 joints) or MANO (16 joints) body model built from a model file.

    Args:
        model_path: The model file (``.pkl``, chumpy allowed, or ``.npz``), or a folder
            holding ``SMPL_{GENDER}.pkl`` / ``MANO_{RIGHT,LEFT}.pkl`` or the files' official
            names (``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl``, ...); a path named like
            one of them stands for its folder (see :func:`.model_names.resolve_model_file`).
        model_type: ``'smpl'`` or ``'mano'``.
        gender: SMPL only: ``'neutral'``, ``'male'`` or ``'female'`` (picks the file when
            ``model_path`` is a folder or a model file name).
        is_rhand: MANO only: right (True) or left hand.
        flat_hand_mean: MANO only: if False (MANO's convention, used by METRO/FastMETRO),
            axis-angle hand poses are offsets from the file's ``hands_mean``; if True the
            zero pose is the flat hand.
        num_betas: Shape coefficients to use; default all of the file's.
        num_vertices: If given, the vertex count the file must have (6890 / 778).
        dtype: Floating dtype of the model buffers and outputs.
    """

    def __init__(self,
                 model_path: PathLike,
                 model_type: str = 'smpl',
                 gender: str = 'neutral',
                 is_rhand: bool = True,
                 flat_hand_mean: bool = False,
                 num_betas: Optional[int] = None,
                 num_vertices: Optional[int] = None,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if model_type not in NUM_MODEL_JOINTS:
            raise ValueError(f"BodyModel: model_type must be 'smpl' or 'mano', got "
                             f'{model_type!r}')
        if gender not in SMPL_GENDERS:
            raise ValueError(f'BodyModel: gender must be one of {SMPL_GENDERS}, got '
                             f'{gender!r}')
        self.model_type = model_type
        path = resolve_model_file(model_path, model_type, gender, is_rhand)
        keys = SMPL_KEYS if model_type == 'smpl' else MANO_KEYS
        num_joints = NUM_MODEL_JOINTS[model_type]
        model = load_model_file(path, keys, num_vertices=num_vertices, num_joints=num_joints)
        num_pose_basis = model['posedirs'].shape[-1]
        if num_pose_basis != 9 * (num_joints - 1):
            raise ValueError(f'{path}: posedirs has {num_pose_basis} pose blend shapes, '
                             f'expected 9 * ({num_joints} - 1) = {9 * (num_joints - 1)}')
        file_betas = model['shapedirs'].shape[-1]
        if num_betas is None:
            num_betas = file_betas
        elif not 0 < num_betas <= file_betas:
            raise ValueError(f'{path}: num_betas={num_betas} but the file has {file_betas} '
                             'shape coefficients')

        common = dict(
            data_struct=to_smplx_struct(model),
            create_betas=False,
            create_global_orient=False,
            create_body_pose=False,
            create_transl=False,
            num_betas=num_betas,
            dtype=dtype)
        # smplx prints a warning for every model with fewer than 300 shape coefficients
        # (all SMPL 1.0 and MANO files); it says nothing the caller needs.
        with contextlib.redirect_stdout(io.StringIO()):
            if model_type == 'smpl':
                layer = smplx.SMPL(str(path), gender=gender, **common)
            else:
                layer = smplx.MANO(str(path), is_rhand=is_rhand, use_pca=False,
                                   flat_hand_mean=flat_hand_mean, create_hand_pose=False,
                                   **common)
        self.layer = layer
        self.model_path = path
        self.gender = gender
        self.is_rhand = is_rhand
        self.flat_hand_mean = flat_hand_mean

        # Re-register every buffer as non-persistent: the arrays come from the model file and
        # must never land in (or be demanded from) a checkpoint.
        for module in self.modules():
            for name, buf in list(module._buffers.items()):
                if buf is not None:
                    module.register_buffer(name, buf, persistent=False)
        params = [name for name, _ in self.named_parameters()]
        if params:
            raise RuntimeError(f'BodyModel: smplx created parameters {params}; expected none')

    @classmethod
    def smpl(cls, model_path: PathLike, gender: str = 'neutral', **kwargs) -> 'BodyModel':
        """SMPL from a file or folder; see the class arguments."""
        return cls(model_path, model_type='smpl', gender=gender, **kwargs)

    @classmethod
    def mano(cls,
             model_path: PathLike,
             is_rhand: bool = True,
             flat_hand_mean: bool = False,
             **kwargs) -> 'BodyModel':
        """MANO from a file or folder; see the class arguments."""
        return cls(model_path, model_type='mano', is_rhand=is_rhand,
                   flat_hand_mean=flat_hand_mean, **kwargs)

    @property
    def faces(self) -> Tensor:
        """(F, 3) long triangle vertex indices (a buffer of the wrapped smplx layer)."""
        return self.layer.faces_tensor

    @property
    def j_regressor(self) -> Tensor:
        """(J, V) the model's joint regressor (dense)."""
        return self.layer.J_regressor

    @property
    def num_vertices(self) -> int:
        return self.layer.v_template.shape[0]

    @property
    def num_joints(self) -> int:
        return self.layer.J_regressor.shape[0]

    @property
    def num_betas(self) -> int:
        return self.layer.num_betas

    @property
    def dtype(self) -> torch.dtype:
        return self.layer.v_template.dtype

    def forward(self, pose: Tensor, betas: Optional[Tensor] = None) -> BodyModelOutput:
        """Pose and shape the model.

        Args:
            pose: Per-joint rotations, global orientation first: axis-angle (B, 3 * J) or
                (B, J, 3), or rotation matrices (B, J, 3, 3); J = 24 (SMPL, 72 values) or
                16 (MANO, 48 values). For MANO with ``flat_hand_mean=False``, an axis-angle
                pose is an offset from the mean hand (added in axis-angle, as MANO does),
                while rotation matrices are taken as the final joint rotations.
            betas: (B, b) shape coefficients, b <= ``num_betas``; missing trailing
                coefficients are zero. None means the mean shape.

        Returns:
            :class:`BodyModelOutput` with vertices (B, V, 3) and joints (B, J, 3) in the
            model's dtype and device.
        """
        num_joints = self.num_joints
        batch = pose.shape[0] if pose.dim() > 0 else 0
        layer = self.layer
        dtype, device = layer.v_template.dtype, layer.v_template.device
        with torch.autocast(device_type=device.type, enabled=False):
            pose = pose.to(device=device, dtype=dtype)
            if tuple(pose.shape[1:]) == (num_joints, 3, 3):
                full_pose, pose2rot = pose.contiguous(), False
            elif tuple(pose.shape[1:]) in ((num_joints * 3, ), (num_joints, 3)):
                full_pose, pose2rot = pose.reshape(batch, num_joints * 3), True
                if self.model_type == 'mano':
                    full_pose = full_pose + layer.pose_mean  # (48,) zeros when flat
            else:
                raise ValueError(
                    f'BodyModel({self.model_type}): pose must be (B, {num_joints * 3}), '
                    f'(B, {num_joints}, 3) or (B, {num_joints}, 3, 3), got '
                    f'{tuple(pose.shape)}')

            if betas is None:
                betas = full_pose.new_zeros(batch, self.num_betas)
            else:
                if (betas.dim() != 2 or betas.shape[0] != batch
                        or betas.shape[1] > self.num_betas):
                    raise ValueError(
                        f'BodyModel({self.model_type}): betas must have shape ({batch}, b) '
                        f'with b <= {self.num_betas}, got {tuple(betas.shape)}')
                betas = betas.to(device=device, dtype=dtype)
                if betas.shape[1] < self.num_betas:
                    betas = nn.functional.pad(betas, (0, self.num_betas - betas.shape[1]))

            vertices, joints = lbs(betas, full_pose, layer.v_template, layer.shapedirs,
                                   layer.posedirs, layer.J_regressor, layer.parents,
                                   layer.lbs_weights, pose2rot=pose2rot)
        return BodyModelOutput(vertices, joints)

    def extra_repr(self) -> str:
        side = f'is_rhand={self.is_rhand}, flat_hand_mean={self.flat_hand_mean}'
        what = f'gender={self.gender!r}' if self.model_type == 'smpl' else side
        return (f'model_type={self.model_type!r}, {what}, num_vertices={self.num_vertices}, '
                f'num_joints={self.num_joints}, num_betas={self.num_betas}, '
                f'file={str(self.model_path)!r}')
