"""A numeric matrix from a mixed table, fitted on the reference.

Continuous columns are standardised with the reference mean and standard
deviation, missing values imputed with the reference mean (0 after
scaling). Categorical columns become one-hot indicators of their
``max_categories`` most frequent reference values, plus one column for any
other value; missing values are all zeros.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from driftscope.monitoring.base import infer_column_kinds, numeric_values

__all__ = ["TabularEncoder"]


class TabularEncoder:
    """Fit on a reference frame, then ``transform`` any frame with the same columns."""

    def __init__(
        self,
        columns: Sequence[str],
        column_kinds: Mapping[str, str] | None = None,
        max_categories: int = 20,
    ) -> None:
        self.columns = list(columns)
        self.column_kinds = dict(column_kinds or {})
        self.max_categories = max_categories

    def fit(self, reference: pd.DataFrame) -> TabularEncoder:
        self.kinds_ = infer_column_kinds(reference, self.columns, self.column_kinds)
        self.stats_: dict[str, tuple[float, float]] = {}
        self.categories_: dict[str, pd.Index] = {}
        for col in self.columns:
            if self.kinds_[col] == "continuous":
                v = numeric_values(reference[col])
                v = v[np.isfinite(v)]
                mean = float(v.mean()) if v.size else 0.0
                std = float(v.std()) if v.size > 1 else 0.0
                self.stats_[col] = (mean, std if std > 0 else 1.0)
            else:
                top = reference[col].dropna().value_counts().index[: self.max_categories]
                self.categories_[col] = pd.Index(top)
        return self

    @property
    def n_features(self) -> int:
        return len(self.stats_) + sum(len(c) + 1 for c in self.categories_.values())

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        n = len(frame)
        blocks: list[np.ndarray] = []
        for col in self.columns:
            if self.kinds_[col] == "continuous":
                mean, std = self.stats_[col]
                v = numeric_values(frame[col]) if col in frame.columns else np.full(n, np.nan)
                v = (v - mean) / std
                blocks.append(np.where(np.isfinite(v), v, 0.0)[:, None])
            else:
                cats = self.categories_[col]
                series = frame[col] if col in frame.columns else pd.Series([None] * n)
                codes = cats.get_indexer(series)
                codes = np.where(codes == -1, len(cats), codes)
                codes = np.where(series.isna().to_numpy(), -1, codes)
                onehot = np.zeros((n, len(cats) + 1))
                ok = codes >= 0
                onehot[np.flatnonzero(ok), codes[ok]] = 1.0
                blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.zeros((n, 0))
