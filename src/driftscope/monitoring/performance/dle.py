"""DLE: estimated regression performance without labels (method ``dle``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from driftscope.errors import ValidationError
from driftscope.monitoring.base import require_columns
from driftscope.monitoring.chunking import Chunk
from driftscope.monitoring.performance.base import make_row
from driftscope.monitoring.performance.calculator import PerformanceCalculatorBase
from driftscope.monitoring.performance.error_model import (
    DEFAULT_N_THREADS,
    ERROR_KIND,
    DLEEstimator,
)
from driftscope.monitoring.threads import NJobs, check_n_jobs


class DLE(PerformanceCalculatorBase):
    """Direct loss estimation per chunk (MAE, MSE, RMSE, MAPE).

    A ``HistGradientBoostingRegressor`` (Poisson loss) per error kind learns each reference
    row's error from ``features`` and the prediction (see
    :mod:`driftscope.monitoring.performance.error_model`); a chunk's estimate
    is the mean predicted error. Like CBPE it follows covariate shift and
    cannot see concept shift. ``n_threads`` caps each regressor's OpenMP threads
    (default one; ``None``: scikit-learn's default, every core); ``n_jobs`` runs the
    regressors side by side in threads (default ``"auto"``: one per CPU from 10 000
    rows on; 1: none). Neither changes the results.
    """

    method = "dle"

    def __init__(
        self,
        *,
        features: Sequence[str],
        regressor_params: dict[str, Any] | None = None,
        n_threads: int | None = DEFAULT_N_THREADS,
        n_jobs: NJobs = "auto",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("task", "regression")
        super().__init__(**kwargs)
        if self.is_classification:
            raise ValidationError("DLE estimates regression tasks; use CBPE for classification")
        if not features:
            raise ValidationError("DLE needs the model's feature columns")
        self.features = list(features)
        self.regressor_params = dict(regressor_params or {})
        self.n_threads = n_threads
        self.n_jobs = check_n_jobs(n_jobs)

    def _fit_method(self, reference: pd.DataFrame) -> None:
        require_columns(reference, self.features, what="reference")
        self.estimator = DLEEstimator(
            metrics=self.metrics,
            regressor_params=self.regressor_params,
            seed=self.seed,
            n_threads=self.n_threads,
            n_jobs=self.n_jobs,
        ).fit(reference[self.features], reference[self.y_pred], reference[self.y_true])

    def _rows(
        self, frame: pd.DataFrame, chunks: list[Chunk], *, reference: bool = False
    ) -> list[dict[str, Any]]:
        require_columns(frame, self.features, what="analysis")
        if reference:  # the labeled reference rows the estimator was fitted on
            per_row = self.estimator.reference_row_estimates
        else:
            per_row = self.estimator.row_estimates(frame[self.features], frame[self.y_pred])
        # one pass over the target instead of a pandas slice per chunk
        labeled = frame[self.y_true].notna().to_numpy() if self.y_true in frame.columns else None
        rows: list[dict[str, Any]] = []
        for chunk in chunks:
            idx = chunk.positions
            n_labeled = int(labeled[idx].sum()) if labeled is not None else 0
            for m in self.metrics:
                value = DLEEstimator.finish(m, per_row[ERROR_KIND[m]][idx])
                rows.append(
                    make_row(
                        chunk,
                        column=self.y_true,
                        method=self.method,
                        metric=m,
                        value=value,
                        bounds=self.bounds_for(m),
                        n_labeled=n_labeled,
                        se=self.estimator.sampling_error.se(m, len(idx)),
                        z=self.confidence_z,
                    )
                )
        return rows
