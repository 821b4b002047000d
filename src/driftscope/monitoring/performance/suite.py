"""Realized and estimated performance in one call, and the two side by side.

In a results table, estimated and realized performance are separate rows
with the same ``chunk_key`` and ``metric`` and a different ``method``
(``realized`` beside ``cbpe`` or ``dle``). :func:`estimated_vs_realized`
joins them into one row per estimated value, so a user sees how good the
estimate is wherever labels exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from driftscope.monitoring.performance.cbpe import CBPE
from driftscope.monitoring.performance.dle import DLE
from driftscope.monitoring.performance.realized import RealizedPerformance
from driftscope.monitoring.result import Result


def performance_result(
    reference: Any,
    analysis: Any,
    *,
    task: str,
    y_true: str,
    y_pred: str,
    y_score: str | Mapping[Any, str] | None = None,
    features: Sequence[str] | None = None,
    estimate: bool = True,
    **kwargs: Any,
) -> Result:
    """Realized performance plus, where it applies, its estimate (CBPE or DLE).

    Classification is estimated with CBPE when scores are given; regression
    with DLE when ``features`` are given. ``kwargs`` go to every calculator
    (metrics, chunker, thresholds, label_delay ...). The analysis may lack the
    target column: realized rows are then NaN with zero label coverage.
    """
    common = {"task": task, "y_true": y_true, "y_pred": y_pred, "y_score": y_score, **kwargs}
    results = [RealizedPerformance(**common).fit(reference).calculate(analysis)]
    if estimate and task != "regression" and y_score is not None:
        results.append(CBPE(**common).fit(reference).calculate(analysis))
    elif estimate and task == "regression" and features:
        results.append(DLE(features=features, **common).fit(reference).calculate(analysis))
    return Result.concat(results)


_ESTIMATED = ("cbpe", "dle")
BESIDE_COLUMNS = [
    "chunk_index",
    "chunk_key",
    "chunk_start",
    "chunk_end",
    "column",
    "metric",
    "method",
    "estimated",
    "lower_confidence",
    "upper_confidence",
    "realized",
    "n_labeled",
    "label_coverage",
    "label_pending",
    "difference",
    "within_band",
]


def estimated_vs_realized(
    result: Result | pd.DataFrame, *, reference: bool = False
) -> pd.DataFrame:
    """Estimated values beside the realized ones of the same chunk and metric.

    One row per estimated (CBPE or DLE) value, with the realized value of the
    same chunk, its label coverage and pending flag, ``difference`` (estimated
    minus realized) and ``within_band`` (the realized value lies inside the
    estimate's confidence band). Where no label exists yet, ``realized``,
    ``difference`` are NaN and ``within_band`` is missing (``pd.NA``).

    Parameters
    ----------
    result : a :class:`Result` holding both methods, e.g. from :func:`performance_result`.
    reference : compare the reference chunks instead of the analysis chunks.
    """
    if isinstance(result, Result):
        data = result.reference if reference else result.data
    else:
        data = result
    keys = ["chunk_key", "column", "metric"]
    est = data[data["method"].isin(_ESTIMATED)]
    real = data[data["method"] == RealizedPerformance.method]
    real = real[[*keys, "value", "n_labeled", "label_coverage", "label_pending"]].rename(
        columns={"value": "realized"}
    )
    merged = est.drop(
        columns=[c for c in ("n_labeled", "label_coverage", "label_pending") if c in est]
    ).merge(real, on=keys, how="left")
    merged = merged.rename(columns={"value": "estimated"})
    merged["difference"] = merged["estimated"] - merged["realized"]
    known = merged["realized"].notna() & merged["estimated"].notna()
    inside = (merged["realized"] >= merged["lower_confidence"]) & (
        merged["realized"] <= merged["upper_confidence"]
    )
    merged["within_band"] = pd.Series(
        np.where(known, inside, pd.NA), index=merged.index, dtype="boolean"
    )
    merged["n_labeled"] = merged["n_labeled"].fillna(0).astype("int64")
    merged["label_pending"] = merged["label_pending"].fillna(False).astype(bool)
    out = merged[BESIDE_COLUMNS].sort_values(["method", "metric", "chunk_index"])
    return out.reset_index(drop=True)
