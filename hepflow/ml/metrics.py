"""Weighted ROC curve and area, as physicists compute them: with event weights.

Kept here (a sort and two cumulative sums) rather than taken from
scikit-learn, so the ml extra does not need it. Tied scores form one point of
the curve, so the area does not depend on the order of tied events. Negative
weights are summed like any others (the curve can then leave [0, 1] a little,
which is the honest answer for such a sample). Bad inputs raise `PlanError`,
a `ValueError`.
"""

from __future__ import annotations

import numpy as np

from hepflow.ml.errors import PlanError


def roc_curve(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds), positives = label 1."""
    try:
        y = np.asarray(labels, dtype=np.float64).reshape(-1) > 0.5
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        w = np.ones_like(s) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise PlanError(f"labels, scores and weights must be arrays of numbers: {err}") from err
    if not (y.shape == s.shape == w.shape):
        raise PlanError(f"labels, scores and weights differ in length: {y.shape}, "
                         f"{s.shape}, {w.shape}")
    order = np.argsort(-s, kind="mergesort")
    s, y, w = s[order], y[order], w[order]
    tp = np.cumsum(np.where(y, w, 0.0))
    fp = np.cumsum(np.where(y, 0.0, w))
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1] if s.size else np.zeros(0, int)
    tp, fp, thresholds = tp[last], fp[last], s[last]
    ptot = tp[-1] if tp.size else 0.0
    ntot = fp[-1] if fp.size else 0.0
    if ptot == 0 or ntot == 0:
        raise PlanError("the ROC curve needs events of both classes (with non-zero weight)")
    fpr = np.r_[0.0, fp / ntot]
    tpr = np.r_[0.0, tp / ptot]
    return fpr, tpr, np.r_[np.inf, thresholds]


def roc_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None,
            ) -> float:
    """Weighted area under the ROC curve (binary), or the one-vs-rest mean (multi-class).

    For `scores` of shape (n, classes) with more than one column, each class
    is scored against the rest with its own column and the areas are averaged.
    """
    try:
        s = np.asarray(scores, dtype=np.float64)
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise PlanError(f"labels and scores must be arrays of numbers: {err}") from err
    if s.ndim == 2 and s.shape[1] > 1:
        y = y.astype(np.int64)
        areas = [roc_auc((y == k).astype(np.float64), s[:, k], weights)
                 for k in range(s.shape[1]) if np.any(y == k)]
        return float(np.mean(areas))
    fpr, tpr, _ = roc_curve(labels, s.reshape(-1), weights)
    return float(np.trapezoid(tpr, fpr))


__all__ = ["roc_auc", "roc_curve"]
