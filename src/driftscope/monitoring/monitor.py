"""``Monitor``: every figure for one table in one call (used by the service and ``analyze``).

The schema names the features and their kinds, the timestamp column, the
chunker and which families to compute: univariate drift (always),
data quality, outliers, PCA reconstruction error and the domain
classifier. With ``segment_column``, drift and quality are also computed per
segment: for each of the ``max_segments`` most frequent values of that column
in the analysis data that have at least ``min_segment_rows`` reference rows,
the calculators are fitted on that segment's reference rows and run on its
analysis rows (``segment`` holds the value). :meth:`Result.segment_ranking`
orders segments by how far they drifted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Self

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from driftscope.errors import ConfigError, MonitoringError
from driftscope.monitoring.base import Calculator, as_pandas
from driftscope.monitoring.chunking import make_chunker
from driftscope.monitoring.drift.univariate import UnivariateDriftCalculator
from driftscope.monitoring.multivariate import (
    DomainClassifierCalculator,
    PCAReconstructionCalculator,
)
from driftscope.monitoring.outliers import OutlierCalculator
from driftscope.monitoring.quality import DataQualityCalculator
from driftscope.monitoring.result import Result

__all__ = ["Monitor", "MonitorConfig"]

Progress = Callable[[str], None]


class MonitorConfig(BaseModel):
    """The monitoring schema, as YAML or the API give it."""

    model_config = ConfigDict(extra="forbid")
    features: list[str] | None = None
    """Columns to monitor; all but the timestamp (and segment) columns when empty."""
    column_kinds: dict[str, str] = Field(default_factory=dict)
    """``{column: continuous | categorical}`` overriding inference."""
    timestamp_column: str | None = None
    chunker: dict[str, Any] | None = None
    """A chunker config such as ``{"type": "size", "chunk_size": 1000}``; default 10 chunks."""
    drift: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of ``UnivariateDriftCalculator`` (methods, thresholds)."""
    mode: Literal["exact", "sketch"] = "exact"
    """Univariate drift from exact values (equal to SciPy) or from mergeable sketches."""
    quality: bool = True
    outliers: bool = False
    pca: bool = False
    domain_classifier: bool = False
    expected_features: list[str] | None = None
    segment_column: str | None = None
    max_segments: int = Field(default=10, ge=1, le=1000)
    min_segment_rows: int = Field(default=100, ge=1)


class Monitor:
    """All monitoring figures of one table: fit on reference, calculate on analysis.

    Parameters
    ----------
    config
        A :class:`MonitorConfig`, its dict, or ``None``; keyword arguments
        override its fields.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=4000), "c": rng.choice(["a", "b"], 4000)})
    >>> new = pd.DataFrame({"x": rng.normal(0.8, 1, 2000), "c": rng.choice(["a", "b"], 2000)})
    >>> mon = Monitor(chunker={"type": "size", "chunk_size": 500}).fit(ref)
    >>> result = mon.calculate(new)
    >>> result.ranking()["column"].iloc[0]
    'x'
    """

    def __init__(self, config: MonitorConfig | Mapping[str, Any] | None = None, **overrides: Any):
        raw = config.model_dump() if isinstance(config, BaseModel) else dict(config or {})
        raw.update(overrides)
        try:
            self.config = MonitorConfig.model_validate(raw)
        except Exception as exc:
            raise ConfigError("monitoring", f"invalid monitoring schema: {exc}") from exc
        make_chunker(self.config.chunker, timestamp_column=self.config.timestamp_column)
        self.fitted_ = False

    def _features(self, frame: pd.DataFrame) -> list[str]:
        cfg = self.config
        if cfg.features:
            return list(cfg.features)
        skip = {cfg.timestamp_column, cfg.segment_column}
        return [str(c) for c in frame.columns if c not in skip]

    def _calculators(self, features: Sequence[str]) -> dict[str, Calculator]:
        cfg = self.config
        common: dict[str, Any] = {
            "chunker": make_chunker(cfg.chunker, timestamp_column=cfg.timestamp_column),
            "timestamp_column": cfg.timestamp_column,
        }
        kinds = cfg.column_kinds
        drift = {"mode": cfg.mode, **cfg.drift}
        calcs: dict[str, Calculator] = {
            "drift": UnivariateDriftCalculator(
                features, column_kinds=kinds, skip_missing_columns=True, **drift, **common
            )
        }
        if cfg.quality:
            calcs["quality"] = DataQualityCalculator(
                features, column_kinds=kinds, expected_features=cfg.expected_features, **common
            )
        if cfg.outliers:
            calcs["outliers"] = OutlierCalculator(features, column_kinds=kinds, **common)
        if cfg.pca:
            calcs["pca"] = PCAReconstructionCalculator(features, column_kinds=kinds, **common)
        if cfg.domain_classifier:
            calcs["domain_classifier"] = DomainClassifierCalculator(
                features, column_kinds=kinds, **common
            )
        return calcs

    def fit(self, reference: Any, progress: Progress | None = None) -> Self:
        """Fit every calculator (and each segment's) on ``reference``."""
        frame = as_pandas(reference, what="reference")
        self.features_ = self._features(frame)
        self.calculators_ = self._calculators(self.features_)
        for name, calc in self.calculators_.items():
            if progress:
                progress(f"fit {name}")
            calc.fit(frame)
        self.reference_ = frame
        self.fitted_ = True
        return self

    def calculate(self, analysis: Any, progress: Progress | None = None) -> Result:
        """Every figure for ``analysis`` as one :class:`Result`."""
        if not self.fitted_:
            raise MonitoringError("Monitor is not fitted: call fit(reference) first")
        frame = as_pandas(analysis, what="analysis")
        parts = []
        for name, calc in self.calculators_.items():
            if progress:
                progress(f"calculate {name}")
            parts.append(calc.calculate(frame))
        if self.config.segment_column:
            parts.extend(self._segments(frame, progress))
        return Result.concat(parts)

    def _segments(self, analysis: pd.DataFrame, progress: Progress | None) -> list[Result]:
        cfg = self.config
        col = cfg.segment_column
        if col not in analysis.columns or col not in self.reference_.columns:
            raise ConfigError("segment_column", f"{col!r} is not in both reference and analysis")
        ref_counts = self.reference_[col].value_counts()
        eligible = ref_counts[ref_counts >= cfg.min_segment_rows].index
        counts = analysis[col].value_counts()
        chosen = [v for v in counts.index if v in eligible][: cfg.max_segments]
        out: list[Result] = []
        for value in chosen:
            if progress:
                progress(f"segment {col}={value}")
            ref = self.reference_[self.reference_[col] == value].reset_index(drop=True)
            new = analysis[analysis[col] == value].reset_index(drop=True)
            calcs = self._calculators(self.features_)
            for name in ("drift", "quality"):
                if name not in calcs:
                    continue
                res = calcs[name].fit(ref).calculate(new)
                res.data["segment"] = str(value)
                res.reference["segment"] = str(value)
                out.append(res)
        return out
