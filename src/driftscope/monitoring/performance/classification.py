"""Classification metrics over NumPy arrays, equal to scikit-learn's on the same data.

Every label-based metric is computed from one confusion matrix, so realized
performance (counted from labels) and CBPE (an *expected* confusion matrix)
go through the same code. Metric names follow one rule: ``base`` or
``base_<average>`` with ``average`` in ``macro``, ``micro``, ``weighted``; the
bare name means the positive class for binary tasks and the macro average
for multiclass tasks.

Definitions where scikit-learn has a choice to make:

- precision, recall, F1 and specificity with an empty denominator take
  ``zero_division`` (0.0 by default, scikit-learn's value);
- ``pr_auc`` is average precision (scikit-learn's ``average_precision_score``,
  a step-wise sum, not a trapezoid);
- ``roc_auc`` for multiclass is one-vs-rest (``multi_class="ovr"``);
- ``calibration_error`` is the expected calibration error over ``n_bins``
  equal-width bins of the positive-class score (binary) or of the top-label
  confidence (multiclass), weighted by the bin counts;
- ``log_loss`` clips probabilities to ``[eps, 1 - eps]`` like scikit-learn;
- ROC-AUC of a chunk holding a single class, and PR-AUC of a chunk without
  positives, are NaN (scikit-learn raises or warns there); NaN never alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from driftscope.errors import MonitoringError

AVERAGES = ("macro", "micro", "weighted")
LABEL_METRICS = ("accuracy", "precision", "recall", "f1", "specificity")
SCORE_METRICS = ("roc_auc", "pr_auc", "log_loss", "calibration_error")

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def split_metric(name: str) -> tuple[str, str | None]:
    """``"f1_macro"`` -> ``("f1", "macro")``; ``"f1"`` -> ``("f1", None)``."""
    base, _, avg = name.rpartition("_")
    if avg in AVERAGES and base:
        return base, avg
    return name, None


def label_indices(y: Any, classes: Sequence[Any]) -> np.ndarray:
    """Map labels to positions in ``classes``; raise on a label not in ``classes``."""
    arr = np.asarray(y)
    cls = np.asarray(list(classes))
    order = np.argsort(cls, kind="stable")
    pos = np.searchsorted(cls[order], arr)
    pos = np.clip(pos, 0, len(cls) - 1)
    idx = order[pos]
    bad = cls[idx] != arr
    if np.any(bad):
        unknown = sorted({str(v) for v in arr[bad][:5]})
        raise MonitoringError(f"labels {unknown} are not among the classes {list(classes)}")
    return idx


def confusion_matrix(y_true: Any, y_pred: Any, classes: Sequence[Any]) -> FloatArray:
    """Counts with true classes in rows and predicted classes in columns."""
    k = len(classes)
    t = label_indices(y_true, classes)
    p = label_indices(y_pred, classes)
    counts = np.bincount(t * k + p, minlength=k * k)
    return counts.reshape(k, k).astype(np.float64)


def _ratio(num: FloatArray, den: FloatArray, zero_division: float) -> FloatArray:
    out = np.full(num.shape, zero_division, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def metrics_from_confusion(
    cm: FloatArray,
    names: Sequence[str],
    *,
    positive: int | None = None,
    zero_division: float = 0.0,
) -> dict[str, float]:
    """Label metrics from a (possibly expected, non-integer) confusion matrix.

    Parameters
    ----------
    cm : array of shape (k, k)
        True classes in rows, predicted classes in columns.
    names : metric names, e.g. ``["accuracy", "f1", "recall_weighted"]``.
    positive : index of the positive class for the bare names of a binary task;
        ``None`` makes the bare names macro averages.
    zero_division : value of a ratio whose denominator is zero.
    """
    n = cm.sum()
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    tn = n - tp - fp - fn
    support = tp + fn
    per_class = {
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "f1": (2 * tp, 2 * tp + fp + fn),
    }
    out: dict[str, float] = {}
    for name in names:
        base, avg = split_metric(name)
        if base == "accuracy":
            out[name] = float(tp.sum() / n) if n > 0 else float("nan")
            continue
        if base not in per_class:
            raise MonitoringError(f"unknown label metric {name!r}; valid: {LABEL_METRICS}")
        num, den = per_class[base]
        if avg is None and positive is not None:
            out[name] = float(
                _ratio(num[positive : positive + 1], den[positive : positive + 1], zero_division)[0]
            )
        elif avg == "micro":
            out[name] = float(
                _ratio(np.array([num.sum()]), np.array([den.sum()]), zero_division)[0]
            )
        elif avg == "weighted":
            vals = _ratio(num, den, zero_division)
            total = support.sum()
            out[name] = float((vals * support).sum() / total) if total > 0 else float("nan")
        else:
            out[name] = float(_ratio(num, den, zero_division).mean())
    return out


def binary_roc_auc(y: FloatArray, score: FloatArray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count one half); ``y`` may be fractional.

    With 0/1 labels this equals scikit-learn's ``roc_auc_score``; with expected
    labels (probabilities) it is the expected-curve AUC CBPE uses.
    """
    order = np.argsort(-score, kind="mergesort")
    s = score[order]
    pos = y[order]
    neg = 1.0 - pos
    # Group tied scores: the curve moves diagonally across a tie group.
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(pos)[last]
    fps = np.cumsum(neg)[last]
    p_total, n_total = tps[-1] if len(tps) else 0.0, fps[-1] if len(fps) else 0.0
    if p_total <= 0 or n_total <= 0:
        return float("nan")
    tpr = np.r_[0.0, tps / p_total]
    fpr = np.r_[0.0, fps / n_total]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def binary_average_precision(y: FloatArray, score: FloatArray) -> float:
    """Average precision (step-wise), equal to scikit-learn's ``average_precision_score``."""
    order = np.argsort(-score, kind="mergesort")
    s = score[order]
    pos = y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(pos)[last]
    fps = np.cumsum(1.0 - pos)[last]
    total = tps[-1] if len(tps) else 0.0
    if total <= 0:
        return float("nan")
    precision = tps / (tps + fps)
    recall = tps / total
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def log_loss(onehot: FloatArray, proba: FloatArray) -> float:
    """Mean negative log-likelihood; ``onehot`` may hold expected labels."""
    eps = np.finfo(proba.dtype).eps
    p = np.clip(proba, eps, 1 - eps)
    return float(-(onehot * np.log(p)).sum(axis=1).mean())


