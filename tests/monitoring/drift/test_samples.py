"""Prepared samples: the CDF offsets (blocked NumPy sums, or compiled) equal their definition."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from driftscope.monitoring.drift.univariate import jit, samples
from driftscope.monitoring.drift.univariate.samples import ContinuousSample


def _offsets(r: np.ndarray) -> np.ndarray:
    n = r.size
    level = np.arange(1, n + 1, dtype=np.float64) / n
    c1 = np.concatenate(([0.0], np.cumsum(np.diff(r) * level[:-1])))
    return np.concatenate(([0.0], c1 - (r - r[0]) * level))


def _check(got: np.ndarray, want: np.ndarray, compiled: bool) -> None:
    if compiled:  # levels j * (1 / n) instead of j / n: equal up to rounding
        scale = np.abs(want).max() if want.size else 1.0
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14 * scale)
    else:  # the blocked NumPy sums are those of one cumsum, exactly
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("extra", [-1, 0, 1, 7])
def test_cdf_offsets_across_blocks_equal_one_pass(extra, compiled):
    if compiled:
        assert jit.kernels() is not None  # Numba is a dependency: the compiled path runs
        context = contextlib.nullcontext()
    else:
        context = jit.disabled()
    with context:
        _offsets_cases(extra, compiled)


def _offsets_cases(extra: int, compiled: bool) -> None:
    rng = np.random.default_rng(extra + 10)
    for n in (1, 2, 3, samples._BLOCK + extra, 3 * samples._BLOCK + extra):
        r = np.sort(np.round(rng.normal(5.0, 2.0, n), 2))  # ties included
        sample = ContinuousSample(r.copy())
        _check(sample.cdf_offsets, _offsets(sample.sorted), compiled)
        # int F from the minimum to x = E[j] + j / n (x - min), j = #{r <= x}
        x = float(np.median(r)) + 0.005
        j = int(np.searchsorted(r, x, side="right"))
        if 0 < j < n:
            steps = np.arange(1, j) / n * np.diff(r[:j])  # F = k / n on [r[k-1], r[k])
            direct = float(steps.sum()) + (j / n) * (x - r[j - 1])
            assert sample.cdf_offsets[j] + j / n * (x - r[0]) == pytest.approx(direct, rel=1e-9)
    empty = ContinuousSample(np.empty(0))
    assert empty.cdf_offsets.tolist() == [0.0]
