"""Sampling error of performance metrics, learned once from the reference.

As in NannyML, the standard error of a metric on a chunk of ``n`` rows is
taken from the reference: every formula here has the shape
``se(n) = sqrt(A / n)`` and :class:`SamplingError` keeps one coefficient
``A`` per metric.

- Means of a per-row quantity (accuracy, MAE, MSE, MAPE, log-loss): ``A`` is
  the variance of that quantity on the reference.
- Ratios of means (precision, recall, specificity, F1 of one class): the
  delta method, ``A = var(a - r b) / mean(b)**2`` for ``r = mean(a) / mean(b)``
  (for precision, recall and specificity this is NannyML's "modified standard
  error of the mean"; for F1 it replaces NannyML's correcting factor, which
  overstates the spread by about 1.5x).
- ROC-AUC: DeLong's placement values,
  ``A = var(V10) / f + var(V01) / (1 - f)`` with ``f`` the positive fraction.
- Averages over classes (macro, weighted): the variance of the averaged
  per-row influences, so the classes' correlation counts (treating classes
  as independent understates a binary macro F1's spread by about 1.35x);
  RMSE by the delta method.
- Everything else (PR-AUC, calibration error, median absolute error, R2,
  micro specificity): a seeded bootstrap of the reference at a fixed size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata

from driftscope.monitoring.performance.classification import (
    classification_metrics,
    label_indices,
    proba_matrix,
    split_metric,
)
from driftscope.monitoring.performance.regression import regression_metrics, row_errors


@dataclass
class SamplingError:
    """Per-metric coefficients ``A`` with ``se(n) = sqrt(A / n)``."""

    coefficients: dict[str, float] = field(default_factory=dict)

    def se(self, metric: str, n: int | float) -> float:
        """Standard error of ``metric`` on a chunk of ``n`` rows (NaN when unknown or n < 1)."""
        a = self.coefficients.get(metric)
        if a is None or not np.isfinite(a) or n < 1:
            return float("nan")
        return float(np.sqrt(a / n))

    def to_dict(self) -> dict[str, float]:
        return dict(self.coefficients)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> SamplingError:
        return cls(dict(data))


def _mean_coef(values: np.ndarray) -> float:
    return float(np.var(values)) if len(values) else float("nan")


def _ratio_influence(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Per-row influence of ``mean(a) / mean(b)`` (delta method): ``(a - r b) / mean(b)``."""
    mean_b = float(b.mean()) if len(b) else 0.0
    if mean_b == 0.0:
        return None
    return (a - (float(a.mean()) / mean_b) * b) / mean_b


def _auc_influence(y: np.ndarray, score: np.ndarray) -> np.ndarray | None:
    """DeLong placement values as per-row influence (variance: var(V10)/f + var(V01)/(1-f))."""
    pos = y.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos < 2 or n_neg < 2:
        return None
    r_all = rankdata(score)
    v10 = (r_all[pos] - rankdata(score[pos])) / n_neg
    v01 = 1.0 - (r_all[~pos] - rankdata(score[~pos])) / n_pos
    f = n_pos / len(y)
    out = np.empty(len(y), dtype=np.float64)
    out[pos] = (v10 - v10.mean()) / f
    out[~pos] = (v01 - v01.mean()) / (1 - f)
    return out


def _influence(
    base: str, t: np.ndarray, p: np.ndarray, proba: np.ndarray, c: int
) -> np.ndarray | None:
    """Per-row influence of one class's metric, or None where it is undefined."""
    tc, pc = (t == c).astype(np.float64), (p == c).astype(np.float64)
    if base == "precision":
        return _ratio_influence(tc * pc, pc)
    if base == "recall":
        return _ratio_influence(tc * pc, tc)
    if base == "specificity":
        return _ratio_influence((1 - tc) * (1 - pc), 1 - tc)
    if base == "f1":
        if not (tc * pc).any():
            return None
        return _ratio_influence(2 * tc * pc, tc + pc)
    if base == "roc_auc":
        return _auc_influence(tc, proba[:, c]) if proba.size else None
    return None


