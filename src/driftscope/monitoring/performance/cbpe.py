"""CBPE: estimated classification performance without labels (method ``cbpe``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from driftscope.errors import ValidationError
from driftscope.monitoring.base import as_pandas
from driftscope.monitoring.chunking import Chunk
from driftscope.monitoring.performance.base import make_row
from driftscope.monitoring.performance.calculator import PerformanceCalculatorBase
from driftscope.monitoring.performance.expected import CBPEEstimator, expected_confusion


class CBPE(PerformanceCalculatorBase):
    """Confidence-based performance estimation per chunk.

    Fits the calibration check and, where it helps, isotonic calibration on
    the reference (see :mod:`driftscope.monitoring.performance.calibration`;
    ``calibration`` is ``"auto"``, ``"always"`` or ``"never"``), then
    estimates each metric from the expected confusion matrix of every chunk,
    labels or not. ``lower_confidence`` / ``upper_confidence`` are the
    estimate +/- ``confidence_z`` sampling errors.

    CBPE assumes the relation between scores and outcomes seen in the
    reference still holds. It follows covariate shift; it cannot see concept
    shift (the same scores, different outcomes): compare with realized
    performance wherever labels arrive.
    """

    method = "cbpe"

    def __init__(self, *, calibration: str = "auto", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.is_classification:
            raise ValidationError("CBPE estimates classification tasks; use DLE for regression")
        if self.y_score is None:
            raise ValidationError("CBPE needs the model's scores (y_score)")
        self.calibration = calibration

    def _fit_method(self, reference: pd.DataFrame) -> None:
        self.estimator = CBPEEstimator(
            classes=self._classes(),
            metrics=self.metrics,
            positive_class=self.positive_class,
            calibration=self.calibration,
            seed=self.seed,
        ).fit(
            reference[self.y_true].to_numpy(),
            reference[self.y_pred].to_numpy(),
            self.scores(reference),
        )

    def _rows(
        self, frame: pd.DataFrame, chunks: list[Chunk], *, reference: bool = False
    ) -> list[dict[str, Any]]:
        calibrated, raw, pred_idx = self.estimator.prepare(
            frame[self.y_pred].to_numpy(), self.scores(frame)
        )
        labeled = (
            frame[self.y_true].notna().to_numpy()
            if self.y_true in frame.columns
            else np.zeros(len(frame), dtype=bool)
        )
        rows: list[dict[str, Any]] = []
        for chunk in chunks:
            idx = chunk.positions
            chunk_cal, chunk_pred = calibrated[idx], pred_idx[idx]
            values = self.estimator.estimate_prepared(chunk_cal, raw[idx], chunk_pred)
            n_labeled = int(labeled[idx].sum())
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
                        se=self.estimator.sampling_error.se(m, len(idx)),
                        z=self.confidence_z,
                    )
                )
            if self.confusion:
                cm = expected_confusion(chunk_cal, chunk_pred)
                rows.extend(self.confusion_rows(chunk, cm, n_labeled, n_rows=len(idx)))
        return rows

    def calibration_report(self) -> list[dict[str, Any]]:
        """Per class: whether the scores were calibrated, why, and the held-out errors."""
        return self.estimator.calibrator.report(self._classes())

    def expected_confusion_matrix(self, frame: Any) -> np.ndarray:
        """Expected confusion matrix (true classes in rows) of a frame without labels."""
        df = as_pandas(frame)
        return self.estimator.expected_confusion(df[self.y_pred].to_numpy(), self.scores(df))
