"""Prediction drift and label drift: the univariate methods on the model's outputs and target.

:class:`PredictionDrift` watches the predicted class (categorical) or value
(continuous) and the class scores (continuous); :class:`LabelDrift` watches
the target, on the rows that have one (rows without a label are left out of
each chunk's sample, so ``n`` is the labeled count). Both are the engine's
:class:`~driftscope.monitoring.drift.univariate.UnivariateDriftCalculator`
with the columns and kinds set from the task, and add a ``figure`` column
(``prediction_drift`` / ``label_drift``) to their rows so they stay apart
from feature drift in a combined result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pandas as pd

from driftscope.errors import ValidationError
from driftscope.monitoring.drift.univariate import UnivariateDriftCalculator
from driftscope.monitoring.result import Result

TASKS = ("binary_classification", "multiclass_classification", "regression")


def _check_task(task: str) -> bool:
    if task not in TASKS:
        raise ValidationError(f"task must be one of {TASKS}, not {task!r}")
    return task != "regression"


class _OutputDrift(UnivariateDriftCalculator):
    figure: ClassVar[str]

    def _calculate(self, analysis: pd.DataFrame) -> Result:
        result = super()._calculate(analysis)
        result.data["figure"] = self.figure
        result.reference["figure"] = self.figure
        return result


class PredictionDrift(_OutputDrift):
    """Drift of predictions and scores against the reference.

    Parameters
    ----------
    task : ``binary_classification``, ``multiclass_classification`` or ``regression``.
    y_pred : prediction column.
    y_score : score column, or a mapping class -> score column.
    **kwargs : passed to ``UnivariateDriftCalculator`` (methods, thresholds, chunker ...).
    """

    figure = "prediction_drift"

    def __init__(
        self,
        *,
        task: str,
        y_pred: str,
        y_score: str | Mapping[Any, str] | None = None,
        **kwargs: Any,
    ) -> None:
        classification = _check_task(task)
        scores = (
            []
            if y_score is None
            else ([y_score] if isinstance(y_score, str) else list(y_score.values()))
        )
        kinds = {y_pred: "categorical" if classification else "continuous"}
        kinds.update({s: "continuous" for s in scores})
        kinds.update(kwargs.pop("column_kinds", None) or {})
        super().__init__([y_pred, *scores], column_kinds=kinds, **kwargs)


class LabelDrift(_OutputDrift):
    """Drift of the target's distribution on labeled rows (prior shift)."""

    figure = "label_drift"

    def __init__(self, *, task: str, y_true: str, **kwargs: Any) -> None:
        kind = "categorical" if _check_task(task) else "continuous"
        kinds = {y_true: kind, **(kwargs.pop("column_kinds", None) or {})}
        super().__init__([y_true], column_kinds=kinds, **kwargs)
