"""Per-chunk data quality figures with thresholds learned from the reference chunks.

Rows use ``method="quality"`` and these metrics, per column:

- ``missing_rate``: share of missing values (NaN, None, NaT);
- continuous: ``out_of_range_rate`` (outside the reference's [min, max]; on the
  reference chunks, each chunk against the range of the others, so the learned
  bounds say how often undrifted data lands outside),
  ``mean``, ``std``, ``q05``, ``q50``, ``q95``;
- categorical: ``unseen_rate`` (values the reference never showed, among
  non-missing; on the reference chunks, against the other chunks' categories)
  and ``cardinality`` (distinct non-missing values);

and ``row_count`` for column ``"*"``. Schema issues (see
:func:`~driftscope.monitoring.quality.schema.check_schema`) are rows with
``method="schema"``, ``chunk_key="schema"``, ``value=1`` and ``alert=True``.
A chunk where a statistic is undefined (no values) gives NaN, no alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from driftscope.monitoring.base import Calculator, infer_column_kinds, numeric_values
from driftscope.monitoring.chunking import Chunk
from driftscope.monitoring.quality.schema import check_schema
from driftscope.monitoring.result import Result, chunk_fields
from driftscope.monitoring.thresholds import Threshold, make_threshold, with_bounds

__all__ = ["DataQualityCalculator"]

RATE_LIMITS: tuple[float | None, float | None] = (0.0, 1.0)
QUANTILES = {"q05": 0.05, "q50": 0.5, "q95": 0.95}


class DataQualityCalculator(Calculator):
    """Schema, missing values, unseen categories, ranges, volume and summary statistics.

    Parameters
    ----------
    column_names
        Columns to check; ``None`` means every reference column but the timestamp.
    column_kinds
        Kind overrides (``continuous`` / ``categorical``).
    expected_features
        Feature names the model was trained with (reported when missing).
    thresholds
        A threshold for all metrics or a mapping ``metric | "column:metric" | "*"``;
        default ``StandardDeviationThreshold(3, 3)`` from the reference chunks.

    Examples
    --------
    >>> import pandas as pd
    >>> ref = pd.DataFrame({"x": [float(i % 10) for i in range(400)]})
    >>> new = pd.DataFrame({"x": [None if i % 2 else 50.0 for i in range(200)]})
    >>> res = DataQualityCalculator(chunker={"type": "size", "chunk_size": 100}).fit(ref)
    >>> out = res.calculate(new).filter(metric=["missing_rate", "out_of_range_rate"]).data
    >>> out[["metric", "value", "alert"]].drop_duplicates().to_dict("records")
    [{'metric': 'missing_rate', 'value': 0.5, 'alert': True}, {'metric': 'out_of_range_rate', \
'value': 1.0, 'alert': True}]
    """

    def __init__(
        self,
        column_names: Sequence[str] | None = None,
        *,
        column_kinds: Mapping[str, str] | None = None,
        expected_features: Sequence[str] | None = None,
        thresholds: Threshold | Mapping[str, Any] | None = None,
        chunker: Any = None,
        timestamp_column: str | None = None,
    ) -> None:
        super().__init__(chunker=chunker, timestamp_column=timestamp_column)
        self.column_names = list(column_names) if column_names is not None else None
        self.column_kinds = dict(column_kinds or {})
        self.expected_features = list(expected_features or [])
        self.thresholds = thresholds

    def _threshold(self, column: str, metric: str) -> Threshold:
        spec = self.thresholds
        if isinstance(spec, Mapping):
            for key in (f"{column}:{metric}", metric, "*"):
                if key in spec:
                    return make_threshold(spec[key])
            return make_threshold(None)
        return make_threshold(spec)

    def _fit(self, reference: pd.DataFrame) -> None:
        ts = self.timestamp_column
        cols = self.column_names or [str(c) for c in reference.columns if c != ts]
        self.columns_ = cols
        self.kinds_ = infer_column_kinds(reference, cols, self.column_kinds)
        self.reference_head_ = reference.head(0)
        self.ranges_: dict[str, tuple[float, float]] = {}
        self.categories_: dict[str, pd.Index] = {}
        for col in cols:
            if self.kinds_[col] == "continuous":
                ref_values = numeric_values(reference[col])
                finite = ref_values[np.isfinite(ref_values)]
                self.ranges_[col] = (
                    (float(finite.min()), float(finite.max())) if finite.size else (np.nan, np.nan)
                )
            else:
                self.categories_[col] = pd.Index(pd.unique(reference[col].dropna()))
        ref_chunks = self.chunker.split(reference)
        rows = self._rows(reference, ref_chunks, cols)
        self._leave_one_out(reference, ref_chunks, rows)
        values: dict[tuple[str, str], list[float]] = {}
        for row in rows:
            values.setdefault((row["column"], row["metric"]), []).append(row["value"])
        self.bounds_: dict[tuple[str, str], tuple[float | None, float | None]] = {}
        for (col, metric), vals in values.items():
            limits: tuple[float | None, float | None] = (None, None)
            if metric.endswith("_rate"):
                limits = RATE_LIMITS
            if metric in ("row_count", "cardinality"):
                limits = (0.0, None)
            self.bounds_[(col, metric)] = self._threshold(col, metric).bounds(vals, limits)
        self.reference_rows_ = [self._bounded(r) for r in rows]

    def _leave_one_out(
        self, reference: pd.DataFrame, chunks: list[Chunk], rows: list[dict[str, Any]]
    ) -> None:
        """Reference ``out_of_range_rate`` and ``unseen_rate``: each chunk against the rest.

        Against the whole reference both rates are 0 on every reference chunk by
        construction, so bounds learned from them would be (0, 0) and any new
        extreme value would alert. Chunk ``i`` is compared with the range (or the
        categories) of the other reference chunks instead: how often a chunk of
        undrifted data falls outside what the rest showed. With a single
        reference chunk the values stay as they are.
        """
        if len(chunks) < 2:
            return
        loo: dict[tuple[str, str, int], float] = {}
        for col in self.columns_:
            if self.kinds_[col] == "continuous":
                values = numeric_values(reference[col])
                parts = [values[c.positions] for c in chunks]
                parts = [v[np.isfinite(v)] for v in parts]
                mins = np.array([v.min() if v.size else np.inf for v in parts])
                maxs = np.array([v.max() if v.size else -np.inf for v in parts])
                for i, (chunk, v) in enumerate(zip(chunks, parts, strict=True)):
                    if not v.size:
                        continue
                    lo, hi = np.delete(mins, i).min(), np.delete(maxs, i).max()
                    loo[(col, "out_of_range_rate", chunk.index)] = float(
                        ((v < lo) | (v > hi)).mean()
                    )
            else:
                _, codes = _codes(reference[col], pd.Index(self.categories_[col]))
                n_cat = len(self.categories_[col])
                present_in = np.zeros((len(chunks), n_cat), dtype=bool)
                chunk_codes = []
                for i, chunk in enumerate(chunks):
                    c = codes[chunk.positions]
                    c = c[c >= 0]
                    chunk_codes.append(c)
                    present_in[i, c] = True
                n_chunks_with = present_in.sum(axis=0)
                for chunk, c in zip(chunks, chunk_codes, strict=True):
                    if not c.size:
                        continue
                    # a category seen in this chunk only is unseen by the others
                    loo[(col, "unseen_rate", chunk.index)] = float((n_chunks_with[c] == 1).mean())
        for row in rows:
            key = (row["column"], row["metric"], row["chunk_index"])
            if key in loo:
                row["value"] = loo[key]

    def _bounded(self, row: dict[str, Any]) -> dict[str, Any]:
        return with_bounds(row, *self.bounds_.get((row["column"], row["metric"]), (None, None)))

    def _rows(self, frame: pd.DataFrame, chunks: list[Chunk], cols: list[str]) -> list[dict]:
        rows: list[dict[str, Any]] = []

        def add(chunk: Chunk, col: str, metric: str, value: float, n: int) -> None:
            rows.append(
                {
                    **chunk_fields(chunk, n=n),
                    "segment": None,
                    "column": col,
                    "method": "quality",
                    "metric": metric,
                    "value": float(value),
                }
            )

        for chunk in chunks:
            add(chunk, "*", "row_count", len(chunk), len(chunk))
        for col in cols:
            if col not in frame.columns:
                continue
            series = frame[col]
            isna = series.isna().to_numpy()
            if self.kinds_[col] == "continuous":
                values = numeric_values(series)
                lo, hi = self.ranges_[col]
                for chunk in chunks:
                    v = values[chunk.positions]
                    v = v[np.isfinite(v)]
                    m = len(chunk)
                    nan = np.nan
                    add(chunk, col, "missing_rate", isna[chunk.positions].mean() if m else nan, m)
                    k = v.size
                    outside = ((v < lo) | (v > hi)).mean() if k else nan
                    add(chunk, col, "out_of_range_rate", outside, k)
                    add(chunk, col, "mean", v.mean() if k else nan, k)
                    add(chunk, col, "std", v.std(ddof=1) if k > 1 else nan, k)
                    qs = np.quantile(v, list(QUANTILES.values())) if k else [nan] * len(QUANTILES)
                    for name, q in zip(QUANTILES, qs, strict=True):
                        add(chunk, col, name, q, k)
            else:
                local, codes = _codes(series, self.categories_[col])
                n_local = int(local.max()) + 1 if local.size else 0
                for chunk in chunks:
                    c = codes[chunk.positions]
                    present = ~isna[chunk.positions]
                    m, k = len(chunk), int(present.sum())
                    add(chunk, col, "missing_rate", (~present).mean() if m else np.nan, m)
                    unseen = ((c == -1) & present).sum() / k if k else np.nan
                    add(chunk, col, "unseen_rate", unseen, k)
                    seen = local[chunk.positions]
                    counts = np.bincount(seen[seen >= 0], minlength=n_local)
                    distinct = int(np.count_nonzero(counts))
                    add(chunk, col, "cardinality", distinct, k)
        return rows

    def _calculate(self, analysis: pd.DataFrame) -> Result:
        chunks = self.chunker.split(analysis)
        rows = [self._bounded(r) for r in self._rows(analysis, chunks, self.columns_)]
        ignore = [self.timestamp_column or ""]
        issues = check_schema(self.reference_head_, analysis, self.expected_features, ignore)
        for issue in issues:
            rows.append(
                {
                    "chunk_index": -1,
                    "chunk_key": "schema",
                    "n": len(analysis),
                    "segment": None,
                    "column": issue.column,
                    "method": "schema",
                    "metric": issue.kind,
                    "value": 1.0,
                    "alert": True,
                }
            )
        return Result(rows, reference=self.reference_rows_)

    def required_columns(self) -> list[str]:
        return []


def _codes(series: pd.Series, categories: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """``(factorize codes, positions in categories)``; -1 for missing and unknown values.

    One lookup per distinct value instead of one per row.
    """
    local, uniques = pd.factorize(series, use_na_sentinel=True)
    lookup = np.append(np.asarray(categories.get_indexer(uniques), dtype=np.int64), -1)
    return np.asarray(local, dtype=np.int64), lookup[local]
