"""FastMETRO's pre-norm transformer encoder-decoder (DETR style), batch-first.

Every block is pre-norm: ``x + Dropout(Block(LayerNorm(x)))``, and each stack ends with a
LayerNorm. Attention goes through ``F.scaled_dot_product_attention`` (fused kernels) in the
normal path; ``need_weights=True`` switches to an explicit softmax that also returns the
attention weights averaged over heads, for visualisation.

The attention blocks (``attention.py``) keep ``nn.MultiheadAttention``'s parameter layout, so
the official FastMETRO weights load 1:1 (see
``tools/model_converters/fastmetro_official_to_mmpose.py``).

Shapes: B batch, L query tokens, S key tokens, d model width, H heads.
"""
from __future__ import annotations

from typing import Dict, Hashable, List, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiheadAttention
from .autocast_weights import AutocastWeights
from .dropout_draws import Dropout
from .graph_capture import capturing_graph


def with_pos_embed(tensor: torch.Tensor, pos: Optional[torch.Tensor]) -> torch.Tensor:
    """Adds a positional embedding to queries/keys (never to values), if one is given.

    Args:
        tensor: (B, L, d) tokens.
        pos: (L, d) or (B, L, d) positional embedding, or None.

    Returns:
        (B, L, d) tensor.
    """
    return tensor if pos is None else tensor + pos


def add_residual(stream: torch.Tensor, branch: torch.Tensor,
                 stream_is_own: bool = False) -> torch.Tensor:
    """``stream + branch``, written into storage the layer owns where that is exact.

    Large fresh tensors cost page faults on the CPU; each add written in place saves one.
    The branch (an attention or FFN output, or its dropout) belongs to the layer and nothing
    saves it for backward, so adding into it is safe under autograd when it has the result's
    shape and dtype. Under autocast the branch is bfloat16 and the stream float32: then the
    stream takes the sum, if the layer made it (``stream_is_own``) and no autograd records.

    Args:
        stream: (B | 1, L, d) residual stream.
        branch: (B, L, d) block output.
        stream_is_own: the stream is a tensor this layer created (never its input).

    Returns:
        (B, L, d) sum, equal to ``stream + branch``.
    """
    if branch.shape == stream.shape and branch.dtype == stream.dtype and branch is not stream:
        return branch.add_(stream)
    if (stream_is_own and not torch.is_grad_enabled() and stream.shape == branch.shape
            and torch.result_type(stream, branch) == stream.dtype):
        return stream.add_(branch)
    return stream + branch


