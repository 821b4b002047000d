"""Rows of the performance results table, metric ranges and the label-delay rule.

Performance rows carry the engine's result columns (see
:mod:`driftscope.monitoring.result`) plus these:

- ``n_labeled`` and ``label_coverage``: rows with a target in the chunk;
- ``sampling_error``: the reference's standard error at the chunk's size
  (labeled rows for realized values, all rows for estimates);
- ``lower_confidence`` / ``upper_confidence``: value +/- ``confidence_z``
  sampling errors (NannyML's band, 3 by default);
- ``label_pending``: the chunk is younger than the label delay, so its
  realized value is not known yet (NaN, never an alert).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from driftscope.errors import ValidationError
from driftscope.monitoring.chunking import Chunk
from driftscope.monitoring.result import chunk_fields
from driftscope.monitoring.thresholds import alerts

EXTRA_COLUMNS = [
    "n_labeled",
    "label_coverage",
    "sampling_error",
    "lower_confidence",
    "upper_confidence",
    "label_pending",
]
_NON_NEGATIVE = ("mae", "mse", "rmse", "mape", "medae", "log_loss")

Bounds = tuple[float | None, float | None]


def value_limits(metric: str) -> Bounds:
    """The range a metric's value can take (bounds at or past it are dropped)."""
    if metric == "r2":
        return (None, 1.0)
    if metric.split("_")[0] in _NON_NEGATIVE or metric in _NON_NEGATIVE:
        return (0.0, None)
    return (0.0, 1.0)


def pending_chunks(
    chunks: Sequence[Chunk],
    label_delay: timedelta | None,
    now: datetime | None,
    ts: pd.Series | None,
) -> set[int]:
    """Chunks whose newest row is younger than ``label_delay`` at ``now`` (default: newest row)."""
    if label_delay is None:
        return set()
    if ts is None:
        raise ValidationError("label_delay needs a timestamp_column")
    newest = ts.max() if now is None else pd.Timestamp(now)
    if newest.tzinfo is not None:
        newest = newest.tz_convert(None)
    cutoff = newest - pd.Timedelta(label_delay)
    return {c.index for c in chunks if len(c) and ts.iloc[c.positions].max() > cutoff}


def make_row(
    chunk: Chunk,
    *,
    column: str,
    method: str,
    metric: str,
    value: float,
    bounds: Bounds,
    n_labeled: int,
    se: float,
    z: float,
    pending: bool = False,
) -> dict[str, Any]:
    """One result row; ``alert`` follows the engine's rule (NaN never alerts)."""
    lo, hi = bounds
    finite = bool(np.isfinite(value))
    n = len(chunk)
    return {
        **chunk_fields(chunk),
        "segment": None,
        "column": column,
        "method": method,
        "metric": metric,
        "value": float(value),
        "p_value": float("nan"),
        "lower_threshold": np.nan if lo is None else lo,
        "upper_threshold": np.nan if hi is None else hi,
        "alert": bool(alerts([value], lo, hi)[0]),
        "n_labeled": int(n_labeled),
        "label_coverage": n_labeled / n if n else float("nan"),
        "sampling_error": se,
        "lower_confidence": value - z * se if finite else float("nan"),
        "upper_confidence": value + z * se if finite else float("nan"),
        "label_pending": pending,
    }
