"""Categorical tests on the 2 x K table of reference and chunk counts.

Categories absent from both samples are dropped from the table; values the
reference never showed count as one extra category.

- ``chi2``: ``scipy.stats.chi2_contingency(table)`` (Yates' correction when
  the table is 2 x 2, as SciPy does); a single category gives 0 and p = 1.
  Computed with SciPy's arithmetic (``chdtrc`` for the p-value) directly.
- ``g_test``: the same with ``lambda_="log-likelihood"``.
- ``fisher``: ``scipy.stats.fisher_exact`` on a 2 x 2 table; the value is the
  odds ratio. NaN (no alert) when the table is not 2 x 2.
- ``two_proportion``: Z-test of the share of the reference's most frequent
  category, pooled variance; value is the signed z (chunk minus reference).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import special, stats

from driftscope.monitoring.drift.univariate.base import NAN, DriftMethod, Outcome
from driftscope.monitoring.drift.univariate.samples import CategoricalSample

__all__ = ["ChiSquared", "FisherExact", "GTest", "TwoProportionZ"]


class _TableTest(DriftMethod):
    kinds: ClassVar[tuple[Literal["categorical"], ...]] = ("categorical",)
    has_p_value = True

    def _compute(self, sample: CategoricalSample) -> Outcome:
        return self._table(self.reference.counts, sample.counts)

    def _compute_rest(self, sample: CategoricalSample, rest: Callable[[], Any]) -> Outcome:
        remaining = self.reference.counts - sample.counts
        if remaining.sum() <= 0:
            return NAN, NAN
        return self._table(remaining, sample.counts)

    def _table(self, ref: np.ndarray, chunk: np.ndarray) -> Outcome:
        table = np.vstack([ref, chunk])
        return self._test(table[:, table.sum(axis=0) > 0], ref, chunk)

    def _test(self, table: np.ndarray, ref: np.ndarray, chunk: np.ndarray) -> Outcome:
        raise NotImplementedError


class ChiSquared(_TableTest):
    """Pearson's chi-squared test of homogeneity."""

    name = "chi2"
    lambda_: ClassVar[str | None] = None

    def _test(self, table: np.ndarray, ref: np.ndarray, chunk: np.ndarray) -> Outcome:
        # scipy.stats.chi2_contingency's arithmetic without its per-call argument handling
        # (about 1 ms a call, more than the test itself on a few categories)
        dof = table.shape[1] - 1  # (2 - 1) (K - 1)
        if dof <= 0:
            return 0.0, 1.0
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
        observed = table
        if dof == 1:  # Yates' continuity correction, as SciPy applies it
            diff = expected - observed
            observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
        if self.lambda_ is None:
            statistic = float(np.sum((observed - expected) ** 2 / expected))
        else:
            statistic = float(2.0 * np.sum(special.xlogy(observed, observed / expected)))
        return statistic, float(special.chdtrc(dof, statistic))


class GTest(ChiSquared):
    """G-test (log-likelihood ratio) of homogeneity."""

    name = "g_test"
    lambda_ = "log-likelihood"


class FisherExact(_TableTest):
    """Fisher's exact test on a 2 x 2 table; value is the odds ratio."""

    name = "fisher"
    metric = "odds_ratio"
    value_limits = (0.0, None)

    def _test(self, table: np.ndarray, ref: np.ndarray, chunk: np.ndarray) -> Outcome:
        if table.shape != (2, 2):
            return NAN, NAN
        res = stats.fisher_exact(table)
        return float(res.statistic), float(res.pvalue)


class TwoProportionZ(_TableTest):
    """Two-proportion Z-test on the reference's most frequent category."""

    name = "two_proportion"
    value_limits = (None, None)

    def _fit(self, reference: CategoricalSample) -> None:
        self.category = int(np.argmax(reference.counts[:-1])) if reference.counts.size > 1 else 0

    def _test(self, table: np.ndarray, ref: np.ndarray, chunk: np.ndarray) -> Outcome:
        n1, n2 = ref.sum(), chunk.sum()
        x1, x2 = ref[self.category], chunk[self.category]
        pooled = (x1 + x2) / (n1 + n2)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
        if not se > 0:
            return NAN, NAN
        z = (x2 / n2 - x1 / n1) / se
        return float(z), float(2.0 * stats.norm.sf(abs(z)))
