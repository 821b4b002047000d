"""Realized and estimated performance in one call, for the Monitor and the service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
