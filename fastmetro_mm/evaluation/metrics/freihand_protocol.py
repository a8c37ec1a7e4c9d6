"""FreiHAND's official evaluation (lmb-freiburg/freihand ``eval.py``): alignment and PCK AUC.

The dataset's script aligns each predicted point set to its ground truth with a similarity
transform whose orthogonal factor may be a REFLECTION (scipy's ``orthogonal_procrustes``, no
determinant correction); joints and vertices are aligned each on their own. It reports the
mean aligned distance and the area under the PCK curve over 100 thresholds from 0 to 50 mm
(trapezoid rule, normalised by the range), per keypoint over the samples, then averaged over
the keypoints. With every point visible (FreiHAND annotates all 21 joints and 778 vertices)
that equals the mean over samples of the per-sample values computed here, because the
mean, the PCK fraction and the trapezoid rule are all linear: per-sample values keep
:class:`MeshMetric` exact under any number of processes.
"""
from __future__ import annotations

import numpy as np

#: The PCK curve's range (metres) and number of thresholds in FreiHAND's ``eval.py``.
AUC_MIN_THRESHOLD = 0.0
AUC_MAX_THRESHOLD = 0.05
AUC_STEPS = 100
#: Added to each point set's norm before dividing by it, as the official alignment does
#: (so a collapsed set stays finite); it changes results by ~1e-8 relative.
NORM_EPSILON = 1e-8


def freihand_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``pred`` moved onto ``gt`` exactly as FreiHAND's ``align_w_scale``.

    Both sets are centred and scaled to unit Frobenius norm (plus :data:`NORM_EPSILON`); the
    orthogonal matrix ``R = U V^T`` from the SVD ``U S V^T`` of ``gt_n^T pred_n`` (a rotation
    or a reflection) and the scale ``sum(S)`` map ``pred_n`` onto ``gt_n``; the result is put
    back at the scale and centroid of ``gt``.

    Args:
        pred: (N, 3) predicted points (any unit; metres here).
        gt: (N, 3) ground-truth points, same order.

    Returns:
        (N, 3) float64 aligned ``pred``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(f'freihand_align: pred and gt must both have shape (N, 3); got '
                         f'{pred.shape} and {gt.shape}')
    gt_centre, pred_centre = gt.mean(axis=0), pred.mean(axis=0)  # (3,)
    gt_norm = np.linalg.norm(gt - gt_centre) + NORM_EPSILON
    pred_norm = np.linalg.norm(pred - pred_centre) + NORM_EPSILON
    gt_unit = (gt - gt_centre) / gt_norm  # (N, 3)
    pred_unit = (pred - pred_centre) / pred_norm  # (N, 3)
    # argmin_R |gt_unit R - pred_unit| over orthogonal R (reflections included): R = U V^T.
    u, singular, vt = np.linalg.svd(gt_unit.T @ pred_unit)  # (3, 3), (3,), (3, 3)
    rotation = u @ vt
    # pred_unit R^T approximates gt_unit; sum(S) is the best scale between the unit sets.
    return (pred_unit @ rotation.T) * singular.sum() * gt_norm + gt_centre


def pck_thresholds() -> np.ndarray:
    """(AUC_STEPS,) thresholds of FreiHAND's PCK curve in metres, 0 to 0.05 inclusive."""
    return np.linspace(AUC_MIN_THRESHOLD, AUC_MAX_THRESHOLD, AUC_STEPS)


def pck_auc(distances: np.ndarray) -> float:
    """Normalised area under one sample's PCK curve on FreiHAND's thresholds.

    Args:
        distances: (N,) point errors in metres (after alignment for the PA curves).

    Returns:
        AUC in [0, 1]: the trapezoid integral of ``pck(t) = mean(distances <= t)`` (a point
        exactly at a threshold counts, as in the official ``EvalUtil``) over
        :func:`pck_thresholds`, divided by the range's length.
    """
    thresholds = pck_thresholds()
    distances = np.asarray(distances, dtype=np.float64).reshape(-1)
    pck = (distances[None, :] <= thresholds[:, None]).mean(axis=1)  # (AUC_STEPS,)
    # Normalised by the trapezoid integral of 1, as the official script does.
    return _trapezoid(pck, thresholds) / _trapezoid(np.ones_like(thresholds), thresholds)


def _trapezoid(values: np.ndarray, x: np.ndarray) -> float:
    """Trapezoid-rule integral of (S,) ``values`` over (S,) ``x`` (numpy's ``trapz``).

    Written out because numpy renames ``trapz`` to ``trapezoid`` across 1.x and 2.x.
    """
    return float((np.diff(x) * (values[1:] + values[:-1]) / 2.0).sum())