def _combined_coef(
    base: str, t: np.ndarray, p: np.ndarray, proba: np.ndarray, weights: dict[int, float]
) -> float:
    """``A = var(sum_c w_c psi_c)``: classes' metrics move together, so sum before the variance."""
    total = np.zeros(len(t), dtype=np.float64)
    for c, w in weights.items():
        psi = _influence(base, t, p, proba, c)
        if psi is None:
            return float("nan")
        total += w * psi
    return float(np.var(total))


def bootstrap_coefficient(
    fn: Callable[[np.ndarray], float], n: int, *, size: int = 2000, rounds: int = 200, seed: int = 0
) -> float:
    """``A = var(f over resamples of ``size`` rows) * size``, seeded."""
    if n < 2:
        return float("nan")
    m = min(size, n)
    rng = np.random.default_rng(seed)
    vals = np.array([fn(rng.integers(0, n, m)) for _ in range(rounds)])
    vals = vals[np.isfinite(vals)]
    if len(vals) < 2:
        return float("nan")
    return float(np.var(vals, ddof=1) * m)


def classification_sampling_error(
    y_true: Any,
    y_pred: Any,
    y_score: Any,
    *,
    classes: Sequence[Any],
    metrics: Sequence[str],
    positive_class: Any = None,
    seed: int = 0,
) -> SamplingError:
    """Coefficients for classification metrics from reference labels, predictions and scores."""
    classes = list(classes)
    k = len(classes)
    t = label_indices(y_true, classes)
    p = label_indices(y_pred, classes)
    proba = proba_matrix(y_score, k) if y_score is not None else np.empty((0, 0))
    positive = None
    if k == 2:
        positive = classes.index(positive_class) if positive_class is not None else 1
    support = np.bincount(t, minlength=k) / max(len(t), 1)
    y_arr, p_arr = np.asarray(y_true), np.asarray(y_pred)
    score = proba if proba.size else None
    out: dict[str, float] = {}
    for name in metrics:
        base, avg = split_metric(name)
        if base == "accuracy" or (avg == "micro" and base in ("precision", "recall", "f1")):
            out[name] = _mean_coef((t == p).astype(float))
        elif base == "log_loss" and proba.size:
            eps = np.finfo(np.float64).eps
            out[name] = _mean_coef(-np.log(np.clip(proba[np.arange(len(t)), t], eps, 1 - eps)))
        elif base in ("precision", "recall", "specificity", "f1", "roc_auc") and avg != "micro":
            if avg is None and positive is not None:
                weights = {positive: 1.0}
            else:
                w = support if avg == "weighted" else np.full(k, 1.0 / k)
                weights = {c: float(w[c]) for c in range(k)}
            out[name] = _combined_coef(base, t, p, proba, weights)
        else:
            if base in ("roc_auc", "pr_auc", "log_loss", "calibration_error") and not proba.size:
                continue

            def fn(idx: np.ndarray, name: str = name) -> float:
                return classification_metrics(
                    y_arr[idx],
                    p_arr[idx],
                    None if score is None else score[idx],
                    classes=classes,
                    metrics=[name],
                    positive_class=positive_class,
                )[name]

            out[name] = bootstrap_coefficient(fn, len(t), seed=seed)
    return SamplingError(out)


def regression_sampling_error(
    y_true: Any, y_pred: Any, *, metrics: Sequence[str], seed: int = 0
) -> SamplingError:
    """Coefficients for regression metrics from reference targets and predictions."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    out: dict[str, float] = {}
    for name in metrics:
        if name == "mae":
            out[name] = _mean_coef(row_errors("absolute", t, p))
        elif name == "mape":
            out[name] = _mean_coef(row_errors("absolute_percentage", t, p))
        elif name in ("mse", "rmse"):
            sq = row_errors("squared", t, p)
            a = _mean_coef(sq)
            mse = float(sq.mean()) if len(sq) else float("nan")
            out[name] = a if name == "mse" else (a / (4 * mse) if mse > 0 else float("nan"))
        else:

            def fn(idx: np.ndarray, name: str = name) -> float:
                return regression_metrics(t[idx], p[idx], metrics=[name])[name]

            out[name] = bootstrap_coefficient(fn, len(t), seed=seed)
    return SamplingError(out)
