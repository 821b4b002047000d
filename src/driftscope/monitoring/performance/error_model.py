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

import ctypes
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
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


class _OpenMPRuntimes:
    """The OpenMP runtimes loaded in this process, capped through their own
    ``omp_set_num_threads`` (the calling thread's setting, as ``threadpoolctl`` does).

    ``ThreadpoolController()`` resolves the real path of every loaded library to find
    them: 57-72 ms on this project's environment (265 libraries), paid by the first DLE
    of every process. Here only the names of the mapped files are read (Linux,
    ``/proc/self/maps``, under a millisecond); elsewhere, or if none is found, the
    controller of ``threadpoolctl`` is used.
    """

    PREFIXES = ("libgomp", "libomp", "libiomp")  # threadpoolctl's OpenMP libraries
    _MAPPED = re.compile(rb" (/[^\n]+\.so[^\n/]*)\n")

    def __init__(self, libs: list[ctypes.CDLL]) -> None:
        self.libs = libs

    @classmethod
    def find(cls) -> _OpenMPRuntimes | None:
        if sys.platform != "linux":
            return None
        try:
            maps = Path("/proc/self/maps").read_bytes()
        except OSError:
            return None
        libs: list[ctypes.CDLL] = []
        for path in sorted({os.fsdecode(p) for p in cls._MAPPED.findall(maps)}):
            if not os.path.basename(path).startswith(cls.PREFIXES):
                continue
            try:
                lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD)  # already loaded: no new copy
            except OSError:
                continue
            if hasattr(lib, "omp_set_num_threads") and hasattr(lib, "omp_get_max_threads"):
                libs.append(lib)
        return cls(libs) if libs else None

    @contextmanager
    def limit(self, limits: int | None = None, user_api: str = "openmp") -> Iterator[None]:
        """At most ``limits`` OpenMP threads in the calling thread (None: unchanged)."""
        if limits is None:
            yield
            return
        before = [lib.omp_get_max_threads() for lib in self.libs]
        for lib in self.libs:
            lib.omp_set_num_threads(int(limits))
        try:
            yield
        finally:
            for lib, n in zip(self.libs, before, strict=True):
                lib.omp_set_num_threads(n)


@cache
def _controller() -> _OpenMPRuntimes | ThreadpoolController:
    """The OpenMP thread cap, found once (scikit-learn's OpenMP runtime is loaded by the
    import above); ``threadpool_limits`` would inspect every library on each call."""
    return _OpenMPRuntimes.find() or ThreadpoolController()


def _same(a: Any, b: Any) -> bool:
    """Equal keys of :class:`_SharedInputs`: arrays by value, containers item by item,
    other objects by ``==`` (identity for objects that define no equality)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            # without NaN the plain comparison decides (equal_nan costs 4x as much)
            and (
                bool(np.array_equal(a, b))
                or (a.dtype.kind in "fc" and bool(np.array_equal(a, b, equal_nan=True)))
            )
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if a is b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class _SharedInputs:
    """scikit-learn's input work, done once for error models that read the same matrix.

    Every error model's fit validates the matrix, encodes its categorical columns (a
    ``ColumnTransformer``), splits off the validation rows (the same rows: one seed) and
    bins both parts; every predict validates and encodes again. Only the target and the
    loss differ between the models, and neither enters that work, yet it was about 30 %
    of each fit on NannyML's car-price data (binning alone a quarter) and, holding the
    GIL for much of it, it kept two fits in two threads from running side by side.
    The first model to need a step computes it (one that needs the same step meanwhile
    waits for it) and the others take its result, with the attributes it set: a result
    is reused only for an equal input array and equal parameters (:func:`_same`), so a
    different split or different settings are computed as usual. Results are the same
    as without it. Scoped to one fit or one prediction: :meth:`clear` drops the arrays.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[str, Any, np.ndarray, Future[Any]]] = []

    def get(self, step: str, key: Any, x: np.ndarray, compute: Callable[[], _T]) -> _T:
        """``compute()``, or the result of an earlier ``step`` on an equal ``x`` and ``key``."""
        with self._lock:
            for seen_step, seen_key, seen_x, seen in self._entries:
                if seen_step == step and _same(seen_key, key) and (seen_x is x or _same(seen_x, x)):
                    found = seen
                    break
            else:
                found = None
                mine: Future[Any] = Future()
                self._entries.append((step, key, x, mine))
        if found is not None:
            return found.result()  # type: ignore[no-any-return]
        try:
            value = compute()
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        mine.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _bin_flags(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool | None, list[Any]]:
    """``is_training_data`` of a ``_bin_data`` call and its other arguments (the sample
    weights; scikit-learn before 1.6 passed none)."""
    rest = dict(kwargs)
    if "is_training_data" in rest:
        training, others = rest.pop("is_training_data"), [*args, *rest.values()]
    elif args:
        training, others = args[-1], [*args[:-1], *rest.values()]
    else:
        return None, []
    return (training if isinstance(training, bool) else None), others


