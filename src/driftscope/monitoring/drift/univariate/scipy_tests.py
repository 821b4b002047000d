"""Continuous two-sample tests computed by SciPy itself.

All four give NaN (no alert) when every value of both samples is equal.

These compare a chunk with the whole reference through SciPy, so their
values are SciPy's by construction; they cost ``O((n + m) log(n + m))`` per
chunk, more than the CDF methods, and are not defaults.

- ``mann_whitney``: ``scipy.stats.mannwhitneyu(chunk, reference)``; the value is
  ``U / (m n)``, the probability that a chunk value exceeds a reference value
  (0.5 without drift), so it does not grow with the sample size.
- ``anderson_darling``: ``scipy.stats.anderson_ksamp([chunk, reference],
  variant="midrank")``; SciPy caps its p-value to [0.001, 0.25] (the cap is
  kept, its warning silenced). NaN when all values are equal.
- ``cramer_von_mises``: ``scipy.stats.cramervonmises_2samp(chunk, reference)``;
  needs two values on each side.
- ``epps_singleton``: ``scipy.stats.epps_singleton_2samp(chunk, reference)``;
  needs five values on each side and some spread, otherwise NaN.
"""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal

from scipy import stats

from driftscope.monitoring.drift.univariate.base import NAN, DriftMethod, Outcome
from driftscope.monitoring.drift.univariate.samples import ContinuousSample

__all__ = ["AndersonDarling", "CramerVonMises", "EppsSingleton", "MannWhitney"]


class _ScipyTest(DriftMethod):
    kinds: ClassVar[tuple[Literal["continuous"], ...]] = ("continuous",)
    has_p_value = True
    min_n: ClassVar[int] = 1

    def _compute(self, sample: ContinuousSample) -> Outcome:
        if sample.n < self.min_n or self.reference.n < self.min_n:
            return NAN, NAN
        lo = min(sample.values.min(), self.reference.values.min())
        if lo == max(sample.values.max(), self.reference.values.max()):
            return NAN, NAN  # every value equal: the rank statistics are undefined
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                return self._test(sample.values, self.reference.values)
            except (ValueError, ZeroDivisionError, FloatingPointError):
                return NAN, NAN

    def _test(self, x: object, y: object) -> Outcome:
        raise NotImplementedError


class MannWhitney(_ScipyTest):
    """Mann-Whitney U test; value ``U / (m n)`` (probability of superiority)."""

    name = "mann_whitney"
    metric = "auc"
    value_limits = (0.0, 1.0)

    def _test(self, x: object, y: object) -> Outcome:
        res = stats.mannwhitneyu(x, y, alternative="two-sided")
        m, n = len(x), len(y)  # type: ignore[arg-type]
        return float(res.statistic) / (m * n), float(res.pvalue)


class AndersonDarling(_ScipyTest):
    """k-sample Anderson-Darling test (midrank variant)."""

    name = "anderson_darling"
    value_limits = (None, None)

    def _test(self, x: object, y: object) -> Outcome:
        res = stats.anderson_ksamp([x, y], variant="midrank")
        return float(res.statistic), float(res.pvalue)


class CramerVonMises(_ScipyTest):
    """Two-sample Cramer-von Mises test."""

    name = "cramer_von_mises"
    min_n = 2

    def _test(self, x: object, y: object) -> Outcome:
        res = stats.cramervonmises_2samp(x, y)
        return float(res.statistic), float(res.pvalue)


class EppsSingleton(_ScipyTest):
    """Epps-Singleton test on the empirical characteristic functions."""

    name = "epps_singleton"
    min_n = 5

    def _test(self, x: object, y: object) -> Outcome:
        res = stats.epps_singleton_2samp(x, y)
        return float(res.statistic), float(res.pvalue)
