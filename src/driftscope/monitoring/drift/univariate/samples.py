"""Prepared samples shared by every drift method of a column.

A continuous sample keeps its finite values and sorts them once, lazily,
with the prefix integrals of its empirical CDF that Wasserstein and energy
distance need. A categorical sample is a count vector over the reference's
categories plus one last bucket for values the reference never showed.
Histograms and other derived arrays are cached per sample (``cache``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["CategoricalSample", "ContinuousSample"]


@dataclass(eq=False)
class ContinuousSample:
    """Finite float values of one column in one chunk (or the reference)."""

    values: np.ndarray
    missing: int = 0
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    # the values are this sample's own array (not a caller's), so they may be sorted in place
    owned: bool = field(default=False, repr=False)

    @classmethod
    def from_raw(cls, raw: np.ndarray, owned: bool = False) -> ContinuousSample:
        """The finite values of ``raw``; ``owned``: nothing else uses ``raw``."""
        arr = np.asarray(raw, dtype=np.float64)
        owned = owned or arr is not raw
        finite = np.isfinite(arr)
        if finite.all():
            return cls(arr, 0, owned=owned)
        return cls(arr[finite], int(finite.size - np.count_nonzero(finite)), owned=True)

    @property
    def n(self) -> int:
        return int(self.values.size)

    @cached_property
    def sorted(self) -> np.ndarray:
        # the sorted copy replaces the values (every method is order-free), so a
        # fitted reference holds one array per column, not two
        if self.owned:
            self.values.sort()
            ordered = self.values
        else:
            ordered = np.sort(self.values)
            self.values = ordered
        return ordered

    @cached_property
    def mean(self) -> float:
        return float(self.values.mean()) if self.n else float("nan")

    @cached_property
    def var(self) -> float:
        return float(self.values.var(ddof=1)) if self.n > 1 else float("nan")

    @property
    def cdf_integrals(self) -> tuple[np.ndarray, np.ndarray]:
        """``C1[i] = int F`` and ``C2[i] = int F**2`` from the minimum up to ``sorted[i]``."""
        return self.cdf_integral_1, self.cdf_integral_2

    def _level_gaps(self, power: int) -> np.ndarray:
        """``F**power * width`` of each interval ``[sorted[l-1], sorted[l])``."""
        r = self.sorted
        level = np.arange(1, r.size, dtype=np.float64) / r.size  # F on [r[l-1], r[l])
        out: np.ndarray = np.diff(r)
        for _ in range(power):
            out *= level
        return out

    @cached_property
    def cdf_integral_1(self) -> np.ndarray:
        """``C1[i] = int F`` from the minimum up to ``sorted[i]``."""
        c1 = np.empty(self.sorted.size)
        c1[:1] = 0.0
        np.cumsum(self._level_gaps(1), out=c1[1:])
        return c1

    @cached_property
    def cdf_integral_2(self) -> np.ndarray:
        """``C2[i] = int F**2`` from the minimum up to ``sorted[i]``."""
        c2 = np.empty(self.sorted.size)
        c2[:1] = 0.0
        np.cumsum(self._level_gaps(2), out=c2[1:])
        return c2

    @cached_property
    def spread(self) -> dict[str, float]:
        """Interquartile range and standard deviation."""
        if self.n == 0:
            return {"iqr": float("nan"), "std": float("nan")}
        q1, q3 = np.quantile(self.sorted, [0.25, 0.75])
        std = float(self.values.std(ddof=1)) if self.n > 1 else float("nan")
        return {"iqr": float(q3 - q1), "std": std}


@dataclass(eq=False)
class CategoricalSample:
    """Counts over the reference categories; ``counts[-1]`` holds unseen values."""

    counts: np.ndarray
    missing: int = 0
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_codes(cls, codes: np.ndarray, n_categories: int) -> CategoricalSample:
        """``codes``: -2 missing, -1 unseen, 0..n_categories-1 reference categories."""
        # one pass: bin 0 counts missing values (-2), bin 1 unseen ones (-1)
        tally = np.bincount(np.asarray(codes) + 2, minlength=n_categories + 2)
        counts = np.empty(n_categories + 1, dtype=np.float64)
        counts[:-1] = tally[2:]
        counts[-1] = tally[1]
        return cls(counts, int(tally[0]))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def minus(self, other: CategoricalSample) -> CategoricalSample:
        return CategoricalSample(self.counts - other.counts, self.missing - other.missing)
