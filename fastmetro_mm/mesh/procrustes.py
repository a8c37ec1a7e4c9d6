"""Batched similarity Procrustes alignment (Umeyama 1991), in torch and differentiable.

Finds, per batch element, the scale ``s``, rotation ``R`` and translation ``t`` minimising
``sum_i w_i |s R x_i + t - y_i|^2`` and returns the aligned source ``s R x_i + t``. This is
the alignment behind PA-MPJPE / PA-MPVPE; the metrics themselves live in the evaluation layer.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor


class SimilarityTransform(NamedTuple):
    """A batch of similarity transforms ``y = scale * R x + translation``.

    Attributes:
        scale: (B,) scale factors.
        rotation: (B, D, D) rotation matrices (det +1 unless reflections were allowed).
        translation: (B, D) translations.
    """

    scale: Tensor
    rotation: Tensor
    translation: Tensor

    def apply(self, points: Tensor) -> Tensor:
        """Transform (B, N, D) points; returns (B, N, D)."""
        return (self.scale[:, None, None] * points @ self.rotation.transpose(1, 2)
                + self.translation[:, None, :])


def similarity_procrustes(
    source: Tensor,
    target: Tensor,
    weights: Optional[Tensor] = None,
    allow_reflection: bool = False,
    compute_dtype: Optional[torch.dtype] = torch.float64,
    return_transform: bool = False,
) -> Union[Tensor, Tuple[Tensor, SimilarityTransform]]:
    """Align ``source`` to ``target`` with the best similarity transform.

    Args:
        source: (B, N, D) points to move (D = 3 for meshes and joints).
        target: (B, N, D) corresponding points.
        weights: Optional (B, N) non-negative point weights (e.g. joint visibility); points
            with weight 0 do not influence the fit but are still transformed.
        allow_reflection: If False (default), the orthogonal factor is corrected to a proper
            rotation (det +1) by flipping the sign of the weakest singular direction.
        compute_dtype: Dtype of the internal computation (float64 by default, so the SVD is
            accurate for metrics); None computes in the input dtype promoted to at least
            float32. Autocast is disabled inside.
        return_transform: Also return the fitted :class:`SimilarityTransform` (in the
            compute dtype).

    Returns:
        The aligned source, (B, N, D) in the dtype of ``source``; with
        ``return_transform=True`` a tuple ``(aligned, transform)``.

    Note:
        Gradients flow through ``torch.linalg.svd``; they are undefined when two singular
        values of the cross-covariance coincide (e.g. degenerate, collinear point sets).
    """
    if source.dim() != 3 or source.shape != target.shape:
        raise ValueError('similarity_procrustes: source and target must both have shape '
                         f'(B, N, D); got {tuple(source.shape)} and {tuple(target.shape)}')
    batch, num_points, dim = source.shape
    if weights is not None and tuple(weights.shape) != (batch, num_points):
        raise ValueError(f'similarity_procrustes: weights must have shape ({batch}, '
                         f'{num_points}), got {tuple(weights.shape)}')
    dtype = compute_dtype or torch.promote_types(source.dtype, torch.float32)

    with torch.autocast(device_type=source.device.type, enabled=False):
        src = source.to(dtype)
        tgt = target.to(dtype)
        if weights is None:
            w = src.new_full((batch, num_points), 1.0 / num_points)
        else:
            w = weights.to(dtype)
            w = w / w.sum(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
        w3 = w[..., None]  # (B, N, 1)

        mu_src = (w3 * src).sum(dim=1)  # (B, D)
        mu_tgt = (w3 * tgt).sum(dim=1)  # (B, D)
        x = src - mu_src[:, None]  # (B, N, D)
        y = tgt - mu_tgt[:, None]  # (B, N, D)
        var_src = (w * (x * x).sum(dim=-1)).sum(dim=1)  # (B,)
        cov = (w3 * y).transpose(1, 2) @ x  # (B, D, D) = sum_i w_i y_i x_i^T

        u, sing, vh = torch.linalg.svd(cov)  # (B, D, D), (B, D), (B, D, D)
        signs = torch.ones_like(sing)  # (B, D)
        if not allow_reflection:
            # The sign is piecewise constant, so it carries no gradient.
            det = torch.linalg.det(u @ vh).detach()  # (B,)
            signs[:, -1] = torch.where(det < 0, -1.0, 1.0).to(dtype)
        rotation = u @ (signs[..., None] * vh)  # (B, D, D) = U diag(signs) V^T
        # A source collapsed to one point has zero variance; tiny keeps the result finite
        # (scale 0, i.e. every point mapped to the target centroid) without biasing real data.
        scale = (sing * signs).sum(dim=-1) / var_src.clamp_min(torch.finfo(dtype).tiny)
        translation = mu_tgt - scale[:, None] * (rotation @ mu_src[..., None])[..., 0]
        transform = SimilarityTransform(scale, rotation, translation)
        aligned = transform.apply(src).to(source.dtype)

    if return_transform:
        return aligned, transform
    return aligned
