"""Tests of means: Welch's t-test and the Z-test of means.

Both use the statistic ``(mean_chunk - mean_ref) / sqrt(var_chunk/m + var_ref/n)``
(sample variances), exactly ``scipy.stats.ttest_ind(chunk, reference,
equal_var=False).statistic``; ``t_test`` takes its p-value from Student's t
with Welch's degrees of freedom (as SciPy), ``z_test`` from the normal
distribution (right for large samples). Fewer than two values on either
side, or zero variance on both, gives NaN (no alert).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import stats

from driftscope.monitoring.drift.univariate.base import NAN, DriftMethod, Outcome
from driftscope.monitoring.drift.univariate.samples import ContinuousSample

__all__ = ["TTest", "ZTest"]


def _welch(mean1: float, var1: float, n1: int, mean2: float, var2: float, n2: int) -> Any:
    if n1 < 2 or n2 < 2:
        return None
    se2 = var1 / n1 + var2 / n2
    if not se2 > 0:
        return None
    t = (mean1 - mean2) / np.sqrt(se2)
    df = se2**2 / ((var1 / n1) ** 2 / (n1 - 1) + (var2 / n2) ** 2 / (n2 - 1))
    return float(t), float(df)


class _MeanTest(DriftMethod):
    kinds: ClassVar[tuple[Literal["continuous"], ...]] = ("continuous",)
    has_p_value = True
    value_limits = (None, None)

    def _stats(self, sample: ContinuousSample, mean: float, var: float, n: int) -> Outcome:
        out = _welch(sample.mean, sample.var, sample.n, mean, var, n)
        if out is None:
            return NAN, NAN
        return out[0], self._p(*out)

    def _p(self, t: float, df: float) -> float:
        raise NotImplementedError

    def _compute(self, sample: ContinuousSample) -> Outcome:
        ref = self.reference
        return self._stats(sample, ref.mean, ref.var, ref.n)

    def _compute_rest(self, sample: ContinuousSample, rest: Callable[[], Any]) -> Outcome:
        ref = self.reference
        n, m = ref.n, sample.n
        k = n - m
        if k < 2 or m < 1:
            return NAN, NAN
        # reference minus chunk, by reversing Chan's pooled-moments update
        mean_rest = (n * ref.mean - m * sample.mean) / k
        m2_ref = ref.var * (n - 1)
        m2_chunk = sample.var * (m - 1) if m > 1 else 0.0
        m2_rest = m2_ref - m2_chunk - (sample.mean - mean_rest) ** 2 * m * k / n
        return self._stats(sample, mean_rest, max(m2_rest, 0.0) / (k - 1), k)


class TTest(_MeanTest):
    """Welch's t-test of means (``scipy.stats.ttest_ind(..., equal_var=False)``)."""

    name = "t_test"

    def _p(self, t: float, df: float) -> float:
        return float(2.0 * stats.t.sf(abs(t), df))


class ZTest(_MeanTest):
    """Z-test of means with sample variances (normal p-value)."""

    name = "z_test"

    def _p(self, t: float, df: float) -> float:
        return float(2.0 * stats.norm.sf(abs(t)))