def calibration_error(hit: FloatArray, confidence: FloatArray, n_bins: int = 10) -> float:
    """Expected calibration error over equal-width bins of ``confidence`` in [0, 1]."""
    if len(hit) == 0:
        return float("nan")
    bins = np.clip((confidence * n_bins).astype(np.int64), 0, n_bins - 1)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    hit_sum = np.bincount(bins, weights=hit, minlength=n_bins)
    return float(np.abs(hit_sum - conf_sum).sum() / len(hit))


def proba_matrix(y_score: Any, n_classes: int) -> FloatArray:
    """Scores as an (n, k) matrix; a 1-d binary score is the positive (second) class."""
    s = np.asarray(y_score, dtype=np.float64)
    if s.ndim == 1:
        if n_classes != 2:
            raise MonitoringError("a single score column needs a binary task")
        return np.column_stack([1.0 - s, s])
    if s.shape[1] != n_classes:
        raise MonitoringError(f"{s.shape[1]} score columns for {n_classes} classes")
    return s


def score_metrics(
    onehot: FloatArray,
    proba: FloatArray,
    names: Sequence[str],
    *,
    positive: int | None = None,
    n_bins: int = 10,
    rank_score: FloatArray | None = None,
) -> dict[str, float]:
    """Score metrics from (expected) one-hot labels and class scores.

    ``rank_score`` (same shape as ``proba``) orders the rows for ROC-AUC and
    PR-AUC when it differs from ``proba`` (CBPE ranks by the raw score).
    """
    rank = proba if rank_score is None else rank_score
    k = proba.shape[1]
    out: dict[str, float] = {}
    support = onehot.sum(axis=0)
    for name in names:
        base, avg = split_metric(name)
        if base in ("roc_auc", "pr_auc"):
            fn = binary_roc_auc if base == "roc_auc" else binary_average_precision
            if avg is None and positive is not None:
                out[name] = fn(onehot[:, positive], rank[:, positive])
                continue
            if avg == "micro":
                out[name] = fn(onehot.ravel(), rank.ravel())
                continue
            vals = np.array([fn(onehot[:, c], rank[:, c]) for c in range(k)])
            if avg == "weighted":
                ok = ~np.isnan(vals)
                w = support[ok]
                out[name] = float((vals[ok] * w).sum() / w.sum()) if w.sum() > 0 else float("nan")
            else:
                out[name] = float(np.mean(vals))
        elif base == "log_loss":
            out[name] = log_loss(onehot, proba)
        elif base == "calibration_error":
            if positive is not None and k == 2:
                out[name] = calibration_error(onehot[:, positive], proba[:, positive], n_bins)
            else:
                top = proba.argmax(axis=1)
                rows = np.arange(len(top))
                out[name] = calibration_error(onehot[rows, top], proba[rows, top], n_bins)
        else:
            raise MonitoringError(f"unknown score metric {name!r}; valid: {SCORE_METRICS}")
    return out


def classification_metrics(
    y_true: Any,
    y_pred: Any,
    y_score: Any = None,
    *,
    classes: Sequence[Any],
    metrics: Sequence[str] = ("accuracy", "precision", "recall", "f1", "specificity", "roc_auc"),
    positive_class: Any = None,
    zero_division: float = 0.0,
    n_bins: int = 10,
) -> dict[str, float]:
    """Realized classification metrics for one chunk.

    Parameters
    ----------
    y_true, y_pred : labels, values among ``classes``.
    y_score : positive-class scores of shape (n,) (binary) or class scores of
        shape (n, k) in the order of ``classes``; needed by score metrics only.
    classes : all classes of the task, in score-column order.
    metrics : metric names (see the module docstring).
    positive_class : binary tasks: the class the bare metric names refer to
        (default: the last of ``classes``).

    Examples
    --------
    >>> classification_metrics(
    ...     [0, 1, 1, 0], [0, 1, 0, 0], classes=[0, 1], metrics=["accuracy", "f1"]
    ... )
    {'accuracy': 0.75, 'f1': 0.6666666666666666}
    """
    classes = list(classes)
    k = len(classes)
    if k < 2:
        raise MonitoringError("a classification task needs at least two classes")
    positive = None
    if k == 2:
        positive = classes.index(positive_class) if positive_class is not None else 1
    label_names = [m for m in metrics if split_metric(m)[0] in LABEL_METRICS]
    score_names = [m for m in metrics if split_metric(m)[0] not in LABEL_METRICS]
    out: dict[str, float] = {}
    if label_names:
        cm = confusion_matrix(y_true, y_pred, classes)
        out.update(
            metrics_from_confusion(cm, label_names, positive=positive, zero_division=zero_division)
        )
    if score_names:
        if y_score is None:
            raise MonitoringError(f"metrics {score_names} need the model's scores")
        proba = proba_matrix(y_score, k)
        onehot = np.eye(k)[label_indices(y_true, classes)]
        out.update(score_metrics(onehot, proba, score_names, positive=positive, n_bins=n_bins))
    return {m: out[m] for m in metrics}