class FeedForward(AutocastWeights):
    """Two-layer ReLU MLP of a transformer block: d -> dim_feedforward -> d.

    Args:
        d_model: token width d.
        dim_feedforward: hidden width.
        dropout: dropout after the ReLU.
    """

    def __init__(self, d_model: int, dim_feedforward: int, dropout: float) -> None:
        super().__init__()
        self.fc_in = nn.Linear(d_model, dim_feedforward)
        self.dropout = Dropout(dropout)
        self.fc_out = nn.Linear(dim_feedforward, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, d) -> (B, L, d)."""
        # In place: the hidden layer is the block's largest tensor (addmm keeps no output).
        hidden = F.relu(self.autocast_call('fc_in', x), inplace=True)
        return self.autocast_call('fc_out', self.dropout(hidden))


class TransformerEncoderLayer(nn.Module):
    """Pre-norm encoder layer: self-attention, then feed-forward.

    Args:
        d_model: token width d.
        nhead: number of attention heads.
        dim_feedforward: hidden width of the feed-forward block.
        dropout: dropout on attention weights, residual branches and the FFN hidden layer.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn_norm = nn.LayerNorm(d_model)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.self_attn_dropout = Dropout(dropout)
        self.ffn_norm = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, dim_feedforward, dropout)
        self.ffn_dropout = Dropout(dropout)

    def forward(self,
                src: torch.Tensor,
                pos: Optional[torch.Tensor] = None,
                need_weights: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Encodes tokens.

        Args:
            src: (B, S, d) tokens.
            pos: (S, d) or (B, S, d) positional embedding added to queries and keys.
            need_weights: also return self-attention weights.

        Returns:
            (B, S, d) tokens and (B, S, S) head-averaged weights or None.
        """
        x = self.self_attn_norm(src)
        q = k = with_pos_embed(x, pos)
        attended, weights = self.self_attn(q, k, x, need_weights=need_weights)
        src = add_residual(src, self.self_attn_dropout(attended))
        src = add_residual(src, self.ffn_dropout(self.ffn(self.ffn_norm(src))),
                           stream_is_own=True)
        return src, weights


class TransformerDecoderLayer(nn.Module):
    """Pre-norm decoder layer: masked self-attention, cross-attention, feed-forward.

    Query tokens given with batch 1 are shared by every image (FastMETRO's first decoder
    layer): whatever does not depend on the image is computed once, at batch 1, and the
    tokens become per-image at the cross-attention. Without dropout (eval mode) that is the
    whole self-attention block and the cross-attention's query projection; in training, where
    the attention dropout differs per image, the self-attention's projections. The results
    equal the per-image computation (the same random draws in training).

    With ``static_key`` (eval, no autograd) the shared part is also kept between calls and
    reused while the key, this layer's weights (tracked by their version counters), the
    device and the dtype stay the same.

    Args:
        d_model: token width d.
        nhead: number of attention heads.
        dim_feedforward: hidden width of the feed-forward block.
        dropout: dropout on attention weights, residual branches and the FFN hidden layer.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn_norm = nn.LayerNorm(d_model)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.self_attn_dropout = Dropout(dropout)
        self.cross_attn_norm = nn.LayerNorm(d_model)
        self.cross_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.cross_attn_dropout = Dropout(dropout)
        self.ffn_norm = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, dim_feedforward, dropout)
        self.ffn_dropout = Dropout(dropout)
        self._static_cache: Optional[Tuple[Hashable, torch.Tensor, torch.Tensor]] = None

    def forward(self,
                tgt: torch.Tensor,
                memory: torch.Tensor,
                self_attn_mask: Optional[torch.Tensor] = None,
                pos: Optional[torch.Tensor] = None,
                query_pos: Optional[torch.Tensor] = None,
                need_weights: bool = False,
                static_key: Optional[Hashable] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Decodes query tokens against the encoder memory.

        Args:
            tgt: (B, L, d) query tokens, or (1, L, d) tokens shared by every image.
            memory: (B, S, d) encoder output.
            self_attn_mask: (L, L) additive mask of the self-attention (0 / -inf).
            pos: (S, d) or (B, S, d) positional embedding added to the memory keys.
            query_pos: (L, d) or (B, L, d) embedding added to the queries (and the
                self-attention keys); FastMETRO uses none.
            need_weights: also return attention weights.
            static_key: identifies the values of shared (batch 1) ``tgt`` between calls (for
                example the token parameters' versions); None: nothing is kept.

        Returns:
            (B, L, d) tokens, (B, L, L) self-attention and (B, L, S) cross-attention weights
            averaged over heads (None unless ``need_weights``).
        """
        batch = memory.shape[0]
        shared = tgt.shape[0] == 1
        per_image_self_attn = need_weights or (self.training and self.self_attn.dropout > 0)
        key = self._static_cache_key(static_key, tgt, query_pos, self_attn_mask,
                                     shared and not per_image_self_attn)
        if key is not None and self._static_cache is not None and self._static_cache[0] == key:
            _, tgt, query = self._static_cache
            self_weights = None
        else:
            x = self.self_attn_norm(tgt)
            q = k = with_pos_embed(x, query_pos)
            attended, self_weights = self.self_attn(
                q, k, x, attn_mask=self_attn_mask, need_weights=need_weights,
                batch_size=batch if shared and per_image_self_attn else None)
            tgt = add_residual(tgt, self.self_attn_dropout(attended))
            query = self.cross_attn.project(
                with_pos_embed(self.cross_attn_norm(tgt), query_pos), 'q')
            self._static_cache = None if key is None else (key, tgt, query)
        attended, cross_weights = self.cross_attn(
            tgt, with_pos_embed(memory, pos), memory, need_weights=need_weights,
            batch_size=batch, projected_query=query)
        # The stream is this call's own unless it is (or was just stored as) the kept part.
        tgt = add_residual(tgt, self.cross_attn_dropout(attended), stream_is_own=key is None)
        tgt = add_residual(tgt, self.ffn_dropout(self.ffn(self.ffn_norm(tgt))),
                           stream_is_own=True)
        return tgt, self_weights, cross_weights

    def _static_cache_key(self, static_key: Optional[Hashable], tgt: torch.Tensor,
                          query_pos: Optional[torch.Tensor],
                          self_attn_mask: Optional[torch.Tensor],
                          cacheable: bool) -> Optional[Hashable]:
        """The key of the shared part in this call, or None when it must not be kept."""
        if (static_key is None or not cacheable or query_pos is not None
                or torch.is_grad_enabled() or capturing_graph()):
            return None
        weights = tuple((p.data_ptr(), p._version) for p in self.parameters())
        mask = None if self_attn_mask is None else (self_attn_mask.data_ptr(),
                                                    self_attn_mask._version)
        autocast = (torch.is_autocast_enabled(tgt.device.type),
                    torch.get_autocast_dtype(tgt.device.type))
        return (static_key, tgt.device, tgt.dtype, autocast, weights, mask)

    def _apply(self, fn, *args, **kwargs):  # type: ignore[override]
        # .to() / .cuda() / .half() may keep parameter versions: drop the kept tensors.
        self._static_cache = None
        return super()._apply(fn, *args, **kwargs)


class TransformerEncoder(nn.Module):
    """A stack of pre-norm encoder layers followed by a LayerNorm.

    Args:
        num_layers: number of layers (>= 1).
        d_model, nhead, dim_feedforward, dropout: see ``TransformerEncoderLayer``.
    """

    def __init__(self, num_layers: int, d_model: int, nhead: int, dim_feedforward: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'TransformerEncoder: num_layers must be >= 1, got {num_layers}')
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self,
                src: torch.Tensor,
                pos: Optional[torch.Tensor] = None,
                need_weights: bool = False) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """(B, S, d) tokens -> (B, S, d) tokens and a list of (B, S, S) weights per layer
        (empty unless ``need_weights``)."""
        weights: List[torch.Tensor] = []
        for layer in self.layers:
            src, layer_weights = layer(src, pos=pos, need_weights=need_weights)
            if layer_weights is not None:
                weights.append(layer_weights)
        return self.norm(src), weights


class TransformerDecoder(nn.Module):
    """A stack of pre-norm decoder layers followed by a LayerNorm.

    Args:
        num_layers: number of layers (>= 1).
        d_model, nhead, dim_feedforward, dropout: see ``TransformerDecoderLayer``.
    """

    def __init__(self, num_layers: int, d_model: int, nhead: int, dim_feedforward: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'TransformerDecoder: num_layers must be >= 1, got {num_layers}')
        self.layers = nn.ModuleList(
            TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self,
                tgt: torch.Tensor,
                memory: torch.Tensor,
                self_attn_mask: Optional[torch.Tensor] = None,
                pos: Optional[torch.Tensor] = None,
                query_pos: Optional[torch.Tensor] = None,
                need_weights: bool = False,
                static_key: Optional[Hashable] = None
                ) -> Tuple[torch.Tensor, List[torch.Tensor], List[torch.Tensor]]:
        """(B | 1, L, d) queries and (B, S, d) memory -> (B, L, d) tokens, per-layer (B, L, L)
        self-attention and (B, L, S) cross-attention weights (empty unless ``need_weights``).
        Queries with batch 1 are shared by every image; ``static_key``: see
        ``TransformerDecoderLayer`` (only the first layer's input can be shared).
        """
        self_weights: List[torch.Tensor] = []
        cross_weights: List[torch.Tensor] = []
        for index, layer in enumerate(self.layers):
            tgt, layer_self, layer_cross = layer(
                tgt, memory, self_attn_mask=self_attn_mask, pos=pos, query_pos=query_pos,
                need_weights=need_weights, static_key=static_key if index == 0 else None)
            if layer_self is not None and layer_cross is not None:
                self_weights.append(layer_self)
                cross_weights.append(layer_cross)
        return self.norm(tgt), self_weights, cross_weights


class TransformerOutput(NamedTuple):
    """Outputs of ``FastMETROTransformer``.

    Attributes:
        camera: (B, 1, d) encoded camera token.
        image: (B, S, d) encoded image tokens.
        queries: (B, L, d) decoded joint and vertex tokens.
        attention: None, or per-layer head-averaged weights under the keys
            'encoder_self_attn' ((B, 1+S, 1+S) each), 'decoder_self_attn' ((B, L, L)) and
            'decoder_cross_attn' ((B, L, S)).
    """
    camera: torch.Tensor
    image: torch.Tensor
    queries: torch.Tensor
    attention: Optional[Dict[str, List[torch.Tensor]]]


class FastMETROTransformer(nn.Module):
    """One of FastMETRO's two encoder-decoder transformers.

    The encoder sees [camera token; image tokens], with the positional encoding added to the
    image tokens' queries and keys only. The decoder's queries are the joint and vertex tokens
    (no query position); its memory is the encoded image tokens without the camera token, with
    the positional encoding on the keys; its self-attention is masked by the mesh topology.

    Every parameter with more than one dimension is Xavier-uniform initialised, as in DETR
    and the official FastMETRO.

    Args:
        d_model: token width d (512 and 128 in FastMETRO).
        nhead: attention heads.
        num_encoder_layers: encoder depth.
        num_decoder_layers: decoder depth.
        dim_feedforward: FFN hidden width (2048 and 512 in FastMETRO).
        dropout: dropout probability.
    """

    def __init__(self,
                 d_model: int = 512,
                 nhead: int = 8,
                 num_encoder_layers: int = 3,
                 num_decoder_layers: int = 3,
                 dim_feedforward: int = 2048,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.d_model = d_model
        self.encoder = TransformerEncoder(num_encoder_layers, d_model, nhead, dim_feedforward,
                                          dropout)
        self.decoder = TransformerDecoder(num_decoder_layers, d_model, nhead, dim_feedforward,
                                          dropout)
        for param in self.parameters():
            if param.dim() > 1:
                nn.init.xavier_uniform_(param)

    def forward(self,
                image_tokens: torch.Tensor,
                camera_token: torch.Tensor,
                query_tokens: torch.Tensor,
                pos: torch.Tensor,
                self_attn_mask: Optional[torch.Tensor] = None,
                need_weights: bool = False,
                static_key: Optional[Hashable] = None) -> TransformerOutput:
        """Encodes the image and decodes joint/vertex tokens.

        Args:
            image_tokens: (B, S, d) flattened image features (S = h * w).
            camera_token: (B, 1, d).
            query_tokens: (B, L, d) joint tokens followed by vertex tokens, or (1, L, d)
                tokens shared by every image (their image-independent part is computed once).
            pos: (S, d) or (B, S, d) positional encoding of the image tokens.
            self_attn_mask: (L, L) additive decoder self-attention mask (0 / -inf).
            need_weights: also return attention weights (explicit softmax path).
            static_key: identifies shared query tokens' values between calls, so that their
                image-independent part is kept (eval, no autograd; see
                ``TransformerDecoderLayer``); None: computed in every call.

        Returns:
            TransformerOutput with camera (B, 1, d), image (B, S, d), queries (B, L, d).
        """
        for name, tensor in (('image_tokens', image_tokens), ('camera_token', camera_token),
                             ('query_tokens', query_tokens)):
            if tensor.dim() != 3 or tensor.shape[-1] != self.d_model:
                raise ValueError(
                    f'FastMETROTransformer: {name} must be (B, T, {self.d_model}), '
                    f'got {tuple(tensor.shape)}')
        num_image_tokens = image_tokens.shape[1]
        # The camera token has no position: a zero row keeps "tensor + pos" exact for it.
        camera_pos = pos.new_zeros(pos.shape[:-2] + (1, pos.shape[-1]))
        encoder_pos = torch.cat([camera_pos, pos], dim=-2)  # (1 + S, d) or (B, 1 + S, d)
        encoded, encoder_weights = self.encoder(
            torch.cat([camera_token, image_tokens], dim=1), pos=encoder_pos,
            need_weights=need_weights)  # (B, 1 + S, d)
        camera, image = encoded.split([1, num_image_tokens], dim=1)
        queries, self_weights, cross_weights = self.decoder(
            query_tokens, image, self_attn_mask=self_attn_mask, pos=pos,
            need_weights=need_weights, static_key=static_key)
        attention = None
        if need_weights:
            attention = {'encoder_self_attn': encoder_weights,
                         'decoder_self_attn': self_weights,
                         'decoder_cross_attn': cross_weights}
        return TransformerOutput(camera, image, queries, attention)
