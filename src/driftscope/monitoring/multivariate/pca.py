"""Data reconstruction error with PCA, fitted on the reference (NannyML's method).

Rows are encoded with :class:`~driftscope.monitoring.encoding.TabularEncoder`
(standardised, categorical one-hot, missing imputed), projected on the
principal components that explain ``variance`` of the reference, and
reconstructed; a chunk's value is the mean Euclidean reconstruction error
of its rows. A change in the relations between columns raises it even when
every marginal distribution stays the same. Thresholds are learned from the
reference chunks (mean +/- 3 std by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from driftscope.errors import ConfigError, InsufficientDataError
from driftscope.monitoring.base import Calculator
from driftscope.monitoring.encoding import TabularEncoder
from driftscope.monitoring.result import Result, chunk_fields
from driftscope.monitoring.thresholds import Threshold, make_threshold, with_bounds

__all__ = ["PCAReconstructionCalculator"]


class PCAReconstructionCalculator(Calculator):
    """Mean PCA reconstruction error per chunk (``method="pca"``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=3000)
    >>> ref = pd.DataFrame({"a": x, "b": x + rng.normal(0, 0.1, 3000)})
    >>> y = rng.normal(size=1000)  # same marginals, correlation broken
    >>> new = pd.DataFrame({"a": y, "b": rng.permutation(y) + rng.normal(0, 0.1, 1000)})
    >>> calc = PCAReconstructionCalculator(chunker={"type": "size", "chunk_size": 500})
    >>> calc.fit(ref).calculate(new).data["alert"].all()
    np.True_
    """

    def __init__(
        self,
        column_names: Sequence[str] | None = None,
        *,
        variance: float = 0.65,
        column_kinds: Mapping[str, str] | None = None,
        threshold: Threshold | Mapping[str, Any] | None = None,
        chunker: Any = None,
        timestamp_column: str | None = None,
    ) -> None:
        super().__init__(chunker=chunker, timestamp_column=timestamp_column)
        if not 0 < variance <= 1:
            raise ConfigError("pca.variance", f"must be in (0, 1], not {variance}")
        self.column_names = list(column_names) if column_names is not None else None
        self.variance = variance
        self.column_kinds = dict(column_kinds or {})
        self.threshold = make_threshold(threshold)  # type: ignore[arg-type]

    def required_columns(self) -> list[str]:
        return list(self.column_names or [])

    def _fit(self, reference: pd.DataFrame) -> None:
        cols = self.column_names or [
            str(c) for c in reference.columns if c != self.timestamp_column
        ]
        if len(reference) < 2:
            raise InsufficientDataError("PCA needs at least two reference rows")
        self.encoder_ = TabularEncoder(cols, self.column_kinds).fit(reference)
        x = self.encoder_.transform(reference)
        n_components: float | int = self.variance if self.variance < 1 else min(x.shape)
        from sklearn.decomposition import PCA  # lazy: import cost

        self.pca_ = PCA(n_components=n_components, svd_solver="full").fit(x)
        errors = self.errors(reference)
        rows = [self._row(c, errors[c.positions]) for c in self.chunker.split(reference)]
        self.bounds_ = self.threshold.bounds([r["value"] for r in rows], (0.0, None))
        self.reference_rows_ = [self._bounded(r) for r in rows]

    def errors(self, data: pd.DataFrame) -> np.ndarray:
        """Per-row reconstruction error."""
        x = self.encoder_.transform(data)
        back = self.pca_.inverse_transform(self.pca_.transform(x))
        return np.asarray(np.linalg.norm(x - back, axis=1), dtype=np.float64)

    def _row(self, chunk: Any, errors: np.ndarray) -> dict[str, Any]:
        value = float(errors.mean()) if errors.size else np.nan
        return {
            **chunk_fields(chunk),
            "segment": None,
            "column": "*",
            "method": "pca",
            "metric": "reconstruction_error",
            "value": value,
        }

    def _bounded(self, row: dict[str, Any]) -> dict[str, Any]:
        return with_bounds(row, *self.bounds_)

    def _calculate(self, analysis: pd.DataFrame) -> Result:
        errors = self.errors(analysis)
        chunks = self.chunker.split(analysis)
        rows = [self._bounded(self._row(c, errors[c.positions])) for c in chunks]
        return Result(rows, reference=self.reference_rows_)
