"""The FastMETRO network: everything between the CNN backbone's feature map and the mesh.

Feature map -> 1x1 conv (C -> 512) -> transformer 1 (512, FFN 2048) -> reductions 512 -> 128
-> transformer 2 (128, FFN 512) -> camera (s, tx, ty) and xyz of K joint and N coarse-vertex
tokens -> upsampling to the full mesh (paper Sec. 3, Table 1).

Two layouts:

- ``'paper'``: one encoder reduction shared by the camera and image tokens, and the fixed
  up-sampling chain (body 431 -> 1723 -> 6890, hand 195 -> 778). Parameter counts match the
  paper's Table 1 exactly (body S/M/L 9,231,366 / 17,050,630 / 24,869,894).
- ``'release'``: the released code and checkpoints: separate camera and image reductions, and
  for a two-step chain (body) a learnable ``Linear(N, N_mid)`` instead of the first fixed
  step; the last step stays fixed (body S/M/L 10,041,366 / 17,860,630 / 25,679,894, hand
  9,179,782 / 16,999,046 / 24,818,310).
"""
from __future__ import annotations

import contextlib
from typing import Any, ContextManager, Dict, Optional, Sequence, Tuple

import torch
from mmpose.registry import MODELS
from torch import nn

from fastmetro_mm.mesh.attention_mask import (AdjacencyLike, attention_mask_to_additive,
                                              build_attention_mask)
from fastmetro_mm.mesh.upsampler import MeshUpsampler
from fastmetro_mm.models.autocast_weights import AutocastWeights
from fastmetro_mm.models.dropout_draws import DropoutDraws
from fastmetro_mm.models.graph_capture import capturing_graph
from fastmetro_mm.models.positional_encoding import SinePositionalEncoding
from fastmetro_mm.models.transformer import FastMETROTransformer

#: Encoder and decoder depth (per transformer) of the paper's model sizes.
MODEL_SIZES: Dict[str, int] = {'S': 1, 'M': 2, 'L': 3}

LAYOUTS = ('paper', 'release')


class VertexLinear(nn.Linear):
    """A learnable linear map along the vertex axis: (B, N_in, C) -> (B, N_out, C).

    The released FastMETRO body model replaces the fixed 431 -> 1723 up-sampling by this
    layer (``weight`` (N_out, N_in), ``bias`` (N_out,), default ``nn.Linear`` init).
    """

    def forward(self, vertices: torch.Tensor) -> torch.Tensor:
        if vertices.dim() != 3 or vertices.shape[1] != self.in_features:
            raise ValueError(
                f'VertexLinear expects (B, {self.in_features}, C) input, '
                f'got {tuple(vertices.shape)}')
        return super().forward(vertices.transpose(1, 2)).transpose(1, 2)


def _resolve_depth(model_size: Optional[str], num_encoder_layers: Optional[int],
                   num_decoder_layers: Optional[int]) -> Tuple[int, int]:
    """Returns (encoder depth, decoder depth) from a model size or explicit counts."""
    explicit = (num_encoder_layers, num_decoder_layers)
    if model_size is None and all(count is None for count in explicit):
        model_size = 'L'
    if model_size is not None:
        if any(count is not None for count in explicit):
            raise ValueError(
                'FastMETRONetwork: give either model_size or num_encoder_layers/'
                f'num_decoder_layers, not both (got model_size={model_size!r}, '
                f'num_encoder_layers={num_encoder_layers}, '
                f'num_decoder_layers={num_decoder_layers})')
        if model_size not in MODEL_SIZES:
            raise ValueError(
                f'FastMETRONetwork: model_size must be one of {sorted(MODEL_SIZES)}, '
                f'got {model_size!r}')
        depth = MODEL_SIZES[model_size]
        return depth, depth
    if any(count is None for count in explicit):
        raise ValueError(
            'FastMETRONetwork: without model_size, both num_encoder_layers and '
            f'num_decoder_layers are required (got {num_encoder_layers}, {num_decoder_layers})')
    return int(num_encoder_layers), int(num_decoder_layers)


