"""Domain classifier: can a model tell a chunk from the reference?

Per chunk, up to ``max_rows`` rows of the chunk and as many of the
reference (a seeded sample) are labelled 1 and 0, encoded with
:class:`~driftscope.monitoring.encoding.TabularEncoder`, and a
``HistGradientBoostingClassifier`` is cross-validated (stratified
``folds``-fold); the value is the mean ROC-AUC (``sklearn.metrics
.roc_auc_score`` on the out-of-fold predictions). 0.5 means
indistinguishable. The default threshold is a constant upper bound of 0.65
(NannyML's); a learned threshold (a config with another ``type``) computes
the reference chunks against the rest of the reference too, at the cost of
one more cross-validation per reference chunk. Chunks with fewer than
``folds`` rows give NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from driftscope.monitoring.base import Calculator
from driftscope.monitoring.encoding import TabularEncoder
from driftscope.monitoring.result import Result, chunk_fields
from driftscope.monitoring.thresholds import (
    ConstantThreshold,
    Threshold,
    make_threshold,
    with_bounds,
)

__all__ = ["DomainClassifierCalculator"]


class DomainClassifierCalculator(Calculator):
    """Cross-validated AUROC of reference vs chunk (``method="domain_classifier"``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"a": rng.normal(size=2000)})
    >>> new = pd.DataFrame({"a": rng.normal(2.0, 1.0, 400)})
    >>> calc = DomainClassifierCalculator(chunker={"type": "count", "chunk_number": 1})
    >>> float(calc.fit(ref).calculate(new).data["value"].iloc[0]) > 0.8
    True
    """

    def __init__(
        self,
        column_names: Sequence[str] | None = None,
        *,
        folds: int = 5,
        max_rows: int = 5000,
        column_kinds: Mapping[str, str] | None = None,
        threshold: Threshold | Mapping[str, Any] | None = None,
        chunker: Any = None,
        timestamp_column: str | None = None,
        random_state: int = 0,
    ) -> None:
        super().__init__(chunker=chunker, timestamp_column=timestamp_column)
        self.column_names = list(column_names) if column_names is not None else None
        self.folds = folds
        self.max_rows = max_rows
        self.column_kinds = dict(column_kinds or {})
        self.threshold = (
            ConstantThreshold(upper=0.65) if threshold is None else make_threshold(threshold)  # type: ignore[arg-type]
        )
        self.random_state = random_state

    def required_columns(self) -> list[str]:
        return list(self.column_names or [])

    def _fit(self, reference: pd.DataFrame) -> None:
        cols = self.column_names or [
            str(c) for c in reference.columns if c != self.timestamp_column
        ]
        self.encoder_ = TabularEncoder(cols, self.column_kinds).fit(reference)
        self.x_ref_ = self.encoder_.transform(reference)
        rows: list[dict[str, Any]] = []
        if not isinstance(self.threshold, ConstantThreshold):
            for chunk in self.chunker.split(reference):
                keep = np.ones(len(reference), dtype=bool)
                keep[chunk.positions] = False
                value = self._auroc(self.x_ref_[keep], self.x_ref_[chunk.positions])
                rows.append(self._row(chunk, value))
        self.bounds_ = self.threshold.bounds([r["value"] for r in rows], (0.0, 1.0))
        self.reference_rows_ = [self._bounded(r) for r in rows]

    def _auroc(self, ref: np.ndarray, chunk: np.ndarray) -> float:
        rng = np.random.default_rng(self.random_state)
        if len(chunk) < self.folds or len(ref) < self.folds:
            return float("nan")
        if len(chunk) > self.max_rows:
            chunk = chunk[rng.choice(len(chunk), self.max_rows, replace=False)]
        take = min(len(ref), max(len(chunk), self.folds))
        ref = ref[rng.choice(len(ref), take, replace=False)]
        x = np.vstack([ref, chunk])
        y = np.r_[np.zeros(len(ref)), np.ones(len(chunk))]
        from sklearn.ensemble import HistGradientBoostingClassifier  # lazy: import cost
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        model = HistGradientBoostingClassifier(max_iter=50, random_state=self.random_state)
        cv = StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state)
        proba = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
        return float(roc_auc_score(y, proba))

    def _row(self, chunk: Any, value: float) -> dict[str, Any]:
        return {
            **chunk_fields(chunk),
            "segment": None,
            "column": "*",
            "method": "domain_classifier",
            "metric": "auroc",
            "value": value,
        }

    def _bounded(self, row: dict[str, Any]) -> dict[str, Any]:
        return with_bounds(row, *self.bounds_)

    def _calculate(self, analysis: pd.DataFrame) -> Result:
        x = self.encoder_.transform(analysis)
        rows = []
        for chunk in self.chunker.split(analysis):
            value = self._auroc(self.x_ref_, x[chunk.positions])
            rows.append(self._bounded(self._row(chunk, value)))
        return Result(rows, reference=self.reference_rows_)
