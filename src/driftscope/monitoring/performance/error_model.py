"""Direct loss estimation (DLE) over arrays.

A gradient-boosted regressor (scikit-learn's ``HistGradientBoostingRegressor``)
learns, on the reference, each row's error from the model's inputs and its
prediction. On a chunk without targets, the mean predicted error estimates
the metric: absolute error for MAE, squared error for MSE (and RMSE as its
square root), absolute percentage error for MAPE. Like CBPE it sees covariate
shift (rows moving to regions where the model errs more) and not concept
shift.

Feature columns that are not numeric are encoded with the reference's
categories (at most ``max_categories`` most frequent; others and unseen
values become missing) and passed to the regressor as categorical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import ThreadpoolController

from driftscope.errors import MonitoringError
from driftscope.monitoring.performance.regression import row_errors
from driftscope.monitoring.performance.sampling_error import (
    SamplingError,
    regression_sampling_error,
)
from driftscope.monitoring.threads import NJobs, check_n_jobs, thread_count

DLE_METRICS = ("mae", "mse", "rmse", "mape")
# First, larger leaves, a faster rate and more patience than scikit-learn's defaults: with
# those, early stopping ended after about 35 rounds and underfitted the error surface
# (seen on NannyML's car-price data: per-chunk MAE error 13.2 -> 7.7, and faster).
# The Poisson loss (log link) fits a non-negative, multiplicative error surface and
# extrapolates it better into shifted regions: on the same data, per-chunk errors
# 7.65 -> 7.25 (MAE), 14.3 -> 10.6 (RMSE), 0.0071 -> 0.0063 (MAPE). A target that is
# zero everywhere (a perfect reference) falls back to the squared error.
# A rate of 0.3 with a patience of 5 rounds (was 0.2 and 25) builds a third of the
# trees (fit and predict about 2x faster) for the same accuracy, and leaves of at
# least 100 rows (was 20) on 31 leaves (was 63) stop the heavy-tailed per-row errors
# (the percentage error above all) from being fitted leaf by leaf. Means over five
# seeds of the validation split on the same data, per-chunk errors (MAE / RMSE / MAPE):
# 7.49 / 9.53 / 0.0071 before, 7.32 / 8.25 / 0.0034 now (NannyML: 9.53 / 14.7 / 0.0043);
# the seed alone moved the old MAPE from 0.0043 to 0.0101, the new one from 0.0028 to 0.0042.
# A patience of 3 rounds (was 5) builds 44 trees over the three models instead of 50 and
# fits and predicts about 20 % faster; over the same five seeds the per-chunk errors were
# 7.73 / 8.46 / 0.0032 (from 7.32 / 8.25 / 0.0034), and on Friedman #1 and #3 data with a
# linear model and covariate shift the relative errors did not move (0.005 / 0.005).
# References under 20 000 rows get smaller leaves, one 200th of the rows and at least
# scikit-learn's 20 (MIN_LEAF_SHARE), so that small references still split.
MIN_LEAF_SHARE = 1 / 200
DEFAULT_REGRESSOR_PARAMS: dict[str, Any] = {
    "loss": "poisson",
    "max_leaf_nodes": 31,
    "min_samples_leaf": 100,
    "learning_rate": 0.3,
    "n_iter_no_change": 3,
}
# OpenMP threads for the regressor's fit and predict. One by default: with more threads
# than idle cores, OpenMP's busy-waiting made a fit that takes 1.5 s alone take 8-20 s
# on a shared two-core machine, while one thread costs little on these data sizes.
DEFAULT_N_THREADS: int | None = 1
# Python threads over the error models (one task per model to fit, one per model and row
# block to predict), each under the ``n_threads`` OpenMP cap. scikit-learn's histograms,
# split finding and tree traversal run without the GIL, so the tasks run side by side; a
# thread that waits for a core blocks instead of spinning, so under load this degrades to
# one task at a time, not to OpenMP's busy-waiting. ``"auto"``: one thread per CPU from
# AUTO_JOBS_MIN_ROWS rows on, none below (thread start-up would cost more than it saves).
AUTO_JOBS_MIN_ROWS = 10_000
_T = TypeVar("_T")


@cache
def _controller() -> ThreadpoolController:
    """One inspection of the loaded thread pools (``threadpool_limits`` redoes it per call,
    about 2 ms; scikit-learn's OpenMP runtime is loaded by the import above)."""
    return ThreadpoolController()


ERROR_KIND = {"mae": "absolute", "mse": "squared", "rmse": "squared", "mape": "absolute_percentage"}


@dataclass
class FeatureEncoder:
    """Numeric matrix for the regressor; categorical columns become reference codes."""

    max_categories: int = 250
    columns: list[str] = field(default_factory=list)
    categories: dict[str, pd.Index] = field(default_factory=dict)

    def fit(self, frame: pd.DataFrame) -> FeatureEncoder:
        self.columns = [str(c) for c in frame.columns]
        self.categories = {}
        for col in frame.columns:
            s = frame[col]
            if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
                top = s.dropna().astype(str).value_counts().index[: self.max_categories]
                self.categories[str(col)] = pd.Index(top)
        return self

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.array([c in self.categories for c in self.columns], dtype=bool)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise MonitoringError(f"columns {missing} seen in the reference are missing")
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for j, col in enumerate(self.columns):
            s = frame[col]
            if col in self.categories:
                # string columns are looked up as they are (missing values match no
                # category); others first as text, like the categories were learned
                values = s if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object else None
                if values is None:
                    values = s.astype(str).where(s.notna(), None)
                codes = self.categories[col].get_indexer(values)
                out[:, j] = np.where(codes < 0, np.nan, codes)
            elif pd.api.types.is_float_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype):
                out[:, j] = s.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                out[:, j] = pd.to_numeric(s, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
        return out


@dataclass
class DLEEstimator:
    """DLE over arrays: fit on reference features, predictions and targets.

    Parameters
    ----------
    metrics : any of ``mae``, ``mse``, ``rmse``, ``mape``.
    regressor_params : keyword arguments for ``HistGradientBoostingRegressor``, over
        :data:`DEFAULT_REGRESSOR_PARAMS`.
    n_threads : OpenMP threads of each model while fitting and predicting (default
        :data:`DEFAULT_N_THREADS`, one); ``None`` leaves scikit-learn's default (all cores).
    n_jobs : Python threads over the models: ``"auto"`` (default; see
        :data:`AUTO_JOBS_MIN_ROWS`), ``None`` (one per CPU) or an int (1: none).
        Results do not depend on it: each model is fitted and applied the same way.
    """

    metrics: Sequence[str] = ("mae", "rmse")
    regressor_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    n_threads: int | None = DEFAULT_N_THREADS
    n_jobs: NJobs = "auto"
    encoder: FeatureEncoder = field(init=False, repr=False)
    sampling_error: SamplingError = field(init=False, repr=False)
    reference_values: dict[str, float] = field(init=False, repr=False)
    _models: dict[str, HistGradientBoostingRegressor] = field(init=False, repr=False)
    #: the largest reference error of each kind: a row's estimate is clipped to it (the
    #: Poisson loss's log link can extrapolate a row's error without bound)
    _limits: dict[str, float] = field(init=False, repr=False)
    #: per-row estimates on the reference rows the models were fitted on
    reference_row_estimates: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        bad = [m for m in self.metrics if m not in DLE_METRICS]
        if bad:
            raise MonitoringError(f"DLE cannot estimate {bad}; valid: {DLE_METRICS}")
        check_n_jobs(self.n_jobs)

    def _matrix(self, features: pd.DataFrame, y_pred: np.ndarray) -> np.ndarray:
        return np.column_stack([self.encoder.transform(features), y_pred])

    def _threads(self) -> Any:
        return _controller().limit(limits=self.n_threads, user_api="openmp")

    def _jobs(self, rows: int) -> int:
        return thread_count(self.n_jobs, rows, auto_min_rows=AUTO_JOBS_MIN_ROWS)

    def _capped(self, task: Callable[[], _T]) -> Callable[[], _T]:
        """``task`` under the OpenMP cap, set in the thread that runs it (OpenMP's thread
        count belongs to the calling thread)."""

        def run() -> _T:
            # the Poisson loss's exp can overflow far outside the reference: that row's
            # estimate is then clipped to the reference's largest error (_finish_rows)
            with self._threads(), np.errstate(over="ignore"):
                return task()

        return run

    def _spans(self, rows: int, jobs: int) -> list[tuple[int, int]]:
        """Row blocks for prediction: one per thread, so that the threads share the work
        evenly (three models on two cores would otherwise leave one idle)."""
        blocks = jobs if jobs > 1 and rows >= 2 * jobs else 1
        edges = np.linspace(0, rows, blocks + 1).astype(int).tolist()
        return list(zip(edges[:-1], edges[1:], strict=True))

    def _finish_rows(self, blocks: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
        """Each model's row blocks (in row order) joined and clipped to [0, its limit]."""
        return {
            kind: np.clip(np.concatenate(parts), 0.0, self._limits[kind])
            for kind, parts in blocks.items()
        }

    def _predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Each model's prediction on ``x``, clipped to [0, the reference's largest error]."""
        models = self._models
        if len(x) == 0:
            return {kind: np.empty(0) for kind in models}
        jobs = self._jobs(len(x))
        spans = self._spans(len(x), jobs)

        def predict(kind: str, a: int, b: int) -> Callable[[], np.ndarray]:
            return self._capped(lambda: models[kind].predict(x[a:b]))

        if jobs <= 1:
            return self._finish_rows({k: [predict(k, a, b)() for a, b in spans] for k in models})
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {k: [pool.submit(predict(k, a, b)) for a, b in spans] for k in models}
            return self._finish_rows({k: [f.result() for f in fs] for k, fs in futures.items()})

    def fit(self, features: pd.DataFrame, y_pred: Any, y_true: Any) -> DLEEstimator:
        p = np.asarray(y_pred, dtype=np.float64)
        t = np.asarray(y_true, dtype=np.float64)
        if len(t) < 20:
            raise MonitoringError(f"DLE needs at least 20 labeled reference rows, got {len(t)}")
        self.encoder = FeatureEncoder().fit(features)
        x = self._matrix(features, p)
        mask = np.r_[self.encoder.categorical_mask, False]
        params = {"random_state": self.seed, **DEFAULT_REGRESSOR_PARAMS}
        params["min_samples_leaf"] = int(
            np.clip(len(t) * MIN_LEAF_SHARE, 20, DEFAULT_REGRESSOR_PARAMS["min_samples_leaf"])
        )
        params.update(self.regressor_params)
        if mask.any():
            params.setdefault("categorical_features", mask)

        def fit_one(kind: str) -> Callable[[], HistGradientBoostingRegressor]:
            target = row_errors(kind, t, p)
            self._limits[kind] = float(target.max())
            kind_params = dict(params)
            if kind_params.get("loss") == "poisson" and not target.sum() > 0:
                kind_params["loss"] = "squared_error"
            return self._capped(lambda: HistGradientBoostingRegressor(**kind_params).fit(x, target))

        kinds = sorted({ERROR_KIND[m] for m in self.metrics})
        self._limits = {}
        jobs = self._jobs(len(t))
        if jobs <= 1:
            self._models = {kind: fit_one(kind)() for kind in kinds}
            self.reference_row_estimates = self._predict(x)
        else:
            # One pool for both steps: a model's reference rows are predicted as soon as it
            # is fitted, on whichever thread is free, instead of after the slowest fit.
            spans = self._spans(len(x), jobs)
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                fits = {pool.submit(fit_one(kind)): kind for kind in kinds}
                parts: dict[str, list[Future[np.ndarray]]] = {}
                for done in as_completed(fits):
                    model = done.result()
                    parts[fits[done]] = [
                        pool.submit(self._capped(partial(model.predict, x[a:b]))) for a, b in spans
                    ]
                self._models = {kind: fut.result() for fut, kind in fits.items()}
                self.reference_row_estimates = self._finish_rows(
                    {kind: [f.result() for f in parts[kind]] for kind in kinds}
                )
        self.sampling_error = regression_sampling_error(t, p, metrics=self.metrics, seed=self.seed)
        self.reference_values = {
            m: self.finish(m, row_errors(ERROR_KIND[m], t, p)) for m in self.metrics
        }
        return self

    @staticmethod
    def finish(metric: str, errors: np.ndarray) -> float:
        if len(errors) == 0:
            return float("nan")
        mean = float(errors.mean())
        return float(np.sqrt(mean)) if metric == "rmse" else mean

    def row_estimates(self, features: pd.DataFrame, y_pred: Any) -> dict[str, np.ndarray]:
        """Predicted per-row error for each error kind (clipped at zero)."""
        p = np.asarray(y_pred, dtype=np.float64)
        return self._predict(self._matrix(features, p))

    def estimate(self, features: pd.DataFrame, y_pred: Any) -> dict[str, float]:
        """Estimated metrics for one chunk."""
        rows = self.row_estimates(features, y_pred)
        return {m: self.finish(m, rows[ERROR_KIND[m]]) for m in self.metrics}
