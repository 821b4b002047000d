"""Univariate drift over chunks: every column, every method, thresholds from the reference.

Method choice, most specific first: ``column_methods[column]``, then
``continuous_methods`` / ``categorical_methods`` (per column kind), then
``methods`` (global; each method applies to the kinds it supports), then
the defaults :data:`DEFAULT_METHODS`. Thresholds come from ``thresholds``
looked up by ``"column:method"``, then ``"method"``, then ``"*"``; the
default is ``StandardDeviationThreshold(3, 3)`` learned from the values on
the reference chunks (each compared with the rest of the reference), so
alerts rest on effect sizes, with p-values reported beside them.

Which method for which sample size: p-value tests (KS p, chi-squared p)
flag trivial shifts at a million rows and miss real ones at fifty; alert on
the effect sizes (KS statistic, Jensen-Shannon, normalised Wasserstein,
Hellinger, PSI) with learned thresholds, and read p-values as a guide for
chunks of a few hundred to a few thousand rows. Binned methods (JS,
Hellinger, PSI, KL) need chunks of at least ~10 rows per bin; below ~100
rows prefer KS or Wasserstein.

Two modes, chosen per run with ``mode``: ``"exact"`` (default; every value is
kept and the figures equal SciPy's) and ``"sketch"`` (each chunk and the
reference become mergeable :class:`~driftscope.monitoring.profiles.ColumnProfile`
sketches; figures within the bounds documented in
:mod:`driftscope.monitoring.drift.univariate.sketch`). :meth:`UnivariateDriftCalculator.profile`
and :meth:`UnivariateDriftCalculator.compare_profiles` let a caller profile a
chunk in pieces, merge the pieces and compare the merged profile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import pandas as pd

from driftscope.errors import ConfigError, MonitoringError
from driftscope.monitoring.base import Calculator, as_pandas, infer_column_kinds, numeric_values
from driftscope.monitoring.chunking import Chunk
from driftscope.monitoring.drift.univariate.base import DriftMethod, make_method
from driftscope.monitoring.drift.univariate.samples import CategoricalSample, ContinuousSample
from driftscope.monitoring.drift.univariate.sketch import (
    SKETCH_METHODS,
    ContinuousSketch,
    categorical_from_profile,
)
from driftscope.monitoring.memory import small_pages
from driftscope.monitoring.profiles import ColumnProfile
from driftscope.monitoring.result import Result, chunk_fields
from driftscope.monitoring.threads import check_n_jobs, thread_count
from driftscope.monitoring.thresholds import Threshold, alerts, make_threshold

__all__ = ["AUTO_THREADS_MIN_ROWS", "DEFAULT_METHODS", "UnivariateDriftCalculator"]

# below it, starting threads costs more than the columns' work (about 1 ms per column)
AUTO_THREADS_MIN_ROWS = 50_000
MAX_THREADS = 8

DEFAULT_METHODS: dict[str, tuple[str, ...]] = {
    "continuous": ("ks", "jensen_shannon", "wasserstein_norm"),
    "categorical": ("chi2", "jensen_shannon"),
}
MethodSpec = str | dict[str, Any] | DriftMethod
Mode = Literal["exact", "sketch"]
Sample = ContinuousSample | CategoricalSample | ContinuousSketch


class _Column:
    """One column's encoder (values -> sample) fitted on the reference.

    In sketch mode a sample is built through a sketch profile of the values
    (categories are then the reference profile's items, as strings).
    """

    def __init__(
        self,
        name: str,
        kind: str,
        reference: pd.Series,
        mode: Mode = "exact",
        k: int = 200,
        lg_max_k: int = 10,
    ) -> None:
        self.name, self.kind, self.mode, self.k, self.lg_max_k = name, kind, mode, k, lg_max_k
        self.categories = pd.Index([])
        self.vocab: dict[str, int] = {}  # sketch mode: category key -> code, grows on encode
        self.vocab_keys: list[str] = []
        if kind == "categorical" and mode == "sketch":
            counts = self.profile(self.encode(reference)).category_counts()
            self.categories = pd.Index(sorted(counts, key=lambda c: (-counts[c], c)))
        elif kind == "categorical":
            # an Arrow dictionary column factorises to its own codes, without hashing a value
            codes, uniques = pd.factorize(reference, use_na_sentinel=True)
            counts_ = np.bincount(codes[codes >= 0], minlength=len(uniques))
            order = np.argsort(-counts_, kind="stable")
            order = order[counts_[order] > 0]  # a dictionary may hold values never used
            self.categories = pd.Index(uniques[order])
            if not self.categories.is_unique:  # a dictionary with repeated values
                codes, uniques = pd.factorize(reference.astype(object), use_na_sentinel=True)
                counts_ = np.bincount(codes[codes >= 0], minlength=len(uniques))
                order = np.argsort(-counts_, kind="stable")
                self.categories = pd.Index(uniques[order])
            # the reference's own codes, kept for the fit (one factorisation instead of two)
            lookup = np.full(len(uniques) + 1, -1, dtype=np.int64)
            lookup[order] = np.arange(len(order))
            lookup[-1] = -2  # the NA sentinel -1 picks it
            self._reference_codes: np.ndarray | None = lookup[codes]
        self.keys = [str(c) for c in self.categories]

    def encode_reference(self, reference: pd.Series) -> np.ndarray:
        """:meth:`encode` of the reference this column was built from (once, at fit)."""
        codes = getattr(self, "_reference_codes", None)
        if codes is not None:
            self._reference_codes = None
            return codes
        return self.encode(reference)

    def encode(self, series: pd.Series) -> np.ndarray:
        if self.mode == "sketch" and self.kind == "categorical":
            local, uniques = pd.factorize(series, use_na_sentinel=True)
            ids = np.empty(len(uniques) + 1, dtype=np.int64)
            for i, value in enumerate(uniques):
                key = str(value)
                if key not in self.vocab:
                    self.vocab[key] = len(self.vocab_keys)
                    self.vocab_keys.append(key)
                ids[i] = self.vocab[key]
            ids[-1] = -2  # the NA sentinel -1 picks it
            return ids[local]
        if self.mode == "sketch":  # +-inf count as missing, as in exact mode
            return self.profile_values(series)
        if self.kind == "continuous":
            return numeric_values(series)
        # factorize first: one lookup per distinct value instead of one per row
        local, uniques = pd.factorize(series, use_na_sentinel=True)
        lookup = np.asarray(self.categories.get_indexer(uniques), dtype=np.int64)
        codes = np.append(lookup, -2)[local]  # the sentinel -1 picks the appended -2
        return codes

    def profile_values(self, series: pd.Series) -> np.ndarray:
        """What a profile is built from: finite floats, or the raw categories."""
        if self.kind == "categorical":
            return np.asarray(series.to_numpy(dtype=object))
        values = numeric_values(series)
        return np.where(np.isfinite(values), values, np.nan)

    def profile(self, encoded: np.ndarray, mode: Mode | None = None) -> ColumnProfile:
        kind: Literal["continuous", "categorical"] = (
            "continuous" if self.kind == "continuous" else "categorical"
        )
        prof = ColumnProfile(kind, mode or self.mode, k=self.k, lg_max_k=self.lg_max_k)
        if kind == "categorical" and encoded.dtype.kind == "i":  # sketch-mode codes
            counts = np.bincount(encoded[encoded >= 0], minlength=len(self.vocab_keys))
            present = {self.vocab_keys[i]: int(counts[i]) for i in np.flatnonzero(counts)}
            return prof.update_counts(present, int((encoded == -2).sum()))
        return prof.update(encoded)

    def from_profile(self, profile: ColumnProfile) -> Sample:
        if profile.kind != self.kind:
            raise MonitoringError(
                f"column {self.name!r}: a {profile.kind} profile for a {self.kind} column"
            )
        if self.kind == "categorical":
            return categorical_from_profile(profile, self.keys)
        if profile.mode == "sketch":
            return ContinuousSketch(profile)
        return ContinuousSample(profile.values, profile.missing)

    def sample(self, encoded: np.ndarray, owned: bool = False) -> Sample:
        """``owned``: ``encoded`` is a fresh array nothing else uses (it may be sorted in place)."""
        if self.mode == "sketch":
            return self.from_profile(self.profile(encoded))
        if self.kind == "continuous":
            return ContinuousSample.from_raw(encoded, owned)
        return CategoricalSample.from_codes(encoded, len(self.categories))


class UnivariateDriftCalculator(Calculator):
    """Per-column drift of analysis chunks against a reference.

    Parameters
    ----------
    column_names
        Columns to monitor; ``None`` means every column but the timestamp.
    column_kinds
        ``{column: "continuous" | "categorical"}`` overriding the inferred kinds.
    methods, continuous_methods, categorical_methods, column_methods
        Method names (see ``drift_methods.names()``), config dicts such as
        ``{"type": "psi", "n_bins": 10}`` or method objects; see the module
        docstring for precedence.
    thresholds
        A threshold for all, or a mapping ``"column:method" | "method" | "*"``
        to thresholds or their config dicts.
    chunker, timestamp_column
        See :class:`~driftscope.monitoring.base.Calculator`.
    skip_missing_columns
        Leave out columns the analysis data lacks instead of raising
        (data quality reports them).
    mode
        ``"exact"`` (default: equal to SciPy) or ``"sketch"`` (figures from
        mergeable profiles; only the methods in
        :data:`~driftscope.monitoring.drift.univariate.sketch.SKETCH_METHODS`).
    sketch_k, sketch_lg_max_k
        KLL ``k`` and frequent-items ``lg_max_k`` of sketch mode (larger is
        more accurate and uses more memory).
    n_jobs
        Threads over columns: ``"auto"`` (default) uses one per CPU (at most
        8 and at most one per column) when the data has at least
        :data:`AUTO_THREADS_MIN_ROWS` rows and runs in the calling thread
        otherwise; ``None`` always uses the CPU count (at most 8); an int
        that many (1: none). NumPy's sorts and searches release the GIL, so
        columns run in parallel. Results do not depend on it: rows come back
        in column order and each column's figures are computed the same way.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)})
    >>> new = pd.DataFrame({"x": rng.normal(1.0, 1.0, 1000), "c": rng.choice(["a", "b"], 1000)})
    >>> calc = UnivariateDriftCalculator(chunker={"type": "size", "chunk_size": 500})
    >>> result = calc.fit(ref).calculate(new)
    >>> result.ranking()["column"].tolist()
    ['x', 'c']
    >>> bool(result.filter(column="x", method="ks").data["alert"].all())
    True
    """

    arrow_input = True  # an Arrow table is read column by column, never copied whole

    def __init__(
        self,
        column_names: Sequence[str] | None = None,
        *,
        column_kinds: Mapping[str, str] | None = None,
        methods: Sequence[MethodSpec] | None = None,
        continuous_methods: Sequence[MethodSpec] | None = None,
        categorical_methods: Sequence[MethodSpec] | None = None,
        column_methods: Mapping[str, Sequence[MethodSpec]] | None = None,
        thresholds: Threshold | Mapping[str, Any] | None = None,
        chunker: Any = None,
        timestamp_column: str | None = None,
        skip_missing_columns: bool = False,
        mode: Mode = "exact",
        sketch_k: int = 200,
        sketch_lg_max_k: int = 10,
        n_jobs: int | Literal["auto"] | None = "auto",
    ) -> None:
        super().__init__(chunker=chunker, timestamp_column=timestamp_column)
        if mode not in ("exact", "sketch"):
            raise ConfigError("mode", f"must be 'exact' or 'sketch', not {mode!r}")
        if not 8 <= sketch_k <= 65535:
            raise ConfigError("sketch_k", f"must be in [8, 65535], not {sketch_k!r}")
        if not 3 <= sketch_lg_max_k <= 24:
            raise ConfigError("sketch_lg_max_k", f"must be in [3, 24], not {sketch_lg_max_k!r}")
        self.mode: Mode = mode
        self.n_jobs = check_n_jobs(n_jobs)
        self.sketch_k, self.sketch_lg_max_k = sketch_k, sketch_lg_max_k
        self.skip_missing_columns = skip_missing_columns
        self.column_names = list(column_names) if column_names is not None else None
        self.column_kinds = dict(column_kinds or {})
        self.methods = methods
        self.kind_methods = {"continuous": continuous_methods, "categorical": categorical_methods}
        self.column_methods = dict(column_methods or {})
        self.thresholds = thresholds
        specs = [*(methods or []), *(continuous_methods or []), *(categorical_methods or [])]
        for column_specs in self.column_methods.values():
            specs.extend(column_specs)
        for spec in specs:
            self._check_mode(make_method(spec))  # configuration errors surface before any work

    def _check_mode(self, method: DriftMethod) -> DriftMethod:
        if self.mode == "sketch" and method.name not in SKETCH_METHODS:
            raise ConfigError(
                f"methods.{method.name}",
                "needs every value and cannot run in sketch mode; sketch mode supports "
                + ", ".join(sorted(SKETCH_METHODS)),
            )
        return method

    def required_columns(self) -> list[str]:
        return [] if self.skip_missing_columns else list(self.column_names or [])

    def _columns(self, frame: pd.DataFrame) -> list[str]:
        if self.column_names is not None:
            return self.column_names
        return [str(c) for c in frame.columns if c != self.timestamp_column]

    def _methods_for(self, column: str, kind: str) -> list[DriftMethod]:
        specs: Sequence[MethodSpec] | None = self.column_methods.get(column)
        strict = True
        if specs is None:
            specs = self.kind_methods.get(kind)
        if specs is None and self.methods is not None:
            specs, strict = self.methods, False
        if specs is None:
            specs = DEFAULT_METHODS[kind]
        chosen = []
        for spec in specs:
            method = self._check_mode(make_method(spec))
            if kind in method.kinds:
                chosen.append(method)
            elif strict:
                raise ConfigError(
                    f"methods.{column}",
                    f"{method.name!r} does not apply to {kind} columns (it takes {method.kinds})",
                )
        if not chosen:
            chosen = [make_method(s) for s in DEFAULT_METHODS[kind]]
        return chosen

    def _threshold_for(self, column: str, method: str) -> Threshold:
        spec = self.thresholds
        if isinstance(spec, Mapping):
            for key in (f"{column}:{method}", method, "*"):
                if key in spec:
                    return make_threshold(spec[key])
            return make_threshold(None)
        return make_threshold(spec)

    def _fit(self, reference: pd.DataFrame) -> None:
        # the reference's sorts and splits go through large short-lived arrays
        with small_pages():
            self._fit_columns(reference)

    def _fit_columns(self, reference: pd.DataFrame) -> None:
        columns = self._columns(reference)
        self.kinds_ = infer_column_kinds(reference, columns, self.column_kinds)
        self.encoders_: dict[str, _Column] = {}
        self.methods_: dict[str, list[DriftMethod]] = {}
        chunks = self.chunker.split(reference)
        self.bounds_: dict[tuple[str, str], tuple[float | None, float | None]] = {}
        # shared by the columns' packed argsorts (one arange per fit, not per column)
        index = np.arange(len(reference), dtype=np.uint64) if self.mode == "exact" else None

        def fit_column(
            col: str,
        ) -> tuple[_Column, list[DriftMethod], list[dict[str, Any]], dict[str, Any]]:
            # the encoder too is built in the column's thread (a categorical one factorises)
            enc = _Column(
                col,
                self.kinds_[col],
                reference[col],
                self.mode,
                self.sketch_k,
                self.sketch_lg_max_k,
            )
            encoded = enc.encode_reference(reference[col])
            full = enc.sample(encoded)
            methods = self._methods_for(col, enc.kind)
            sorting = any(m.sorts_samples for m in methods)
            parts = self._split_reference(full, encoded, chunks, index) if sorting else None
            methods = [m.fit(full) for m in methods]
            per_method: dict[str, list[float]] = {m.name: [] for m in methods}
            rows: list[dict[str, Any]] = []
            for i, chunk in enumerate(chunks):
                if parts is None:
                    sample = enc.sample(encoded[chunk.positions], owned=True)
                else:
                    sample = parts[i]
                rest = self._rest_factory(enc, encoded, chunk)
                for method in methods:
                    value, p = method.compute(sample, rest)
                    per_method[method.name].append(value)
                    rows.append(self._row(chunk, sample, col, method, value, p))
            bounds = {
                m.name: self._threshold_for(col, m.name).bounds(per_method[m.name], m.value_limits)
                for m in methods
            }
            self._release(methods)
            return enc, methods, rows, bounds

        ref_rows: list[dict[str, Any]] = []
        for col, (enc, methods, rows, bounds) in zip(
            columns, self._map(fit_column, columns, len(reference)), strict=True
        ):
            self.encoders_[col] = enc
            self.methods_[col] = methods
            ref_rows.extend(rows)
            for name, bound in bounds.items():
                self.bounds_[(col, name)] = bound
        for row in ref_rows:
            self._apply_bounds(row)
        self.reference_rows_ = ref_rows

    @staticmethod
    def _release(methods: Sequence[DriftMethod]) -> None:
        """Between fit and calculate a column keeps its sorted reference, not its derivatives."""
        for method in methods:
            if isinstance(method.reference, ContinuousSample):
                method.reference.release()

    @staticmethod
    def _split_reference(
        full: Sample, encoded: np.ndarray, chunks: Sequence[Chunk], index: np.ndarray | None = None
    ) -> list[ContinuousSample] | None:
        """The reference chunks of a continuous column, cut from ``full`` by one argsort.

        ``None`` (sample each chunk on its own) unless ``full`` is an unsorted
        exact sample and the chunks are disjoint: then every chunk knows the
        ranks of its values in the sorted reference (no sort, no search).
        """
        if not isinstance(full, ContinuousSample) or "sorted" in full.__dict__ or not chunks:
            return None
        labels: np.ndarray = np.full(
            encoded.size, -1, dtype=np.int8 if len(chunks) < 127 else np.int64
        )
        for i, chunk in enumerate(chunks):
            span = chunk.span
            labels[span if span is not None else chunk.positions] = i
        if np.count_nonzero(labels >= 0) != sum(len(c) for c in chunks):
            return None  # chunks overlap
        if full.missing:
            finite = np.isfinite(encoded)
            missing = np.bincount(labels[~finite] + 1, minlength=len(chunks) + 1)[1:]
            labels = labels[finite]
        else:
            missing = np.zeros(len(chunks), dtype=np.int64)
        sizes = np.array([len(c) for c in chunks], dtype=np.int64) - missing
        parts = full.split(labels, len(chunks), sizes, None if index is None else index[: full.n])
        for part, lost in zip(parts, missing, strict=True):
            part.missing = int(lost)
        return parts

    def _jobs(self, rows: int) -> int:
        return thread_count(self.n_jobs, rows, auto_min_rows=AUTO_THREADS_MIN_ROWS, cap=MAX_THREADS)

    def _map(self, fn: Callable[[str], Any], columns: Sequence[str], rows: int) -> list[Any]:
        """``[fn(c) for c in columns]``, over ``n_jobs`` threads (NumPy releases the GIL).

        The order of the results is the order of ``columns`` whatever the threads.
        """
        jobs = self._jobs(rows)
        if jobs <= 1 or len(columns) <= 1:
            return [fn(c) for c in columns]
        with ThreadPoolExecutor(max_workers=min(jobs, len(columns))) as pool:
            return list(pool.map(fn, columns))

    @staticmethod
    def _rest_factory(enc: _Column, encoded: np.ndarray, chunk: Chunk) -> Callable[[], Any]:
        cache: list[Any] = []

        def rest() -> Any:
            if not cache:
                keep = np.ones(encoded.size, dtype=bool)
                keep[chunk.positions] = False
                cache.append(enc.sample(encoded[keep], owned=True))
            return cache[0]

        return rest

    @staticmethod
    def _row(
        chunk: Chunk, sample: Any, col: str, method: DriftMethod, value: float, p: float
    ) -> dict[str, Any]:
        return {
            **chunk_fields(chunk, n=sample.n),
            "segment": None,
            "column": col,
            "method": method.name,
            "metric": method.metric,
            "value": value,
            "p_value": p,
        }

    def _apply_bounds(self, row: dict[str, Any]) -> None:
        lower, upper = self.bounds_[(row["column"], row["method"])]
        row["lower_threshold"] = np.nan if lower is None else lower
        row["upper_threshold"] = np.nan if upper is None else upper
        row["alert"] = bool(alerts(row["value"], lower, upper))

    def _calculate(self, analysis: pd.DataFrame) -> Result:
        chunks = self.chunker.split(analysis)
        # only with skip_missing_columns can a column be absent
        present = [c for c in self.encoders_ if c in analysis.columns]

        def calculate_column(col: str) -> list[dict[str, Any]]:
            enc = self.encoders_[col]
            encoded = enc.encode(analysis[col])
            out: list[dict[str, Any]] = []
            samples = []
            for chunk in chunks:
                part = chunk.take(encoded)
                samples.append(enc.sample(part, owned=part.base is None))
            for method in self.methods_[col]:
                method.prepare(samples)  # e.g. every chunk's ECDF comparison at once
            for chunk, sample in zip(chunks, samples, strict=True):
                for method in self.methods_[col]:
                    value, p = method.compute(sample)
                    row = self._row(chunk, sample, col, method, value, p)
                    self._apply_bounds(row)
                    out.append(row)
            self._release(self.methods_[col])
            return out

        parts = self._map(calculate_column, present, len(analysis))
        rows = [row for part in parts for row in part]
        return Result(rows, reference=self.reference_rows_)

    # -- profiles: a chunk computed in pieces -------------------------------------
    def profile(self, data: Any, mode: Mode | None = None) -> dict[str, ColumnProfile]:
        """Profiles of the monitored columns of ``data`` (a chunk or a piece of one).

        Profiles of pieces merge (``a + b`` or ``a.merge(b)``) into the profile
        of their union; :meth:`compare_profiles` turns merged profiles into
        the same rows :meth:`calculate` gives for that chunk.
        """
        if not self.fitted_:
            raise MonitoringError("UnivariateDriftCalculator is not fitted: call fit first")
        frame = as_pandas(data, what="data", arrow=True)
        return {
            col: enc.profile(enc.profile_values(frame[col]), mode)
            for col, enc in self.encoders_.items()
            if col in frame.columns
        }

    def compare_profiles(
        self,
        profiles: Mapping[str, ColumnProfile],
        *,
        chunk_key: str = "profile",
        chunk_index: int = 0,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Result:
        """Drift rows of one chunk given as column profiles (see :meth:`profile`)."""
        if not self.fitted_:
            raise MonitoringError("UnivariateDriftCalculator is not fitted: call fit first")
        unknown = sorted(set(profiles) - set(self.encoders_))
        if unknown:
            raise MonitoringError(f"profiles of columns the calculator does not monitor: {unknown}")
        chunk = Chunk(chunk_index, chunk_key, np.empty(0, dtype=np.int64), start, end)
        rows: list[dict[str, Any]] = []
        for col, prof in profiles.items():
            sample = self.encoders_[col].from_profile(prof)
            for method in self.methods_[col]:
                value, p = method.compute(sample)
                row = self._row(chunk, sample, col, method, value, p)
                self._apply_bounds(row)
                rows.append(row)
        return Result(rows, reference=self.reference_rows_)
