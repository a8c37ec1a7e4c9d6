"""FastMETRO's attention maps (paper Fig. 6): a joint's attention to mesh vertices and image.

The decoder of each of the two transformers holds K joint tokens then N coarse vertex tokens
(431 for SMPL, 195 for MANO). With ``return_attention=True`` the network returns, per
transformer and decoder layer, head-averaged weights: self-attention (K+N, K+N) and
cross-attention to the h x w image tokens (K+N, hw). For a chosen joint, this module averages
its row over transformers and layers, spreads the vertex part from the coarse to the full mesh
with the network's own up-sampling, and draws it as vertex colours and as a heat map on the
model's input crop.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple, Union

import numpy as np

#: Which transformers to average: both, or the first / second (0, 1).
TransformerChoice = Union[str, int]


def _select(attention: np.ndarray, transformers: TransformerChoice, key: str) -> np.ndarray:
    """(T, L, Q, S) -> (T', L, Q, S) for the chosen transformers."""
    attention = np.asarray(attention, dtype=np.float64)
    if attention.ndim == 3:
        attention = attention[None]
    if attention.ndim != 4:
        raise ValueError(f'{key} must have shape (2, L, Q, S) or (L, Q, S), got '
                         f'{attention.shape}')
    if transformers == 'all':
        return attention
    if transformers not in (0, 1) or transformers >= attention.shape[0]:
        raise ValueError(f"transformers must be 'all', 0 or 1, got {transformers!r}")
    return attention[transformers:transformers + 1]


def joint_to_vertex_attention(self_attention: np.ndarray, joint: int, num_joints: int,
                              transformers: TransformerChoice = 'all') -> np.ndarray:
    """A joint token's decoder self-attention to the coarse vertex tokens.

    Args:
        self_attention: (2, L, K+N, K+N) (or (L, K+N, K+N)) head-averaged weights.
        joint: index of the joint among the K joints.
        num_joints: K.
        transformers: 'all' averages both transformers; 0 or 1 picks one.

    Returns:
        (N,) weights averaged over the chosen transformers and layers (they sum to the
        share of the joint's attention that goes to vertices).
    """
    attention = _select(self_attention, transformers, 'self_attention')
    if not 0 <= joint < num_joints or attention.shape[-1] <= num_joints:
        raise ValueError(f'joint {joint} is not one of {num_joints} joints of an attention map '
                         f'with {attention.shape[-1]} tokens')
    return attention[:, :, joint, num_joints:].mean(axis=(0, 1))


def joint_to_image_attention(cross_attention: np.ndarray, joint: int,
                             feature_size: Optional[Tuple[int, int]] = None,
                             transformers: TransformerChoice = 'all') -> np.ndarray:
    """A joint token's decoder cross-attention to the image tokens, as an (h, w) map.

    Args:
        cross_attention: (2, L, K+N, hw) (or (L, K+N, hw)) head-averaged weights.
        joint: joint index.
        feature_size: (h, w) of the backbone feature map; None for a square one.
        transformers: 'all', 0 or 1.

    Returns:
        (h, w) weights averaged over transformers and layers (each layer's row sums to 1).
    """
    attention = _select(cross_attention, transformers, 'cross_attention')
    tokens = attention.shape[-1]
    if feature_size is None:
        side = int(round(np.sqrt(tokens)))
        if side * side != tokens:
            raise ValueError(f'{tokens} image tokens are not a square feature map; give '
                             'feature_size=(h, w)')
        feature_size = (side, side)
    height, width = feature_size
    if height * width != tokens:
        raise ValueError(f'feature_size {feature_size} does not hold {tokens} image tokens')
    return attention[:, :, joint].mean(axis=(0, 1)).reshape(height, width)


def coarse_to_mesh(values: np.ndarray, upsample: Sequence[Callable]) -> np.ndarray:
    """Spreads (N,) coarse-vertex values over the full mesh with the network's up-samplers.

    Args:
        values: (N,) per coarse vertex.
        upsample: the up-sampling modules, coarse to fine (``head.network``'s
            ``upsample_intermediate`` when present, then ``upsample_fine``).

    Returns:
        (V,) per mesh vertex, clipped at 0 (a learned up-sampler may overshoot).
    """
    import torch
    rows = torch.as_tensor(np.asarray(values, dtype=np.float32))[None, :, None]  # (1, N, 1)
    with torch.no_grad():
        for module in upsample:
            rows = module(rows)
    return np.clip(rows[0, :, 0].double().cpu().numpy(), 0.0, None)


def network_upsamplers(model) -> Tuple[Callable, ...]:
    """The coarse-to-fine up-sampling modules of a FastMETRO estimator (or head/network)."""
    network = getattr(getattr(model, 'head', model), 'network', model)
    if not hasattr(network, 'upsample_fine'):
        raise AttributeError('network_upsamplers: no FastMETRO network (upsample_fine) found')
    chain = [network.upsample_fine]
    if getattr(network, 'upsample_intermediate', None) is not None:
        chain.insert(0, network.upsample_intermediate)
    return tuple(chain)


def colour_map(values: np.ndarray, colormap: Optional[int] = None) -> np.ndarray:
    """(...,) values -> (..., 3) RGB in [0, 1], min-max normalised, OpenCV's JET by default."""
    import cv2
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min()
    normalised = (values - values.min()) / span if span > 0 else np.zeros_like(values)
    levels = np.round(255 * normalised).astype(np.uint8).reshape(-1, 1)
    bgr = cv2.applyColorMap(levels, cv2.COLORMAP_JET if colormap is None else colormap)
    return bgr[:, 0, ::-1].reshape(values.shape + (3, )) / 255.0


def heatmap_on_crop(crop: np.ndarray, heat: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """An (h, w) attention map, resized (bicubic) and coloured, blended over an RGB crop.

    Args:
        crop: (H, W, 3) uint8 RGB model input.
        heat: (h, w) attention map.
        opacity: weight of the heat map.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    import cv2
    height, width = crop.shape[:2]
    large = cv2.resize(np.asarray(heat, np.float32), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    coloured = 255.0 * colour_map(large)
    blended = (1 - opacity) * crop.astype(np.float64) + opacity * coloured
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def attention_figure(renderer, person, upsample: Sequence[Callable], joint: int,
                     num_joints: int, transformers: TransformerChoice = 'all') -> np.ndarray:
    """Paper Fig. 6 for one person and joint: the crop with the joint's image attention and
    the mesh coloured by the joint's vertex attention (red = most attended), side by side.

    Args:
        renderer: a :class:`MeshRenderer` with the model's faces.
        person: a :class:`fastmetro_mm.apis.MeshPrediction` with ``attention`` and ``crop``
            (``inference_mesh(..., return_attention=True)``).
        upsample: :func:`network_upsamplers` of the model.
        joint: joint index; num_joints: K.
        transformers: 'all', 0 or 1.

    Returns:
        (H, 2W, 3) uint8 RGB, H x W the crop size.
    """
    from fastmetro_mm.mesh.image_camera import ImageCamera, crop_cam_to_translation
    if person.attention is None or person.crop is None:
        raise ValueError('attention_figure: the prediction has no attention maps; run '
                         'inference_mesh(..., return_attention=True)')
    crop = person.crop
    height, width = crop.shape[:2]
    image_map = joint_to_image_attention(person.attention['decoder_cross_attention'], joint,
                                         transformers=transformers)
    vertex_map = coarse_to_mesh(
        joint_to_vertex_attention(person.attention['decoder_self_attention'], joint,
                                  num_joints, transformers), upsample)
    # The mesh drawn in the crop's own camera: crop centre (w/2, h/2) and size w.
    camera = ImageCamera.for_image(width, height)
    cam_t = crop_cam_to_translation(np.asarray(person.cam, np.float64)[None],
                                    np.array([[width / 2.0, height / 2.0]]),
                                    np.array([float(width)]), camera)
    background = np.full((height, width, 3), 255, np.uint8)
    mesh = renderer.render(np.asarray(person.vertices, np.float64) + cam_t, camera, background,
                           vertex_colours=colour_map(vertex_map)).image
    return np.concatenate([heatmap_on_crop(crop, image_map), mesh], axis=1)
