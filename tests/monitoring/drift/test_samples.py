"""Prepared samples: the blocked CDF offsets equal their one-pass definition exactly."""

from __future__ import annotations

import numpy as np
import pytest

from driftscope.monitoring.drift.univariate import samples
from driftscope.monitoring.drift.univariate.samples import ContinuousSample


def _offsets(r: np.ndarray) -> np.ndarray:
    n = r.size
    level = np.arange(1, n + 1, dtype=np.float64) / n
    c1 = np.concatenate(([0.0], np.cumsum(np.diff(r) * level[:-1])))
    return np.concatenate(([0.0], c1 - (r - r[0]) * level))


@pytest.mark.parametrize("extra", [-1, 0, 1, 7])
def test_cdf_offsets_across_blocks_equal_one_pass(extra):
    rng = np.random.default_rng(extra + 10)
    for n in (1, 2, 3, samples._BLOCK + extra, 3 * samples._BLOCK + extra):
        r = np.sort(np.round(rng.normal(5.0, 2.0, n), 2))  # ties included
        sample = ContinuousSample(r.copy())
        np.testing.assert_array_equal(sample.cdf_offsets, _offsets(sample.sorted))
        # int F from the minimum to x = E[j] + j / n (x - min), j = #{r <= x}
        x = float(np.median(r)) + 0.005
        j = int(np.searchsorted(r, x, side="right"))
        if 0 < j < n:
            steps = np.arange(1, j) / n * np.diff(r[:j])  # F = k / n on [r[k-1], r[k])
            direct = float(steps.sum()) + (j / n) * (x - r[j - 1])
            assert sample.cdf_offsets[j] + j / n * (x - r[0]) == pytest.approx(direct, rel=1e-9)
    empty = ContinuousSample(np.empty(0))
    assert empty.cdf_offsets.tolist() == [0.0]
