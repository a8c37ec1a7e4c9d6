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


#: Shorter side of the attention figure's panels, pixels (a crop is 128 to 256 pixels).
FIGURE_PANEL_SIZE = 384
#: Colour of crop pixels that lie outside the original image (the crop's padding).
PADDING_GREY = (128, 128, 128)


def padding_mask(crop_shape: Tuple[int, int], crop_center: np.ndarray,
                 crop_scale: np.ndarray, image_size: Tuple[int, int]) -> np.ndarray:
    """Which pixels of a model input crop lie outside the original image (padding).

    The test pipeline cuts the crop without rotation: crop pixel ``(u, v)`` of an ``h x w``
    crop shows image pixel ``center + ((u, v) - (w, h) / 2) * scale / (w, h)``.

    Args:
        crop_shape: (h, w) of the crop.
        crop_center: (2,) crop centre in image pixels (``MeshPrediction.crop_center``).
        crop_scale: (2,) crop size (w, h) in image pixels (``MeshPrediction.crop_scale``).
        image_size: (W, H) of the original image.

    Returns:
        (h, w) bool, True where the crop shows no image.
    """
    height, width = crop_shape
    center = np.asarray(crop_center, np.float64).reshape(2)
    scale = np.asarray(crop_scale, np.float64).reshape(-1)
    scale = np.broadcast_to(scale, (2, )) if scale.size == 1 else scale[:2]
    xs = center[0] + (np.arange(width) + 0.5 - width / 2.0) * scale[0] / width
    ys = center[1] + (np.arange(height) + 0.5 - height / 2.0) * scale[1] / height
    outside_x = (xs < 0) | (xs > image_size[0])
    outside_y = (ys < 0) | (ys > image_size[1])
    return outside_y[:, None] | outside_x[None, :]


def colour_bar(height: int, width: int = 24) -> np.ndarray:
    """(height, width, 3) uint8 RGB: :func:`colour_map`'s colours, highest at the top."""
    values = np.linspace(1.0, 0.0, height)[:, None].repeat(width, axis=1)
    return np.round(255 * colour_map(values)).astype(np.uint8)


def attention_figure(renderer, person, upsample: Sequence[Callable], joint: int,
                     num_joints: int, transformers: TransformerChoice = 'all',
                     joint_name: Optional[str] = None,
                     image_size: Optional[Tuple[int, int]] = None,
                     panel_size: int = FIGURE_PANEL_SIZE) -> np.ndarray:
    """Paper Fig. 6 for one person and joint: the crop with the joint's image attention and
    the mesh coloured by the joint's vertex attention, side by side, under a title naming the
    joint and beside a colour bar (red = most attended; each panel scaled from its least to
    its most attended value, both ranges written under the panels).

    Args:
        renderer: a :class:`fastmetro_mm.render.MeshRenderer` with the model's faces.
        person: a :class:`fastmetro_mm.apis.MeshPrediction` with ``attention`` and ``crop``
            (``inference_mesh(..., return_attention=True)``).
        upsample: :func:`network_upsamplers` of the model.
        joint: joint index; num_joints: K.
        transformers: 'all', 0 or 1.
        joint_name: shown in the title (default: ``joint <index>``).
        image_size: (W, H) of the original image: the crop's padding (outside the image) is
            then drawn grey, without attention. None: no masking.
        panel_size: height of the panels, pixels (the crop is scaled up to it).

    Returns:
        (H', W', 3) uint8 RGB with ``H' > panel_size`` (title and captions added).
    """
    import cv2

    from fastmetro_mm.mesh.image_camera import ImageCamera, crop_cam_to_translation
    if person.attention is None or person.crop is None:
        raise ValueError('attention_figure: the prediction has no attention maps; run '
                         'inference_mesh(..., return_attention=True)')
    crop = np.asarray(person.crop)
    factor = panel_size / crop.shape[0]
    height, width = panel_size, int(round(crop.shape[1] * factor))
    crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC)
    image_map = joint_to_image_attention(person.attention['decoder_cross_attention'], joint,
                                         transformers=transformers)
    vertex_map = coarse_to_mesh(
        joint_to_vertex_attention(person.attention['decoder_self_attention'], joint,
                                  num_joints, transformers), upsample)
    left = heatmap_on_crop(crop, image_map)
    if image_size is not None:
        padding = padding_mask((height, width), person.crop_center, person.crop_scale,
                               image_size)
        left[padding] = PADDING_GREY
    # The mesh drawn in the panel's own camera: crop centre (w/2, h/2) and size w.
    camera = ImageCamera.for_image(width, height)
    cam_t = crop_cam_to_translation(np.asarray(person.cam, np.float64)[None],
                                    np.array([[width / 2.0, height / 2.0]]),
                                    np.array([float(width)]), camera)
    background = np.full((height, width, 3), 255, np.uint8)
    right = renderer.render(np.asarray(person.vertices, np.float64) + cam_t, camera,
                            background, vertex_colours=colour_map(vertex_map)).image
    return _frame_figure(left, right, joint_name or f'joint {joint}',
                         (float(image_map.min()), float(image_map.max())),
                         (float(vertex_map.min()), float(vertex_map.max())),
                         masked=image_size is not None)


def _frame_figure(left: np.ndarray, right: np.ndarray, joint_name: str,
                  image_range: Tuple[float, float],
                  vertex_range: Tuple[float, float], masked: bool) -> np.ndarray:
    """The two panels on white with a title, captions and a colour bar."""
    import cv2
    height, width = left.shape[:2]
    gap, title_h, caption_h, bar_w = 12, 44, 52, 24
    total_w = 2 * width + 3 * gap + bar_w + 56
    figure = np.full((title_h + height + caption_h, total_w, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX

    def text(line: str, x: int, y: int, scale: float = 0.55) -> None:
        cv2.putText(figure, line, (x, y), font, scale, (0, 0, 0), 1, cv2.LINE_AA)

    text(f'Attention of the {joint_name} token', gap, 30, 0.75)
    figure[title_h:title_h + height, gap:gap + width] = left
    figure[title_h:title_h + height, 2 * gap + width:2 * gap + 2 * width] = right
    bar_x = 3 * gap + 2 * width
    figure[title_h:title_h + height, bar_x:bar_x + bar_w] = colour_bar(height, bar_w)
    text('most', bar_x + bar_w + 4, title_h + 14, 0.45)
    text('least', bar_x + bar_w + 4, title_h + height - 4, 0.45)
    below = title_h + height + 20
    text('to the image' + (' (grey: padding)' if masked else ''), gap, below)
    text(f'weights {image_range[0]:.3g} to {image_range[1]:.3g}', gap, below + 22, 0.45)
    text('to the mesh vertices', 2 * gap + width, below)
    text(f'weights {vertex_range[0]:.3g} to {vertex_range[1]:.3g}', 2 * gap + width,
         below + 22, 0.45)
    return figure
