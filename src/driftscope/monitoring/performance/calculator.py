"""The calculator template shared by realized, CBPE and DLE performance.

Built on the engine's :class:`~driftscope.monitoring.base.Calculator`:
``fit(reference)`` validates a labeled reference, learns the method's state
(``_fit_method``), computes the realized metric on every reference chunk and
learns the expected-performance bounds from those values (per metric: a
user threshold, else ``threshold``, by default NannyML's mean +/- 3 std).
``calculate(analysis)`` returns a :class:`~driftscope.monitoring.result.Result`
whose ``reference`` table holds the method's values on the reference chunks.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from driftscope.errors import MonitoringError, ValidationError
from driftscope.monitoring.base import Calculator, require_columns
from driftscope.monitoring.chunking import Chunk, chunker_from_options
from driftscope.monitoring.performance.base import Bounds, make_row, value_limits
from driftscope.monitoring.performance.classification import (
    classification_metrics,
    confusion_matrix,
)
from driftscope.monitoring.performance.regression import regression_metrics
from driftscope.monitoring.result import Result
from driftscope.monitoring.thresholds import ConstantThreshold, Threshold, make_threshold

TASKS = ("binary_classification", "multiclass_classification", "regression")
_CLASSIFICATION = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy"]
DEFAULT_METRICS = {
    "binary_classification": _CLASSIFICATION,
    "multiclass_classification": _CLASSIFICATION,
    "regression": ["mae", "mse", "rmse", "mape"],
}
ThresholdSpec = Threshold | Mapping[str, Any] | tuple[float | None, float | None]


def as_threshold(spec: ThresholdSpec | None) -> Threshold:
    """A threshold from a Threshold, a config dict, a ``(lower, upper)`` pair, or None (std 3)."""
    if isinstance(spec, tuple):
        return ConstantThreshold(*spec)
    return make_threshold(dict(spec) if isinstance(spec, Mapping) else spec)


class PerformanceCalculatorBase(Calculator):
    """Shared parameters of the performance calculators.

    Parameters
    ----------
    task : ``binary_classification``, ``multiclass_classification`` or ``regression``.
    y_true, y_pred : target and prediction columns.
    y_score : classification scores: one column (binary: the positive class's
        score) or a mapping class -> column.
    classes : the task's classes (default: the score mapping's keys, else the
        sorted values seen in the reference).
    positive_class : binary: the class bare metric names refer to (default: the last class).
    metrics : metric names (default per task); ``confusion_matrix`` adds one row
        per cell, metric ``cm[<true>,<predicted>]`` (classification only).
    chunker, timestamp_column : the engine's chunking; or one of ``chunk_size``,
        ``chunk_number``, ``chunk_period`` as a shortcut.
    thresholds : per metric, a Threshold, a config dict or a ``(lower, upper)``
        pair (``None`` = unbounded on that side); ``label_coverage`` has no
        bounds unless set here.
    threshold : for the other metrics (default: mean +/- 3 std of the reference chunks).
    confidence_z : width of the sampling-error band in standard errors.
    label_delay, now : chunks whose newest row is younger than ``label_delay``
        at ``now`` (default: the newest timestamp) have no realized value yet.
    """

    method: ClassVar[str]

    def __init__(
        self,
        *,
        task: str,
        y_true: str,
        y_pred: str,
        y_score: str | Mapping[Any, str] | None = None,
        classes: Sequence[Any] | None = None,
        positive_class: Any = None,
        metrics: Sequence[str] | None = None,
        chunker: Any = None,
        timestamp_column: str | None = None,
        chunk_size: int | None = None,
        chunk_number: int | None = None,
        chunk_period: str | None = None,
        thresholds: Mapping[str, ThresholdSpec] | None = None,
        threshold: ThresholdSpec | None = None,
        confidence_z: float = 3.0,
        label_delay: timedelta | None = None,
        now: datetime | None = None,
        seed: int = 0,
    ) -> None:
        if chunker is None and (chunk_size or chunk_number or chunk_period):
            chunker = chunker_from_options(
                chunk_size=chunk_size,
                chunks=chunk_number,
                chunk_period=chunk_period,
                timestamp_column=timestamp_column,
            )
        super().__init__(chunker=chunker, timestamp_column=timestamp_column)
        if task not in TASKS:
            raise ValidationError(f"task must be one of {TASKS}, not {task!r}")
        self.task = task
        self.y_true, self.y_pred, self.y_score = y_true, y_pred, y_score
        self.classes = list(classes) if classes is not None else None
        self.positive_class = positive_class
        chosen = list(metrics) if metrics is not None else list(DEFAULT_METRICS[task])
        self.confusion = "confusion_matrix" in chosen
        if self.confusion and task == "regression":
            raise ValidationError("confusion_matrix needs a classification task")
        self.metrics = [m for m in chosen if m != "confusion_matrix"]
        self.thresholds = {m: as_threshold(t) for m, t in (thresholds or {}).items()}
        unknown = sorted(set(self.thresholds) - {*self.metrics, "label_coverage"})
        if unknown:
            raise ValidationError(
                f"thresholds for {unknown}, which are not computed: {self.metrics}"
            )
        self.threshold = as_threshold(threshold)
        self.confidence_z = confidence_z
        self.label_delay, self.now = label_delay, now
        self.seed = seed
        self.bounds: dict[str, Bounds] = {}
        self.cell_share: np.ndarray | None = None
        self._reference_rows: list[dict[str, Any]] = []

    # -- columns ---------------------------------------------------------------------------

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    def score_columns(self) -> list[str]:
        if self.y_score is None:
            return []
        if isinstance(self.y_score, str):
            return [self.y_score]
        keys = self.classes if self.classes is not None else list(self.y_score)
        return [self.y_score[c] for c in keys]

    def required_columns(self) -> list[str]:
        return [self.y_pred, *self.score_columns()]

    def _classes(self) -> list[Any]:
        if self.classes is None:
            raise MonitoringError("the calculator is not fitted")
        return self.classes

    def _infer_classes(self, ref: pd.DataFrame) -> None:
        if not self.is_classification or self.classes is not None:
            return
        if isinstance(self.y_score, Mapping):
            self.classes = list(self.y_score)
            return
        seen = pd.concat([ref[self.y_true].dropna(), ref[self.y_pred].dropna()]).unique()
        self.classes = sorted(seen.tolist())
        if self.task == "binary_classification" and len(self.classes) != 2:
            raise MonitoringError(
                f"a binary task needs two classes, the reference has {self.classes}"
            )

    def scores(self, frame: pd.DataFrame) -> np.ndarray | None:
        cols = self.score_columns()
        if not cols:
            return None
        values = frame[cols].to_numpy(dtype=np.float64)
        return values[:, 0] if isinstance(self.y_score, str) else values

    def realized(self, frame: pd.DataFrame) -> dict[str, float]:
        """Realized metrics on the labeled rows of ``frame``."""
        labeled = frame[frame[self.y_true].notna()]
        if labeled.empty:
            return {m: float("nan") for m in self.metrics}
        if not self.is_classification:
            return regression_metrics(
                labeled[self.y_true], labeled[self.y_pred], metrics=self.metrics
            )
        return classification_metrics(
            labeled[self.y_true].to_numpy(),
            labeled[self.y_pred].to_numpy(),
            self.scores(labeled),
            classes=self._classes(),
            metrics=self.metrics,
            positive_class=self.positive_class,
        )

    def confusion_rows(
        self,
        chunk: Chunk,
        cm: np.ndarray | None,
        n_labeled: int,
        pending: bool = False,
        *,
        n_rows: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows ``cm[<true>,<predicted>]`` (counts; expected counts for CBPE), no bounds.

        The sampling error of a cell's count over ``n_rows`` rows (default
        ``n_labeled``) is ``sqrt(n_rows * q (1 - q))``, with ``q`` the cell's
        share of the labeled reference, so the band is the count's binomial
        spread at the reference's rates.
        """
        if not self.confusion:
            return []
        classes = self._classes()
        n = n_labeled if n_rows is None else n_rows
        share = self.cell_share
        return [
            make_row(
                chunk,
                column=self.y_true,
                method=self.method,
                metric=f"cm[{t},{p}]",
                value=float("nan") if cm is None else float(cm[i, j]),
                bounds=(None, None),
                n_labeled=n_labeled,
                se=float(np.sqrt(n * share[i, j] * (1.0 - share[i, j])))
                if share is not None and n > 0
                else float("nan"),
                z=self.confidence_z,
                pending=pending,
            )
            for i, t in enumerate(classes)
            for j, p in enumerate(classes)
        ]

    def bounds_for(self, metric: str) -> Bounds:
        return self.bounds.get(metric, (None, None))

    # -- template --------------------------------------------------------------------------

    def _fit(self, reference: pd.DataFrame) -> None:
        require_columns(reference, [self.y_true], what="reference")
        self._infer_classes(reference)
        labeled = reference[reference[self.y_true].notna()].reset_index(drop=True)
        if len(labeled) < 2:
            raise MonitoringError("the reference needs labeled rows")
        if self.positive_class is None and self.task == "binary_classification":
            self.positive_class = self._classes()[-1]
        self.cell_share = None
        if self.confusion:
            cm = confusion_matrix(
                labeled[self.y_true].to_numpy(), labeled[self.y_pred].to_numpy(), self._classes()
            )
            self.cell_share = cm / cm.sum()
        self._fit_method(labeled)
        chunks = self.chunker.split(labeled)
        # Only the columns the metrics read: slicing every feature column per chunk costs more.
        needed = list(dict.fromkeys([self.y_true, self.y_pred, *self.score_columns()]))
        metric_frame = labeled[needed]
        per_chunk = [self.realized(metric_frame.iloc[c.positions]) for c in chunks]
        self.bounds = {}
        for m in self.metrics:
            values = [v[m] for v in per_chunk]
            self.bounds[m] = self.thresholds.get(m, self.threshold).bounds(values, value_limits(m))
        if "label_coverage" in self.thresholds:
            self.bounds["label_coverage"] = self.thresholds["label_coverage"].bounds([], (0.0, 1.0))
        self._reference_rows = self._rows(labeled, chunks, reference=True)

    def _calculate(self, analysis: pd.DataFrame) -> Result:
        rows = self._rows(analysis, self.chunker.split(analysis))
        return Result(rows, reference=self._reference_rows)

    def n_labeled(self, frame: pd.DataFrame, chunk: Chunk) -> int:
        if self.y_true not in frame.columns:
            return 0
        return int(frame[self.y_true].iloc[chunk.positions].notna().sum())

    @abstractmethod
    def _fit_method(self, reference: pd.DataFrame) -> None:
        """Learn the method's own state from the labeled reference rows."""

    @abstractmethod
    def _rows(
        self, frame: pd.DataFrame, chunks: list[Chunk], *, reference: bool = False
    ) -> list[dict[str, Any]]:
        """Result rows for the given chunks of ``frame`` (``reference``: the reference table)."""
