"""Sketch mode: drift figures computed from mergeable column profiles.

In ``mode="sketch"`` the calculator never keeps a column's values. Each
chunk (and the reference) becomes a :class:`~driftscope.monitoring.profiles.ColumnProfile`
in sketch mode, which can be built in pieces and merged (the Spark engine
profiles partitions); the methods then read the profile:

- a continuous profile becomes a :class:`ContinuousSketch`: exact count, mean
  and variance (Chan's merge), and the KLL sketch's retained items with their
  weights, i.e. a step CDF ``F^``. At one point, ``|F^(x) - F(x)| <= eps``
  with 99% confidence (``eps = rank_error``, DataSketches' single-sided
  bound, about 1.3% at ``k=200``; 0 while the sketch still holds every
  value). Figures that read the whole CDF at once use ``E = ALL_POINTS * eps``
  (``ALL_POINTS = 3``): over 300 trials of 3k to 200k values the largest
  error over the whole CDF was 1.93 ``eps`` (99th percentile 1.27 ``eps``);
- a categorical profile becomes a ``CategoricalSample``
  of frequent-items estimates over the reference's categories (exact while
  the column has fewer distinct values than the sketch tracks, ``0.75 *
  2**lg_max_k``; otherwise within ``epsilon * n`` per count).

Documented error bounds of a sketch-mode value against the exact value, with
``e = E_reference + E_chunk`` (``ContinuousSketch.cdf_error`` of each side)
and ``B`` bins (each test in ``tests/monitoring/drift/test_sketch_mode.py``):

========================  ======================================================
method                    bound
========================  ======================================================
ks                        ``e``
kuiper                    ``2 e``
wasserstein               ``e * (max - min)`` over both samples' range
z_test, t_test            none needed: exact moments (equal up to float rounding)
categorical methods       none while the categories fit the frequent-items
                          sketch (then its counts are exact)
binned continuous         the edges are the reference sketch's quantiles, each
                          within ``E_reference`` in rank of NumPy's; on those
                          edges every bin's share is within ``2 E`` of the exact
                          share, so ``l_infinity`` is within ``2 e``, ``tvd``
                          within ``B e``, ``jensen_shannon`` within
                          ``sqrt(B E_reference) + sqrt(B E_chunk)`` (a metric, and
                          JS divergence <= total variation); Hellinger, PSI and
                          KL have no bound beyond the per-bin one
========================  ======================================================

The binned worst cases are loose (``B = 20`` at ``k = 200``: JS within 0.5);
the differences seen are about ``eps`` (0.013 for JS at 50k rows). Raise
``sketch_k`` for tighter figures: ``eps`` falls roughly as ``1 / k``. The
sketch error adds to the sampling noise, and thresholds learned from a few
reference chunks may not cover it: with 10k-row chunks the KS sampling noise
(~0.009) and ``eps`` at ``k = 200`` (0.013) are alike, and the benchmark saw
one or two extra alerting columns (out of 20 undrifted) on some runs.

``wasserstein_norm`` divides by the sketch's IQR. Reference chunks compared
with the rest of the reference use the same identities as exact mode
(``F_rest - F_chunk = n / (n - m) (F_ref - F_chunk)``, counts subtract), so
their bound grows by ``n / (n - m)``. Methods that need every value
(energy distance, the rank tests, Anderson-Darling, Cramer-von Mises,
Epps-Singleton) and ``binning="auto"`` are refused in sketch mode with a
:class:`~driftscope.errors.ConfigError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from driftscope.monitoring.drift.univariate.samples import CategoricalSample
from driftscope.monitoring.profiles import ColumnProfile

__all__ = [
    "ALL_POINTS",
    "SKETCH_METHODS",
    "ContinuousSketch",
    "categorical_from_profile",
    "sketch_cdf_l1",
    "sketch_gaps",
]

#: Factor from the per-point KLL bound to the whole-CDF bound (see the module docstring).
ALL_POINTS = 3.0

#: Methods that can be computed from profiles (sketch mode).
SKETCH_METHODS = frozenset(
    {
        "ks",
        "kuiper",
        "wasserstein",
        "wasserstein_norm",
        "jensen_shannon",
        "hellinger",
        "psi",
        "kl",
        "l_infinity",
        "tvd",
        "z_test",
        "t_test",
        "chi2",
        "g_test",
        "fisher",
        "two_proportion",
    }
)


@dataclass(eq=False)
class ContinuousSketch:
    """A continuous column's profile read as a weighted sample (see the module docstring)."""

    profile: ColumnProfile
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_values(cls, raw: np.ndarray, k: int = 200) -> ContinuousSketch:
        return cls(ColumnProfile("continuous", "sketch", k=k).update(raw))

    @property
    def n(self) -> int:
        return int(self.profile.n)

    @property
    def missing(self) -> int:
        return int(self.profile.missing)

    @property
    def mean(self) -> float:
        return float(self.profile.mean) if self.n else float("nan")

    @property
    def var(self) -> float:
        return float(self.profile.variance)

    @property
    def rank_error(self) -> float:
        kll = self.profile.kll
        if kll is None or not kll.is_estimation_mode():
            return 0.0  # every value is still held: the step CDF is exact
        return float(kll.normalized_rank_error(False))

    @property
    def cdf_error(self) -> float:
        """Bound on ``max_x |F^(x) - F(x)|`` (``ALL_POINTS * rank_error``)."""
        return ALL_POINTS * self.rank_error

    @cached_property
    def _steps(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct retained items and the sketch CDF ``P(X <= x)`` at each."""
        kll = self.profile.kll
        if kll is None or self.n == 0:
            return np.empty(0), np.empty(0)
        pairs = np.array(list(kll), dtype=np.float64).reshape(-1, 2)
        order = np.argsort(pairs[:, 0], kind="stable")
        items, weights = pairs[order, 0], pairs[order, 1]
        cum = np.cumsum(weights)
        last = np.append(items[1:] != items[:-1], True)
        return items[last], cum[last] / cum[-1]

    @property
    def points(self) -> np.ndarray:
        return self._steps[0]

    def cdf(self, x: np.ndarray, *, strict: bool = False) -> np.ndarray:
        """Sketch CDF at ``x``: ``P(X <= x)``, or ``P(X < x)`` with ``strict``."""
        items, cum = self._steps
        idx = np.searchsorted(items, x, side="left" if strict else "right")
        return np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)

    def quantiles(self, qs: np.ndarray) -> np.ndarray:
        if self.n == 0 or self.profile.kll is None:
            return np.full(np.shape(qs), np.nan)
        return np.asarray(self.profile.kll.get_quantiles(list(map(float, qs))), dtype=np.float64)

    @cached_property
    def spread(self) -> dict[str, float]:
        """Interquartile range (from the sketch) and standard deviation (exact)."""
        if self.n == 0:
            return {"iqr": float("nan"), "std": float("nan")}
        q1, q3 = self.quantiles(np.array([0.25, 0.75]))
        return {"iqr": float(q3 - q1), "std": float(np.sqrt(self.var)) if self.n > 1 else np.nan}


def sketch_gaps(ref: ContinuousSketch, chunk: ContinuousSketch) -> tuple[float, float]:
    """``(max(F_chunk - F_ref), max(F_ref - F_chunk))`` of the two step CDFs, each >= 0.

    Both CDFs are right-continuous steps at their retained items, so the
    suprema are attained on the union of those items.
    """
    grid = np.union1d(ref.points, chunk.points)
    diff = chunk.cdf(grid) - ref.cdf(grid)
    return max(float(diff.max(initial=0.0)), 0.0), max(float(-diff.min(initial=0.0)), 0.0)


def sketch_cdf_l1(ref: ContinuousSketch, chunk: ContinuousSketch) -> float:
    """``int |F_ref - F_chunk| dx`` of the two step CDFs (exact for the steps)."""
    grid = np.union1d(ref.points, chunk.points)
    if grid.size < 2:
        return 0.0
    diff = np.abs(chunk.cdf(grid[:-1]) - ref.cdf(grid[:-1]))
    return float(np.sum(diff * np.diff(grid)))


def sketch_histogram(sample: ContinuousSketch, edges: np.ndarray) -> np.ndarray:
    """Estimated counts in ``(-inf, e0), [e0, e1), ..., [e_last, inf)`` (as the exact histogram)."""
    below = sample.cdf(edges, strict=True) * sample.n
    return np.diff(np.concatenate(([0.0], below, [float(sample.n)])))


def categorical_from_profile(profile: ColumnProfile, categories: list[str]) -> CategoricalSample:
    """Counts over ``categories`` (string keys) plus the unseen bucket, from a profile."""
    if profile.items is not None:
        found = [float(profile.items.get_estimate(c)) for c in categories]
    else:
        found = [float(profile.counts.get(c, 0)) for c in categories]
    counts = np.array([*found, 0.0], dtype=np.float64)
    counts[-1] = max(float(profile.n) - counts[:-1].sum(), 0.0)
    return CategoricalSample(counts, int(profile.missing))