_NOTHING = np.empty(0)  # the array of :class:`_SharedInputs` steps that read none


class _CodesReordered:
    """scikit-learn's categorical encoding at predict time, without its ColumnTransformer,
    where that encoding only moves columns.

    With categorical columns, every ``predict`` runs a ``ColumnTransformer`` (an
    ``OrdinalEncoder`` on the categorical columns, put first, and a check of the others):
    5 ms a 30 000-row block on car price, mostly under the GIL, so two threads predicting
    wait on each other. DLE's categorical columns already hold the codes 0 .. k-1 (or
    NaN) that the encoder learned as its categories, so it maps every known code to
    itself and anything else to NaN: here that is the columns reordered and, in the
    categorical ones, values other than the codes set to NaN. Used only if the fitted
    encoder has exactly those categories and gives the same matrix on a probe of every
    code, values next to them, NaN and infinities (:meth:`learn`); otherwise
    scikit-learn's own path runs.
    """

    def __init__(self, order: np.ndarray, n_codes: np.ndarray) -> None:
        self.order = order
        self.n_codes = n_codes

    @classmethod
    def learn(cls, model: HistGradientBoostingRegressor) -> _CodesReordered | None:
        try:
            transformer = model._preprocessor
            mask = np.asarray(model.is_categorical_, dtype=bool)
            categories = transformer.named_transformers_["encoder"].categories_
        except (AttributeError, KeyError, TypeError):
            return None
        if transformer is None or len(categories) != mask.sum():
            return None
        n_codes = []
        for found in categories:
            found = np.asarray(found)
            if found.dtype.kind != "f" or not np.array_equal(found, np.arange(len(found))):
                return None
            n_codes.append(len(found))
        fast = cls(np.r_[np.flatnonzero(mask), np.flatnonzero(~mask)], np.array(n_codes, float))
        top = max(n_codes)
        # every code, values next to them and NaN in the categorical columns (scikit-learn
        # rejects infinities there: __call__ leaves those to it); infinities elsewhere
        values = np.r_[np.arange(top + 1.0), -1.0, 0.5, top - 0.5, np.nan, 1e300, -1e300]
        probe = np.tile(values[:, None], (1, len(mask)))
        probe[:, ~mask] = np.roll(values, 3)[:, None]
        probe[-2:, ~mask] = [[np.inf], [-np.inf]]
        try:
            expected = transformer.transform(probe)
        except Exception:  # noqa: BLE001 - any failure: keep scikit-learn's path
            return None
        mine = fast(probe)
        same = mine is not None and _same(np.asarray(expected, dtype=np.float64), mine)
        return fast if same else None

    def __call__(self, x: np.ndarray) -> np.ndarray | None:
        """The encoded matrix, or None where scikit-learn's path must decide (it rejects
        infinite values in categorical columns)."""
        out = x[:, self.order]  # a new C-ordered matrix, categorical columns first
        codes = out[:, : len(self.n_codes)]
        if np.isinf(codes).any():
            return None
        known = (codes >= 0) & (codes < self.n_codes) & (codes == np.floor(codes))
        codes[~known] = np.nan  # a view: sets them in ``out``
        return out


