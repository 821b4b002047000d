"""Realized performance: metrics on the chunk's labeled rows, with label coverage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from driftscope.monitoring.base import as_pandas
from driftscope.monitoring.chunking import Chunk
from driftscope.monitoring.performance.base import make_row, pending_chunks
from driftscope.monitoring.performance.calculator import PerformanceCalculatorBase
from driftscope.monitoring.performance.classification import confusion_matrix
from driftscope.monitoring.performance.sampling_error import (
    SamplingError,
    classification_sampling_error,
    regression_sampling_error,
)


class RealizedPerformance(PerformanceCalculatorBase):
    """Realized performance per chunk (method ``realized``).

    Each metric is computed on the chunk's rows that have a target; its
    ``sampling_error`` is the reference's standard error at that many rows.
    Every chunk also gets a ``label_coverage`` row (share of rows with a
    target), alerting only on bounds the user sets, e.g.
    ``thresholds={"label_coverage": (0.5, None)}``. Chunks younger than
    ``label_delay`` get NaN values and ``label_pending`` set: not yet known,
    rather than a drop.

    Examples
    --------
    >>> import pandas as pd
    >>> ref = pd.DataFrame({"y": [0, 1] * 50, "p": [0, 1] * 25 + [1, 0] * 25})
    >>> calc = RealizedPerformance(task="binary_classification", y_true="y", y_pred="p",
    ...                            metrics=["accuracy"], chunk_size=50).fit(ref)
    >>> calc.calculate(ref).data.query("metric == 'accuracy'")["value"].tolist()
    [1.0, 0.0]
    """

    method = "realized"

    def _fit_method(self, reference: pd.DataFrame) -> None:
        t, p = reference[self.y_true].to_numpy(), reference[self.y_pred].to_numpy()
        if self.is_classification:
            self.sampling_error: SamplingError = classification_sampling_error(
                t,
                p,
                self.scores(reference),
                classes=self._classes(),
                metrics=self.metrics,
                positive_class=self.positive_class,
                seed=self.seed,
            )
        else:
            self.sampling_error = regression_sampling_error(
                t, p, metrics=self.metrics, seed=self.seed
            )

    def _rows(
        self, frame: pd.DataFrame, chunks: list[Chunk], *, reference: bool = False
    ) -> list[dict[str, Any]]:
        has_target = self.y_true in frame.columns
        ts = None
        if self.timestamp_column:
            ts = pd.to_datetime(frame[self.timestamp_column], utc=True).dt.tz_convert(None)
        delay = None if reference else self.label_delay
        pending = pending_chunks(chunks, delay, self.now, ts)
        rows: list[dict[str, Any]] = []
        for chunk in chunks:
            part = frame.iloc[chunk.positions]
            n_labeled = int(part[self.y_true].notna().sum()) if has_target else 0
            is_pending = chunk.index in pending
            if is_pending or n_labeled == 0:
                values = {m: float("nan") for m in self.metrics}
            else:
                values = self.realized(part)
            for m in self.metrics:
                rows.append(
                    make_row(
                        chunk,
                        column=self.y_true,
                        method=self.method,
                        metric=m,
                        value=values[m],
                        bounds=self.bounds_for(m),
                        n_labeled=n_labeled,
                        se=self.sampling_error.se(m, n_labeled),
                        z=self.confidence_z,
                        pending=is_pending,
                    )
                )
            coverage = n_labeled / len(chunk) if len(chunk) else float("nan")
            rows.append(
                make_row(
                    chunk,
                    column=self.y_true,
                    method=self.method,
                    metric="label_coverage",
                    value=coverage,
                    bounds=self.bounds_for("label_coverage"),
                    n_labeled=n_labeled,
                    se=float("nan"),
                    z=self.confidence_z,
                    pending=is_pending,
                )
            )
            if self.confusion:
                known = not is_pending and n_labeled > 0
                cm = self.confusion_matrix(part) if known else None
                rows.extend(self.confusion_rows(chunk, cm, n_labeled, is_pending))
        return rows

    def confusion_matrix(self, frame: Any) -> np.ndarray:
        """Counts of the labeled rows of ``frame``, true classes in rows."""
        df = as_pandas(frame)
        df = df[df[self.y_true].notna()]
        return confusion_matrix(
            df[self.y_true].to_numpy(), df[self.y_pred].to_numpy(), self._classes()
        )
