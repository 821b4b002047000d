"""Regression metrics over NumPy arrays, equal to scikit-learn's on the same data.

``mape`` is a fraction (0.1 = 10 %), with scikit-learn's guard against a zero
target: the denominator is ``max(|y|, eps)``. ``r2`` of a constant target is
1.0 for a perfect prediction and 0.0 otherwise (scikit-learn's
``force_finite``); every metric of an empty chunk is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from driftscope.errors import MonitoringError

REGRESSION_METRICS = ("mae", "mse", "rmse", "mape", "medae", "r2")

_EPS = float(np.finfo(np.float64).eps)


def row_errors(kind: str, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-row error whose mean is the metric.

    ``kind`` is ``absolute``, ``squared`` or ``absolute_percentage``.
    """
    diff = y_pred - y_true
    if kind == "absolute":
        return np.abs(diff)
    if kind == "squared":
        return diff * diff
    if kind == "absolute_percentage":
        return np.abs(diff) / np.maximum(np.abs(y_true), _EPS)
    raise MonitoringError(f"unknown error kind {kind!r}")


def regression_metrics(
    y_true: Any,
    y_pred: Any,
    *,
    metrics: Sequence[str] = REGRESSION_METRICS,
) -> dict[str, float]:
    """Realized regression metrics for one chunk.

    Examples
    --------
    >>> regression_metrics([1.0, 2.0, 4.0], [1.0, 3.0, 2.0], metrics=["mae", "rmse"])
    {'mae': 1.0, 'rmse': 1.2909944487358056}
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise MonitoringError(f"target has shape {t.shape}, prediction {p.shape}")
    out: dict[str, float] = {}
    n = len(t)
    for name in metrics:
        if name not in REGRESSION_METRICS:
            raise MonitoringError(
                f"unknown regression metric {name!r}; valid: {REGRESSION_METRICS}"
            )
        if n == 0:
            out[name] = float("nan")
        elif name == "mae":
            out[name] = float(row_errors("absolute", t, p).mean())
        elif name == "mse":
            out[name] = float(row_errors("squared", t, p).mean())
        elif name == "rmse":
            out[name] = float(np.sqrt(row_errors("squared", t, p).mean()))
        elif name == "mape":
            out[name] = float(row_errors("absolute_percentage", t, p).mean())
        elif name == "medae":
            out[name] = float(np.median(np.abs(p - t)))
        else:
            ss_res = float(((t - p) ** 2).sum())
            ss_tot = float(((t - t.mean()) ** 2).sum())
            if ss_tot == 0.0:
                out[name] = 1.0 if ss_res == 0.0 else 0.0
            else:
                out[name] = 1.0 - ss_res / ss_tot
    return out