@MODELS.register_module()
class FastMETRONetwork(AutocastWeights):
    """FastMETRO's transformer network on top of a backbone feature map.

    Args:
        adjacency: (N, N) symmetric adjacency of the coarse mesh (the vertex tokens' mesh);
            it defines the decoder self-attention mask.
        up_matrices: fixed sparse up-sampling matrices (scipy, 3 stored entries per row) in
            the order they are applied, coarse to fine: ``[U[1], U[0]]`` for SMPL
            (431 -> 1723 -> 6890), ``[U[0]]`` for MANO (195 -> 778), i.e.
            ``MeshHierarchy.upsampling_chain(coarse_level, 0)``. With two matrices the
            intermediate mesh is also returned.
        num_joints: K joint tokens (14 body, 21 hand).
        num_vertices: N vertex tokens; must equal the adjacency's and the first matrix's
            vertex count (431 body, 195 hand).
        in_channels: channels of the backbone feature map (2048 for ResNet-50 / HRNet-W64).
        model_size: 'S', 'M' or 'L' (1, 2, 3 encoder and decoder layers per transformer);
            or None with explicit ``num_encoder_layers`` and ``num_decoder_layers``; None
            without them means 'L'.
        num_encoder_layers: encoder depth of both transformers when ``model_size`` is None.
        num_decoder_layers: decoder depth of both transformers when ``model_size`` is None.
        layout: 'release' (official code and checkpoints) or 'paper' (see module docstring).
        d_model_1: width of transformer 1.
        d_model_2: width of transformer 2.
        dim_feedforward_1: FFN width of transformer 1.
        dim_feedforward_2: FFN width of transformer 2.
        nhead: attention heads of both transformers.
        dropout: dropout probability of both transformers.
        camera_bias_init: starting bias (s, tx, ty) of the camera head, the weak-perspective
            camera's scale and shift; None keeps ``nn.Linear``'s default (the official code's).
            The scale of a crop filled by a person is about 1 (the default start, near 0, is
            soon past); a hand filling its crop needs about 9, which a few hundred updates
            do not reach (the hand quickstart starts there: docs/quickstart_experiments.md).
        xyz_head_init_std: start the xyz head (joints and vertices) with normal weights of
            this std and a zero bias; None keeps ``nn.Linear``'s default (the official code's).
            At the default start the coordinates already vary from image to image by ~4 cm
            of noise; a hand's articulation is ~1.3 cm, and training first silenced the
            image instead of learning it. A small start (1e-3) lets it learn (hand quickstart).
        draw_dropout_ahead: in CPU training, draw each pass's dropout masks on a second core
            while the network computes (``models/dropout_draws.py``): the same masks, the
            same generator state afterwards, a faster step. False draws them in place.
    """

    def __init__(self,
                 adjacency: AdjacencyLike,
                 up_matrices: Sequence[Any],
                 num_joints: int = 14,
                 num_vertices: int = 431,
                 in_channels: int = 2048,
                 model_size: Optional[str] = None,
                 num_encoder_layers: Optional[int] = None,
                 num_decoder_layers: Optional[int] = None,
                 layout: str = 'release',
                 d_model_1: int = 512,
                 d_model_2: int = 128,
                 dim_feedforward_1: int = 2048,
                 dim_feedforward_2: int = 512,
                 nhead: int = 8,
                 dropout: float = 0.1,
                 camera_bias_init: Optional[Sequence[float]] = None,
                 xyz_head_init_std: Optional[float] = None,
                 draw_dropout_ahead: bool = True) -> None:
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f'FastMETRONetwork: layout must be one of {LAYOUTS}, got {layout!r}')
        if num_joints < 1 or num_vertices < 1:
            raise ValueError(
                f'FastMETRONetwork: num_joints and num_vertices must be >= 1, '
                f'got {num_joints} and {num_vertices}')
        self._check_mesh(adjacency, up_matrices, num_vertices)
        num_enc, num_dec = _resolve_depth(model_size, num_encoder_layers, num_decoder_layers)
        self.layout = layout
        self.num_joints = num_joints
        self.num_vertices = num_vertices
        self.draw_dropout_ahead = draw_dropout_ahead
        self._dropout_draws = DropoutDraws()

        self.input_proj = nn.Conv2d(in_channels, d_model_1, kernel_size=1)
        self.camera_token = nn.Embedding(1, d_model_1)
        self.joint_tokens = nn.Embedding(num_joints, d_model_1)
        self.vertex_tokens = nn.Embedding(num_vertices, d_model_1)
        self.pos_encoding_1 = SinePositionalEncoding(d_model_1 // 2)
        self.pos_encoding_2 = SinePositionalEncoding(d_model_2 // 2)

        self.transformer_1 = FastMETROTransformer(
            d_model_1, nhead, num_enc, num_dec, dim_feedforward_1, dropout)
        self.transformer_2 = FastMETROTransformer(
            d_model_2, nhead, num_enc, num_dec, dim_feedforward_2, dropout)
        if layout == 'paper':
            self.reduce_encoder = nn.Linear(d_model_1, d_model_2)
        else:
            self.reduce_camera = nn.Linear(d_model_1, d_model_2)
            self.reduce_image = nn.Linear(d_model_1, d_model_2)
        self.reduce_tokens = nn.Linear(d_model_1, d_model_2)

        self.camera_head = nn.Linear(d_model_2, 3)
        self.xyz_head = nn.Linear(d_model_2, 3)

        self.upsample_intermediate: Optional[nn.Module] = None
        if len(up_matrices) == 2:
            if layout == 'paper':
                self.upsample_intermediate = MeshUpsampler([up_matrices[0]])
            else:
                self.upsample_intermediate = VertexLinear(num_vertices,
                                                          int(up_matrices[0].shape[0]))
        self.upsample_fine = MeshUpsampler([up_matrices[-1]])

        # (K + N, K + N), 0 / -inf; derived from the constructor's mesh, so not checkpointed.
        mask = attention_mask_to_additive(build_attention_mask(adjacency, num_joints))
        self.register_buffer('attention_mask', mask, persistent=False)
        # Last, so that every other weight draws the same random numbers as without them.
        self._start_heads(camera_bias_init, xyz_head_init_std)

    def _start_heads(self, camera_bias_init: Optional[Sequence[float]],
                     xyz_head_init_std: Optional[float]) -> None:
        """Optional starts of the camera and xyz heads (see the class docstring)."""
        if camera_bias_init is not None:
            if len(camera_bias_init) != 3:
                raise ValueError('FastMETRONetwork: camera_bias_init must be (s, tx, ty), got '
                                 f'{camera_bias_init!r}')
            with torch.no_grad():
                self.camera_head.bias.copy_(torch.as_tensor(camera_bias_init, dtype=torch.float))
        if xyz_head_init_std is not None:
            nn.init.normal_(self.xyz_head.weight, std=xyz_head_init_std)
            nn.init.zeros_(self.xyz_head.bias)

    @staticmethod
    def _check_mesh(adjacency: AdjacencyLike, up_matrices: Sequence[Any],
                    num_vertices: int) -> None:
        """Checks that tokens, adjacency and up-sampling chain describe the same mesh."""
        shape = tuple(adjacency.shape)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f'FastMETRONetwork: adjacency must be (N, N), got shape {shape}')
        if shape[0] != num_vertices:
            raise ValueError(
                f'FastMETRONetwork: {num_vertices} vertex tokens requested but the mesh '
                f'adjacency has {shape[0]} vertices')
        if len(up_matrices) not in (1, 2):
            raise ValueError(
                'FastMETRONetwork: up_matrices must hold 1 (hand: coarse -> fine) or 2 (body: '
                f'coarse -> intermediate -> fine) matrices, got {len(up_matrices)}')
        count = num_vertices
        for step, matrix in enumerate(up_matrices):
            if int(matrix.shape[1]) != count:
                source = 'vertex tokens requested' if step == 0 else \
                    f'vertices come out of up_matrices[{step - 1}]'
                raise ValueError(
                    f'FastMETRONetwork: {count} {source} but up_matrices[{step}] has shape '
                    f'{tuple(matrix.shape)} (expects {int(matrix.shape[1])} input vertices)')
            count = int(matrix.shape[0])

    def _dropout_masks_ahead(self, features: torch.Tensor,
                             return_attention: bool) -> ContextManager[None]:
        """Draws the transformers' dropout masks ahead, in CPU training (see ``__init__``).

        Only with autograd recording: then every mask is kept for the backward anyway, and
        drawing them early costs no memory. Without it each mask would live until its call.
        """
        if (not self.draw_dropout_ahead or not self.training or not torch.is_grad_enabled()
                or features.device.type != 'cpu' or capturing_graph()):
            return contextlib.nullcontext()
        # Everything that decides the dropout calls but the modules' own p and training flags,
        # which the draws check call by call.
        key = (tuple(features.shape), features.dtype, torch.is_autocast_enabled('cpu'),
               torch.get_autocast_dtype('cpu'), return_attention)
        return self._dropout_draws.ahead(key)

    def forward(self, features: torch.Tensor,
                return_attention: bool = False) -> Dict[str, Any]:
        """Predicts camera, joints and meshes from a backbone feature map.

        Args:
            features: (B, C, h, w) backbone output (2048 x 7 x 7 for a 224 x 224 image).
            return_attention: also return head-averaged attention weights of every layer
                (explicit softmax path; same outputs as the fused path).

        Returns:
            dict with
            - 'pred_cam': (B, 3) weak-perspective camera (s, tx, ty).
            - 'pred_3d_joints': (B, K, 3).
            - 'pred_3d_vertices_coarse': (B, N, 3).
            - 'pred_3d_vertices_intermediate': (B, N_mid, 3), two-step chains only.
            - 'pred_3d_vertices_fine': (B, V, 3).
            - 'attention' (if ``return_attention``): {'transformer_1': ..., 'transformer_2':
              ...}, each {'encoder_self_attn': [(B, 1+hw, 1+hw)], 'decoder_self_attn':
              [(B, K+N, K+N)], 'decoder_cross_attn': [(B, K+N, hw)]} with one entry per layer.
        """
        if features.dim() != 4 or features.shape[1] != self.input_proj.in_channels:
            raise ValueError(
                f'FastMETRONetwork expects a (B, {self.input_proj.in_channels}, h, w) feature '
                f'map, got {tuple(features.shape)}')
        batch, _, height, width = features.shape
        # (B, hw, 512); autocast_call: weights cast once for inference under autocast.
        image_tokens = self.autocast_call('input_proj', features).flatten(2).transpose(1, 2)
        dtype, device = image_tokens.dtype, image_tokens.device
        pos_1 = self.pos_encoding_1(height, width, device, dtype).flatten(1).T  # (hw, 512)
        pos_2 = self.pos_encoding_2(height, width, device, dtype).flatten(1).T  # (hw, 128)
        camera_token = self.camera_token.weight.expand(batch, -1, -1)  # (B, 1, 512)
        # The joint and vertex tokens are the same for every image: they enter with batch 1
        # and transformer 1 computes their image-independent part once (and keeps it between
        # calls in eval mode, keyed by the token weights' versions).
        query_tokens = torch.cat([self.joint_tokens.weight, self.vertex_tokens.weight])[None]
        static_key = tuple((p.data_ptr(), p._version)
                           for p in (self.joint_tokens.weight, self.vertex_tokens.weight))
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
            # Exported graphs keep a dynamic batch only through shapes read from the input.
            query_tokens, static_key = query_tokens.expand(batch, -1, -1), None

        with self._dropout_masks_ahead(features, return_attention):
            out_1 = self.transformer_1(image_tokens, camera_token, query_tokens, pos_1,
                                       self.attention_mask, need_weights=return_attention,
                                       static_key=static_key)  # query_tokens (1 | B, K + N, 512)
            if self.layout == 'paper':
                camera_2 = self.autocast_call('reduce_encoder', out_1.camera)  # (B, 1, 128)
                image_2 = self.autocast_call('reduce_encoder', out_1.image)  # (B, hw, 128)
            else:
                camera_2 = self.autocast_call('reduce_camera', out_1.camera)
                image_2 = self.autocast_call('reduce_image', out_1.image)
            queries_2 = self.autocast_call('reduce_tokens', out_1.queries)  # (B, K + N, 128)
            out_2 = self.transformer_2(image_2, camera_2, queries_2, pos_2,
                                       self.attention_mask, need_weights=return_attention)

        # The outputs are coordinates: under mixed precision the last layers and the
        # upsampling run in float32 (in bfloat16 they cost ~1.3 mm on average, 6 mm at most;
        # docs/mixed_precision.md). Without autocast this changes nothing.
        dtype = self.xyz_head.weight.dtype  # float32 (or float64) whatever autocast says
        with torch.autocast(device_type=out_2.queries.device.type, enabled=False):
            xyz = self.xyz_head(out_2.queries.to(dtype))  # (B, K + N, 3)
            coarse = xyz[:, self.num_joints:]  # (B, N, 3)
            result: Dict[str, Any] = {
                'pred_cam': self.camera_head(out_2.camera[:, 0].to(dtype)),  # (B, 3)
                'pred_3d_joints': xyz[:, :self.num_joints],  # (B, K, 3)
                'pred_3d_vertices_coarse': coarse,
            }
            if self.upsample_intermediate is not None:
                intermediate = self.upsample_intermediate(coarse)  # (B, N_mid, 3)
                result['pred_3d_vertices_intermediate'] = intermediate
                result['pred_3d_vertices_fine'] = self.upsample_fine(intermediate)  # (B, V, 3)
            else:
                result['pred_3d_vertices_fine'] = self.upsample_fine(coarse)  # (B, V, 3)
        if return_attention:
            result['attention'] = {'transformer_1': out_1.attention,
                                   'transformer_2': out_2.attention}
        return result
