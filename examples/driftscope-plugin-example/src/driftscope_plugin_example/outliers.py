"""An outlier model with scikit-learn's ``fit`` / ``score_samples`` (higher = more normal)."""

from __future__ import annotations

from typing import Any

import numpy as np


class ZScoreDetector:
    """Scores a row by minus its largest absolute z-score against the reference."""

    def __init__(self, **_: Any) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def fit(self, X: Any) -> ZScoreDetector:  # noqa: N803 - scikit-learn's name
        x = np.asarray(X, dtype=float)
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.std_ = np.where(std > 0, std, 1.0)
        return self

    def score_samples(self, X: Any) -> np.ndarray:  # noqa: N803
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError("ZScoreDetector is not fitted")
        z = np.abs((np.asarray(X, dtype=float) - self.mean_) / self.std_)
        return -np.asarray(z.max(axis=1))
