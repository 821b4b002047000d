"""The blocked ECDF comparison (NumPy path) and the packed argsort, against SciPy and NumPy.

Chunks here span several blocks of the comparison (``ecdf._POINT_BLOCK``
values each), with and without ties, and the methods of a column share one
comparison of each chunk, as they do in the calculator. The compiled loops
are off in this module (they have test_ecdf_kernels.py): this is the path
that runs where Numba does not import.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from driftscope.monitoring import UnivariateDriftCalculator
from driftscope.monitoring.drift.univariate import (
    ContinuousSample,
    ecdf,
    jit,
    make_method,
    samples,
)
from driftscope.monitoring.drift.univariate.samples import argsort_floats

RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def _numpy_path():
    with jit.disabled():
        yield


BLOCKS = 3 * ecdf._POINT_BLOCK + 17  # a chunk of more than three blocks


def _data(ties: bool, n: int, shift: float = 0.0) -> np.ndarray:
    x = RNG.normal(shift, 1.0, n)
    return np.round(x, 2) if ties else x


@pytest.mark.parametrize("ties", [False, True])
def test_methods_sharing_one_comparison_equal_scipy_across_blocks(ties):
    ref, chunk = _data(ties, 60_000), _data(ties, BLOCKS, 0.05)
    reference = ContinuousSample.from_raw(ref)
    methods = {
        name: make_method(name).fit(reference) for name in ("ks", "kuiper", "wasserstein", "energy")
    }
    sample = ContinuousSample.from_raw(chunk)
    got = {name: m.compute(sample) for name, m in methods.items()}
    ks = stats.ks_2samp(ref, chunk)
    assert got["ks"] == pytest.approx((ks.statistic, ks.pvalue), rel=1e-9, abs=1e-15)
    assert got["wasserstein"][0] == pytest.approx(stats.wasserstein_distance(ref, chunk), rel=1e-9)
    assert got["energy"][0] == pytest.approx(stats.energy_distance(ref, chunk), rel=1e-7)
    grid = np.concatenate([ref, chunk])
    f_ref = np.searchsorted(np.sort(ref), grid, side="right") / ref.size
    f_chk = np.searchsorted(np.sort(chunk), grid, side="right") / chunk.size
    kuiper = max((f_chk - f_ref).max(), 0) + max((f_ref - f_chk).max(), 0)
    assert got["kuiper"][0] == pytest.approx(kuiper, rel=1e-12)
    # one comparison per chunk, shared by the four methods
    assert [k for k in sample.cache if k[0] == "ecdf"] == [("ecdf", id(reference))]


@pytest.mark.parametrize("ties", [False, True])
def test_reference_chunks_equal_scipy_against_the_rest_of_the_reference(ties):
    ref = _data(ties, 3 * BLOCKS)
    calc = UnivariateDriftCalculator(
        ["x"],
        column_kinds={"x": "continuous"},
        continuous_methods=["ks", "wasserstein", "energy"],
        chunker={"type": "count", "chunk_number": 3},
        n_jobs=1,
    ).fit(pd.DataFrame({"x": ref}))
    rows = pd.DataFrame(calc.reference_rows_)
    assert len(rows) == 9
    for row in rows.itertuples():
        part = ref[row.chunk_index * BLOCKS : (row.chunk_index + 1) * BLOCKS]
        rest = np.delete(ref, np.s_[row.chunk_index * BLOCKS : (row.chunk_index + 1) * BLOCKS])
        if row.method == "ks":
            expected = stats.ks_2samp(part, rest).statistic
        elif row.method == "wasserstein":
            expected = stats.wasserstein_distance(part, rest)
        else:
            expected = stats.energy_distance(part, rest)
        assert row.value == pytest.approx(expected, rel=1e-7 if row.method == "energy" else 1e-9)


def _check_argsort(values: np.ndarray) -> None:
    order, ordered = argsort_floats(values)
    assert np.array_equal(np.sort(order), np.arange(values.size))  # a permutation
    assert np.array_equal(ordered, np.sort(values))
    assert np.array_equal(values[order], ordered)


def test_packed_argsort_on_large_arrays_with_near_equal_values():
    n = samples._PACKED_MIN + 1000
    near = 1.0 + RNG.integers(0, 500, n) * np.finfo(float).eps  # equal leading bits
    zeros = np.concatenate([np.full(n // 2, -0.0), np.zeros(n // 2)])
    mixed = np.concatenate([RNG.normal(size=n), near[:2000], [np.finfo(float).tiny, -5e-324]])
    for values in (RNG.normal(size=n), near, zeros, mixed, np.sort(RNG.normal(size=n))[::-1]):
        _check_argsort(np.ascontiguousarray(values))


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 300), elements=finite), st.integers(0, 4))
def test_packed_argsort_sorts_exactly(values, rounds):
    # the packed path and its repair (few rounds force the fallback) on small arrays
    old = samples._PACKED_MIN, samples._FIX_ROUNDS
    samples._PACKED_MIN, samples._FIX_ROUNDS = 1, rounds
    try:
        _check_argsort(values)
        _check_argsort(1.0 + np.round(values % 7) * np.finfo(float).eps)  # runs of near values
    finally:
        samples._PACKED_MIN, samples._FIX_ROUNDS = old


@pytest.mark.parametrize("ties", [False, True])
def test_integer_crossing_test_equals_the_float_one(ties, monkeypatch):
    # beyond n m = 2**52 the Wasserstein crossing test compares counts as integers
    ref, chunk = _data(ties, 40_000), _data(ties, BLOCKS, 0.3)

    def l1() -> float:
        reference = ContinuousSample.from_raw(ref)
        method = make_method("wasserstein").fit(reference)
        return method.compute(ContinuousSample.from_raw(chunk))[0]

    floats = l1()
    monkeypatch.setattr(ecdf, "_EXACT_RATIOS", 0)
    assert l1() == pytest.approx(floats, rel=1e-12)
    assert floats == pytest.approx(stats.wasserstein_distance(ref, chunk), rel=1e-9)


def _ks_l1(ref: np.ndarray, chunk: np.ndarray) -> tuple[float, float, float]:
    reference = ContinuousSample.from_raw(ref)
    ks, w = make_method("kuiper").fit(reference), make_method("wasserstein").fit(reference)
    sample = ContinuousSample.from_raw(chunk)
    d_plus, d_minus = ecdf.ecdf_gaps(reference, sample)
    assert ks.compute(sample)[0] == d_plus + d_minus
    return d_plus, d_minus, w.compute(sample)[0]


def _located_everywhere(monkeypatch, ref, chunk):
    with monkeypatch.context() as m:
        m.setattr(ecdf, "_SAMPLED_MIN", 10**12)
        return _ks_l1(ref, chunk)


small = st.lists(st.integers(-6, 6), min_size=1, max_size=80)


@settings(max_examples=300, deadline=None)
@given(
    small,
    small,
    st.sampled_from([(2, 1), (4, 2, 1), (8, 1), (3, 1), (64, 16, 4, 1)]),
    st.booleans(),
    st.booleans(),
)
def test_sampled_comparison_equals_locating_every_point(ref, chunk, strides, ties, ints):
    # heavy ties (integers / 2) or none (a little noise); both crossing tests
    rng = np.random.default_rng(len(ref) * 1000 + len(chunk))
    r = np.asarray(ref, dtype=float) / 2
    c = np.asarray(chunk, dtype=float) / 2 + 0.25
    if not ties:
        r, c = r + rng.uniform(0, 0.1, r.size), c + rng.uniform(0, 0.1, c.size)
    with pytest.MonkeyPatch.context() as mp:
        if ints:
            mp.setattr(ecdf, "_EXACT_RATIOS", 0)
        full = _located_everywhere(mp, r, c)
        mp.setattr(ecdf, "_SAMPLED_MIN", 1)
        mp.setattr(ecdf, "_STRIDES", strides)
        got = _ks_l1(r, c)
    assert got[:2] == full[:2]  # the gaps bit for bit
    assert got[2] == pytest.approx(full[2], rel=1e-12, abs=1e-15)
    assert got[2] == pytest.approx(stats.wasserstein_distance(r, c), rel=1e-9, abs=1e-12)
    grid = np.concatenate([r, c])  # the KS statistic of ks_2samp (without its p-value)
    f_r = np.searchsorted(np.sort(r), grid, side="right") / r.size
    f_c = np.searchsorted(np.sort(c), grid, side="right") / c.size
    assert max(got[:2]) == pytest.approx(np.abs(f_c - f_r).max(), rel=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.3, 5.0, -5.0])
@pytest.mark.parametrize("ties", [False, True])
def test_sampled_comparison_across_blocks_equals_scipy(shift, ties, monkeypatch):
    # chunks of several blocks at the default strides: located points, refined stretches
    # near crossings, the point past both maxima (shifted chunks end beyond the reference)
    ref, chunk = _data(ties, 80_000), _data(ties, BLOCKS, shift)
    got = _ks_l1(ref, chunk)
    full = _located_everywhere(monkeypatch, ref, chunk)
    assert got[:2] == full[:2]
    assert got[2] == pytest.approx(full[2], rel=1e-12)
    assert got[2] == pytest.approx(stats.wasserstein_distance(ref, chunk), rel=1e-9)
    assert max(got[:2]) == pytest.approx(stats.ks_2samp(ref, chunk).statistic, rel=1e-12)


def test_sampled_comparison_locates_few_points(monkeypatch):
    # the point of it: a 100k chunk of a 1M reference is not searched point by point
    located: list[int] = []
    locate = ecdf._locate

    def counting(r, ties, x):
        located.append(x.size)
        return locate(r, ties, x)

    monkeypatch.setattr(ecdf, "_locate", counting)
    ref = RNG.normal(size=1_000_000)
    for shift in (0.0, 0.3):
        located.clear()
        _ks_l1(ref, RNG.normal(shift, 1.0, 100_000))
        assert 0 < sum(located) < 30_000


@pytest.mark.parametrize("batch", [1 << 20, 5000])  # every chunk in one group, or several
def test_chunks_compared_together_equal_one_at_a_time(batch, monkeypatch):
    # chunks of different sizes, with and without ties, drifted or not, one too small to
    # be sampled; each chunk's figures as if compared alone with every point located
    monkeypatch.setattr(ecdf, "_BATCH_POINTS", batch)
    ref = _data(True, 50_000)
    chunks = [
        _data(False, 4000),
        _data(True, 9000, 0.3),
        _data(False, 100),
        _data(True, 3000, -2.0),
        _data(False, 6000, 8.0),
    ]
    reference = ContinuousSample.from_raw(ref)
    methods = [make_method(name).fit(reference) for name in ("ks", "kuiper", "wasserstein")]
    samples_ = [ContinuousSample.from_raw(c) for c in chunks]
    for method in methods:
        method.prepare(samples_)
    assert sum(("ecdf", id(reference)) in s.cache for s in samples_) == 4  # not the small one
    for chunk, sample in zip(chunks, samples_, strict=True):
        got = [m.compute(sample)[0] for m in methods]
        full = _located_everywhere(monkeypatch, ref, chunk)
        assert got[0] == max(full[:2]) and got[1] == full[0] + full[1]
        assert got[2] == pytest.approx(full[2], rel=1e-12)
        assert got[2] == pytest.approx(stats.wasserstein_distance(ref, chunk), rel=1e-9)


def test_calculator_results_do_not_depend_on_comparing_chunks_together(monkeypatch):
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"x": rng.gamma(2.0, 1.5, 40_000), "y": np.round(rng.normal(size=40_000))})
    new = pd.DataFrame({"x": rng.gamma(2.0, 1.6, 30_000), "y": np.round(rng.normal(size=30_000))})

    def run() -> pd.DataFrame:
        calc = UnivariateDriftCalculator(
            continuous_methods=["ks", "wasserstein", "kuiper"],
            column_kinds={"x": "continuous", "y": "continuous"},
            chunker={"type": "count", "chunk_number": 6},
            n_jobs=1,
        )
        return calc.fit(ref).calculate(new).data

    together = run()
    monkeypatch.setattr(ecdf.DriftMethod, "prepare", lambda self, samples: None)
    monkeypatch.setattr(ecdf._EcdfMethod, "prepare", lambda self, samples: None)
    alone = run()
    pd.testing.assert_frame_equal(together, alone, check_exact=False, rtol=1e-12)
