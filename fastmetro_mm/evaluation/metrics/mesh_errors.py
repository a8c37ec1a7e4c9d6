"""The error measures behind :class:`MeshMetric`, on one sample's point sets (numpy).

Distances are in the points' unit (metres in this project); the metric reports millimetres.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from scipy.spatial import cKDTree

from ...mesh.procrustes import similarity_procrustes


def fscore(pred: np.ndarray, gt: np.ndarray, threshold: float) -> Tuple[float, float, float]:
    """F-score of two point sets at a distance threshold (FreiHAND's definition).

    Args:
        pred: (N, 3) predicted points.
        gt: (M, 3) ground-truth points.
        threshold: Distance in the points' unit; a point counts when its nearest neighbour in
            the other set is strictly closer.

    Returns:
        ``(f, precision, recall)``: precision = fraction of predicted points near the GT set,
        recall = fraction of GT points near the predicted set, f = 2PR / (P + R) (0 if both 0).
    """
    dist_pred = cKDTree(gt).query(pred)[0]  # (N,) each predicted point to its nearest GT point
    dist_gt = cKDTree(pred).query(gt)[0]  # (M,)
    precision = float(np.mean(dist_pred < threshold))
    recall = float(np.mean(dist_gt < threshold))
    if precision + recall == 0:
        return 0.0, precision, recall
    return 2 * precision * recall / (precision + recall), precision, recall


def mean_distance(pred: np.ndarray, gt: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
    """Mean Euclidean distance over the (masked) rows of (N, 3) arrays.

    Args:
        pred: (N, 3) points.
        gt: (N, 3) points.
        mask: optional (N,) bool rows to average over; None: all.
    """
    dist = np.linalg.norm(pred - gt, axis=-1)  # (N,)
    return float(dist[mask].mean() if mask is not None else dist.mean())


def procrustes_align(pred: np.ndarray, gt: np.ndarray, weights: Optional[np.ndarray],
                     allow_reflection: bool) -> np.ndarray:
    """``pred`` moved onto ``gt`` by the best similarity transform (the PA- errors).

    Args:
        pred: (N, 3) float64 points.
        gt: (N, 3) float64 points.
        weights: optional (N,) point weights (e.g. joint visibility); None: all 1.
        allow_reflection: let the rotation be a reflection (FreiHAND's script does).

    Returns:
        (N, 3) aligned ``pred``.
    """
    w = None if weights is None else torch.from_numpy(weights.astype(np.float64))[None]
    aligned = similarity_procrustes(torch.from_numpy(pred)[None], torch.from_numpy(gt)[None],
                                    weights=w, allow_reflection=allow_reflection)
    return aligned[0].numpy()
