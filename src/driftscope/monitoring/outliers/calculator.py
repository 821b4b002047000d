"""Outlier rate per chunk from a detector fitted on the reference.

The detector is any object with scikit-learn's ``fit(X)`` and
``score_samples(X)`` (higher = more normal): ``"isolation_forest"`` (the
default), ``"lof"`` (LocalOutlierFactor in novelty mode), a class
registered in :data:`outlier_detectors` (entry-point group
``driftscope.outliers``), or ``"package.module:Class"``. Rows are encoded
by :class:`~driftscope.monitoring.encoding.TabularEncoder`. A row is an
outlier when its score (``-score_samples``, higher = more outlying) is above
the reference's ``1 - contamination`` quantile; the rate per chunk gets
thresholds learned from the reference chunks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from driftscope.errors import ConfigError
from driftscope.monitoring.base import Calculator
from driftscope.monitoring.encoding import TabularEncoder
from driftscope.monitoring.result import Result, chunk_fields
from driftscope.monitoring.thresholds import Threshold, make_threshold, with_bounds
from driftscope.registry import Registry

__all__ = ["OutlierCalculator", "outlier_detectors"]

outlier_detectors: Registry[Any] = Registry("outliers")


def _isolation_forest(**kw: Any) -> Any:
    from sklearn.ensemble import IsolationForest  # lazy: import cost

    return IsolationForest(**kw)


def _lof(**kw: Any) -> Any:
    from sklearn.neighbors import LocalOutlierFactor

    return LocalOutlierFactor(novelty=True, **kw)


outlier_detectors.add("isolation_forest", _isolation_forest)
outlier_detectors.add("lof", _lof)


class OutlierCalculator(Calculator):
    """Outlier rate per chunk (``method="outliers"``, ``metric="outlier_rate"``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.normal(size=2000)})
    >>> new = pd.DataFrame({"x": rng.normal(size=1000), "y": rng.normal(size=1000)})
    >>> new.loc[500:, "x"] += 8
    >>> calc = OutlierCalculator(chunker={"type": "size", "chunk_size": 500}).fit(ref)
    >>> calc.calculate(new).data["alert"].tolist()
    [False, True]
    """

    def __init__(
        self,
        column_names: Sequence[str] | None = None,
        *,
        detector: str | Any = "isolation_forest",
        detector_params: Mapping[str, Any] | None = None,
        contamination: float = 0.01,
        column_kinds: Mapping[str, str] | None = None,
        threshold: Threshold | Mapping[str, Any] | None = None,
        chunker: Any = None,
        timestamp_column: str | None = None,
        random_state: int = 0,
    ) -> None:
        super().__init__(chunker=chunker, timestamp_column=timestamp_column)
        if not 0 < contamination < 0.5:
            raise ConfigError("outliers.contamination", f"must be in (0, 0.5), not {contamination}")
        self.column_names = list(column_names) if column_names is not None else None
        self.detector = detector
        self.detector_params = dict(detector_params or {})
        self.contamination = contamination
        self.column_kinds = dict(column_kinds or {})
        self.threshold = make_threshold(threshold)  # type: ignore[arg-type]
        self.random_state = random_state

    def _make_detector(self) -> Any:
        if not isinstance(self.detector, str):
            return self.detector
        factory = outlier_detectors.get(self.detector)
        params = dict(self.detector_params)
        if self.detector == "isolation_forest":
            params.setdefault("random_state", self.random_state)
        try:
            return factory(**params)
        except TypeError as exc:
            raise ConfigError("outliers.detector_params", f"{params!r}: {exc}") from exc

    def required_columns(self) -> list[str]:
        return list(self.column_names or [])

    def _fit(self, reference: pd.DataFrame) -> None:
        cols = self.column_names or [
            str(c) for c in reference.columns if c != self.timestamp_column
        ]
        self.encoder_ = TabularEncoder(cols, self.column_kinds).fit(reference)
        x = self.encoder_.transform(reference)
        self.model_ = self._make_detector()
        self.model_.fit(x)
        ref_scores = -np.asarray(self.model_.score_samples(x), dtype=np.float64)
        self.cutoff_ = float(np.quantile(ref_scores, 1.0 - self.contamination))
        chunks = self.chunker.split(reference)
        rows = [self._row(c, ref_scores[c.positions]) for c in chunks]
        self.bounds_ = self.threshold.bounds([r["value"] for r in rows], (0.0, 1.0))
        self.reference_rows_ = [self._bounded(r) for r in rows]

    def scores(self, data: Any) -> np.ndarray:
        """Per-row outlier scores (higher = more outlying) for ``data``."""
        from driftscope.monitoring.base import as_pandas

        x = self.encoder_.transform(as_pandas(data, what="data"))
        return -np.asarray(self.model_.score_samples(x), dtype=np.float64)

    def _row(self, chunk: Any, scores: np.ndarray) -> dict[str, Any]:
        rate = float((scores > self.cutoff_).mean()) if scores.size else np.nan
        return {
            **chunk_fields(chunk),
            "segment": None,
            "column": "*",
            "method": "outliers",
            "metric": "outlier_rate",
            "value": rate,
        }

    def _bounded(self, row: dict[str, Any]) -> dict[str, Any]:
        return with_bounds(row, *self.bounds_)

    def _calculate(self, analysis: pd.DataFrame) -> Result:
        scores = self.scores(analysis)
        chunks = self.chunker.split(analysis)
        rows = [self._bounded(self._row(c, scores[c.positions])) for c in chunks]
        return Result(rows, reference=self.reference_rows_)