class _ErrorRegressor(HistGradientBoostingRegressor):  # type: ignore[misc]
    """``HistGradientBoostingRegressor`` that, while ``_shared`` is set, takes its input
    validation, categorical encoding and binning from :class:`_SharedInputs`.

    It overrides two private steps of scikit-learn's fit and predict (``_preprocess_X``,
    ``_bin_data``, both present from 1.4 to 1.9). Should they change, the overrides only
    stop sharing (a step they do not recognise is computed as usual).
    """

    _shared: _SharedInputs | None = None
    #: the predict-time encoding as a column reordering, where that is exact
    _codes_reordered: _CodesReordered | None = None

    def fit(self, X: Any, y: Any, **kwargs: Any) -> _ErrorRegressor:  # noqa: N803 (scikit-learn's)
        self._codes_reordered = None
        super().fit(X, y, **kwargs)
        shared = self._shared
        if shared is None:
            self._codes_reordered = _CodesReordered.learn(self)
        else:  # models that share the fitted encoder share its check too
            key = (getattr(self, "_preprocessor", None),)
            learn = partial(_CodesReordered.learn, self)
            self._codes_reordered = shared.get("codes-reordered", key, _NOTHING, learn)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state.pop("_shared", None)
        return state

    def _input_params(self) -> dict[str, Any]:
        # the loss does not enter the input work; the target is not a parameter
        return {k: v for k, v in self.get_params(deep=False).items() if k != "loss"}

    def _preprocess_X(self, X: Any, *, reset: bool) -> Any:  # noqa: N802, N803 (scikit-learn's)
        parent = super()._preprocess_X
        reordered = self._codes_reordered
        if (
            not reset
            and reordered is not None
            and isinstance(X, np.ndarray)
            and X.dtype == np.float64
            and X.ndim == 2
            and X.shape[1] == len(reordered.order)
        ):
            encoded = reordered(X)
            if encoded is not None:
                return encoded
        shared = self._shared
        if shared is None or not isinstance(X, np.ndarray):
            return parent(X, reset=reset)
        if not reset:
            # the same fitted encoder (shared at fit time) gives the same matrix
            key = (getattr(self, "_preprocessor", None), getattr(self, "n_features_in_", None))
            return shared.get("predict-input", key, X, lambda: parent(X, reset=False))

        def fit_input() -> tuple[Any, dict[str, Any]]:
            before = dict(vars(self))
            out = parent(X, reset=True)
            state = {k: v for k, v in vars(self).items() if k not in before or before[k] is not v}
            return out, state

        out, state = shared.get("fit-input", self._input_params(), X, fit_input)
        self.__dict__.update(state)
        return out

    def _bin_data(self, X: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N803 (scikit-learn's)
        parent = partial(super()._bin_data, X, *args, **kwargs)
        shared = self._shared
        mapper = getattr(self, "_bin_mapper", None)
        training, others = _bin_flags(args, kwargs)
        if (
            shared is None
            or training is None
            or mapper is None
            or not isinstance(X, np.ndarray)
            or any(o is not None for o in others)
        ):
            return parent()
        if not training:  # validation rows, binned by this very (shared) mapper
            return shared.get("bin", ("validation", mapper), X, parent)

        def fit_bins() -> tuple[Any, Any]:
            return parent(), self._bin_mapper

        # the mapper is new and not fitted yet: its parameters say how it would bin
        binned, fitted = shared.get("bin", ("train", mapper.get_params()), X, fit_bins)
        self._bin_mapper = fitted
        return binned


# Rows are predicted in an order that groups similar rows (see _RowOrder) from this many on.
SORT_MIN_ROWS = 2000


def _split_columns(models: Iterable[_ErrorRegressor], mask: np.ndarray) -> list[int]:
    """The two columns of the matrix whose splits the most training rows pass through in
    the models' trees, most first ([] if the trees cannot be read: they are
    scikit-learn's private ``_predictors``)."""
    n = len(mask)
    # scikit-learn's categorical encoder puts the categorical columns first
    original = np.r_[np.flatnonzero(mask), np.flatnonzero(~mask)] if mask.any() else np.arange(n)
    rows = np.zeros(n)
    try:
        for model in models:
            for trees in model._predictors:
                for tree in trees:
                    nodes = tree.nodes
                    inner = nodes["is_leaf"] == 0
                    rows += np.bincount(
                        original[nodes["feature_idx"][inner]],
                        weights=nodes["count"][inner].astype(np.float64),
                        minlength=n,
                    )
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return []
    return [int(j) for j in np.argsort(-rows, kind="stable") if rows[j] > 0][:2]


@dataclass(frozen=True)
class _RowOrder:
    """An order of the rows that puts rows taking the same branches next to each other:
    16 reference quantile bins of the column most rows are split on, then 4096 even steps
    of the second one (between its reference 1st and 99th percentiles).

    A tree walk per row is mostly unpredictable branches; in this order consecutive rows
    follow the same paths through the top splits. Predictions do not depend on the order
    (each row is walked on its own) and are put back in row order. The key is 16 bits, so
    the sort is a radix sort (about 1 ms on 60 000 rows).
    """

    first: int
    edges: np.ndarray
    second: int
    low: float
    scale: float

    @classmethod
    def learn(cls, x: np.ndarray, columns: Sequence[int]) -> _RowOrder | None:
        if len(columns) < 2 or len(x) < SORT_MIN_ROWS:
            return None
        # the bin edges only group rows: every 8th row gives them (4.3 -> 0.6 ms on 60 000
        # rows, on the path from the first fitted model to its reference predictions)
        sample = x[:: max(1, len(x) // 8192)]
        first, second = sample[:, columns[0]], sample[:, columns[1]]
        first, second = first[~np.isnan(first)], second[~np.isnan(second)]
        if len(first) == 0 or len(second) == 0:
            return None
        edges = np.unique(np.quantile(first, np.linspace(0.0, 1.0, 17)[1:-1]))
        low, high = np.quantile(second, [0.01, 0.99])
        scale = 4095.0 / (high - low) if high > low else 0.0
        return cls(columns[0], edges, columns[1], float(low), scale)

    def __call__(self, x: np.ndarray) -> np.ndarray | None:
        if len(x) < SORT_MIN_ROWS:
            return None
        coarse = np.searchsorted(self.edges, x[:, self.first]).astype(np.uint16)  # NaN: last
        fine = np.nan_to_num((x[:, self.second] - self.low) * self.scale, nan=4095.0)
        key = (coarse << 12) | np.clip(fine, 0.0, 4095.0).astype(np.uint16)
        return np.argsort(key, kind="stable")


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
                # each distinct value looked up once (hashing every row through the
                # categories' index took 8 ms a column on 60 000 rows, factorize 1.3 ms)
                codes, distinct = pd.factorize(values)  # missing values: -1
                lookup = self.categories[col].get_indexer(distinct).astype(np.float64)
                lookup = np.append(np.where(lookup < 0, np.nan, lookup), np.nan)
                out[:, j] = lookup[codes]  # -1 (missing) takes the appended NaN
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
    _models: dict[str, _ErrorRegressor] = field(init=False, repr=False)
    #: the largest reference error of each kind: a row's estimate is clipped to it (the
    #: Poisson loss's log link can extrapolate a row's error without bound)
    _limits: dict[str, float] = field(init=False, repr=False)
    #: the order rows are predicted in (None: as they come)
    _row_order: _RowOrder | None = field(init=False, repr=False, default=None)
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

    def _finish_rows(
        self, blocks: dict[str, list[np.ndarray]], order: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Each model's row blocks joined, put back in row order (``order``: the order
        they were predicted in) and clipped to [0, its limit]."""
        out = {}
        for kind, parts in blocks.items():
            rows = np.concatenate(parts)
            if order is not None:
                rows[order] = rows.copy()
            out[kind] = np.clip(rows, 0.0, self._limits[kind])
        return out

    def _predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Each model's prediction on ``x``, clipped to [0, the reference's largest error]."""
        models = self._models
        if len(x) == 0:
            return {kind: np.empty(0) for kind in models}
        jobs = self._jobs(len(x))
        row_order = getattr(self, "_row_order", None)  # older pickles have none
        order = row_order(x) if row_order is not None else None
        # one view per row block, the same for every model: their input checks and
        # encoding are shared (_SharedInputs)
        blocks = self._blocks(x, order, jobs)
        with self._sharing(models.values()):
            if jobs <= 1:
                return self._finish_rows(
                    {
                        k: [self._capped(partial(m.predict, b))() for b in blocks]
                        for k, m in models.items()
                    },
                    order,
                )
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    k: [pool.submit(self._capped(partial(m.predict, b))) for b in blocks]
                    for k, m in models.items()
                }
                return self._finish_rows(
                    {k: [f.result() for f in fs] for k, fs in futures.items()}, order
                )

    def _blocks(self, x: np.ndarray, order: np.ndarray | None, jobs: int) -> list[np.ndarray]:
        """``x``'s rows (in ``order`` when given) in one block per thread."""
        if order is not None:
            x = x[order]
        return [x[a:b] for a, b in self._spans(len(x), jobs)]

    @staticmethod
    @contextmanager
    def _sharing(models: Iterable[_ErrorRegressor]) -> Iterator[_SharedInputs]:
        """One :class:`_SharedInputs` for ``models`` while the block runs."""
        shared = _SharedInputs()
        models = list(models)
        for m in models:
            m._shared = shared
        try:
            yield shared
        finally:
            for m in models:
                m._shared = None
            shared.clear()

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

        fitted: list[_ErrorRegressor] = []

        def fit_one(kind: str, shared: _SharedInputs) -> Callable[[], _ErrorRegressor]:
            target = row_errors(kind, t, p)
            self._limits[kind] = float(target.max())
            kind_params = dict(params)
            if kind_params.get("loss") == "poisson" and not target.sum() > 0:
                kind_params["loss"] = "squared_error"

            def fit() -> _ErrorRegressor:
                model = _ErrorRegressor(**kind_params)
                model._shared = shared  # also while its reference rows are predicted
                fitted.append(model)
                return model.fit(x, target)

            return self._capped(fit)

        kinds = sorted({ERROR_KIND[m] for m in self.metrics})
        self._limits = {}
        jobs = self._jobs(len(t))
        shared = _SharedInputs()
        self._row_order = None
        try:
            if jobs <= 1:
                self._models = {kind: fit_one(kind, shared)() for kind in kinds}
                self._row_order = _RowOrder.learn(x, _split_columns(self._models.values(), mask))
                self.reference_row_estimates = self._predict(x)
            else:
                # One pool for both steps: a model's reference rows are predicted as soon as
                # it is fitted, on whichever thread is free, instead of after the slowest fit.
                # The rows are ordered by the first fitted model's splits (_row_order), in
                # one view per row block, the same for every model (shared input work).
                order: np.ndarray | None = None
                blocks: list[np.ndarray] = []
                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    fits = {pool.submit(fit_one(kind, shared)): kind for kind in kinds}
                    parts: dict[str, list[Future[np.ndarray]]] = {}
                    for done in as_completed(fits):
                        model = done.result()
                        if not blocks:
                            self._row_order = _RowOrder.learn(x, _split_columns([model], mask))
                            order = self._row_order(x) if self._row_order is not None else None
                            blocks = self._blocks(x, order, jobs)
                        parts[fits[done]] = [
                            pool.submit(self._capped(partial(model.predict, b))) for b in blocks
                        ]
                    self._models = {kind: fut.result() for fut, kind in fits.items()}
                    self.reference_row_estimates = self._finish_rows(
                        {kind: [f.result() for f in parts[kind]] for kind in kinds}, order
                    )
        finally:
            for m in fitted:  # nothing of the reference's arrays stays behind
                m._shared = None
            shared.clear()
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
