"""The compiled ECDF loops (``_kernels``, Numba) against SciPy and against the NumPy path.

The KS gaps of the compiled loops are the exact maxima (compared as integers,
divided once), so they equal SciPy's to an ulp and each other bit for bit;
the Wasserstein distance equals SciPy's up to summation order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from driftscope.monitoring import UnivariateDriftCalculator
from driftscope.monitoring.drift.univariate import ContinuousSample, ecdf, jit, make_method

K = jit.kernels()
RNG = np.random.default_rng(23)


def test_the_compiled_path_runs_here_and_can_be_turned_off(monkeypatch):
    assert K is not None  # Numba is a dependency: CI runs the compiled loops
    monkeypatch.setenv("DRIFTSCOPE_JIT", "0")
    assert jit._load() is None
    monkeypatch.setenv("DRIFTSCOPE_JIT", "1")
    assert jit._load() is K


def test_a_numba_that_cannot_compile_leaves_the_numpy_path(monkeypatch, caplog):
    def broken(values):
        raise RuntimeError("cannot cache function 'cdf_offsets': no locator available")

    monkeypatch.setattr(K, "cdf_offsets", broken)
    assert jit._load() is None
    assert "using NumPy" in caplog.text and "no locator available" in caplog.text
    with jit.disabled():
        assert jit.kernels() is None
        with jit.disabled():
            assert jit.kernels() is None
        assert jit.kernels() is None
    assert jit.kernels() is K


def _scipy_ks_gaps(ref: np.ndarray, chunk: np.ndarray) -> tuple[float, float]:
    grid = np.concatenate([ref, chunk])
    f_r = np.searchsorted(np.sort(ref), grid, side="right") / ref.size
    f_c = np.searchsorted(np.sort(chunk), grid, side="right") / chunk.size
    return max(float((f_c - f_r).max()), 0.0), max(float((f_r - f_c).max()), 0.0)


def _numpy_path(ref: np.ndarray, chunk: np.ndarray) -> tuple[float, float, float]:
    with jit.disabled():
        reference = ContinuousSample.from_raw(ref)
        ecdf.register_need(reference, "l1")
        s = ecdf._summary(reference, ContinuousSample.from_raw(chunk), "gaps")
    return s["d_plus"], s["d_minus"], s["l1"]


#: SciPy's gaps are differences of two rounded CDF values: off by up to an ulp of 1 (2.2e-16)
#: from the exact gap, which the compiled loops give (correctly rounded)
GAP_ABS = 5e-16


def _check(ref: np.ndarray, chunk: np.ndarray, got: tuple[float, float, float]) -> None:
    plus, minus = _scipy_ks_gaps(ref, chunk)
    assert got[0] == pytest.approx(plus, rel=0, abs=GAP_ABS)
    assert got[1] == pytest.approx(minus, rel=0, abs=GAP_ABS)
    want = stats.wasserstein_distance(ref, chunk)
    assert got[2] == pytest.approx(want, rel=1e-9, abs=1e-12)
    numpy = _numpy_path(ref, chunk)
    assert got[:2] == pytest.approx(numpy[:2], rel=0, abs=GAP_ABS)
    assert got[2] == pytest.approx(numpy[2], rel=1e-11, abs=1e-13)


small = st.lists(st.integers(-6, 6), min_size=1, max_size=90)


@settings(max_examples=300, deadline=None)
@given(small, small, st.sampled_from([1, 2, 3, 8, 9, 64]), st.booleans())
def test_sampled_and_full_comparisons_equal_scipy(ref, chunk, stride, ties):
    # heavy ties (integers / 2) or none (a little noise); every stride down to 1 point
    rng = np.random.default_rng(len(ref) * 1000 + len(chunk))
    r = np.asarray(ref, dtype=float) / 2
    c = np.asarray(chunk, dtype=float) / 2 + 0.25
    if not ties:
        r, c = r + rng.uniform(0, 0.1, r.size), c + rng.uniform(0, 0.1, c.size)
    r, c = np.sort(r), np.sort(c)
    offsets = K.cdf_offsets(r)
    full = K.compare_sampled(r, offsets, c, 1, True)  # every point located
    sampled = K.compare_sampled(r, offsets, c, stride, True)
    assert sampled[:2] == full[:2]  # the gaps bit for bit: the same exact maxima
    assert sampled[2] == pytest.approx(full[2], rel=1e-12, abs=1e-15)
    assert K.compare_sampled(r, offsets, c, stride, False)[:2] == full[:2]  # gaps alone
    _check(r, c, sampled)


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.3, 5.0, -5.0])
@pytest.mark.parametrize("ties", [False, True])
def test_methods_on_large_chunks_equal_scipy(shift, ties):
    # the path the calculator takes: located anchors, stretches looked at closer near
    # crossings, the point past both maxima (shifted chunks end beyond the reference)
    ref = RNG.normal(0.0, 1.0, 80_000)
    chunk = RNG.normal(shift, 1.0, 30_000)
    if ties:
        ref, chunk = np.round(ref, 2), np.round(chunk, 2)
    reference = ContinuousSample.from_raw(ref)
    methods = {n: make_method(n).fit(reference) for n in ("ks", "kuiper", "wasserstein")}
    sample = ContinuousSample.from_raw(chunk)
    got = {n: m.compute(sample) for n, m in methods.items()}
    ks = stats.ks_2samp(ref, chunk)
    assert got["ks"][0] == pytest.approx(ks.statistic, rel=0, abs=GAP_ABS)
    assert got["ks"][1] == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-15)
    plus, minus = _scipy_ks_gaps(ref, chunk)
    assert got["kuiper"][0] == pytest.approx(plus + minus, rel=0, abs=2 * GAP_ABS)
    assert got["wasserstein"][0] == pytest.approx(stats.wasserstein_distance(ref, chunk), rel=1e-9)
    s = ecdf._summary(reference, sample, "l1")
    _check(ref, chunk, (s["d_plus"], s["d_minus"], s["l1"]))


@pytest.mark.parametrize("ties", [False, True])
def test_reference_chunks_in_one_pass_equal_each_chunk_alone(ties):
    # every chunk of the reference from one walk over it: labels -1 (rows in no chunk)
    # and an empty chunk included
    n = 60_000
    r = RNG.gamma(2.0, 1.0, n)
    if ties:
        r = np.round(r, 1)
    r = np.sort(r)
    labels = RNG.integers(-1, 6, n).astype(np.int8)
    labels[labels == 3] = 4  # chunk 3 is empty
    sizes = np.bincount(labels[labels >= 0], minlength=6).astype(np.int64)
    d_plus, d_minus, l1, offsets = K.reference_chunks(r, labels, sizes, True)
    np.testing.assert_allclose(offsets, K.cdf_offsets(r), rtol=1e-13, atol=1e-12)
    gaps_only = K.reference_chunks(r, labels.astype(np.int64), sizes, False)
    np.testing.assert_array_equal(gaps_only[0], d_plus)
    np.testing.assert_array_equal(gaps_only[1], d_minus)
    for c in range(6):
        ranks = np.flatnonzero(labels == c)
        if c == 3:
            assert ranks.size == 0 and d_plus[c] == d_minus[c] == l1[c] == 0.0
            continue
        part = r[ranks]
        alone = K.compare_sampled(r, offsets, part, 1, True)
        assert (d_plus[c], d_minus[c]) == alone[:2]
        assert l1[c] == pytest.approx(alone[2], rel=1e-12)
        assert K.compare_sampled(r, offsets, part, 64, True)[:2] == alone[:2]
        _check(r, part, (d_plus[c], d_minus[c], l1[c]))


def test_split_equals_the_numpy_split():
    values = np.round(RNG.normal(size=200_000), 3)
    labels = RNG.integers(-1, 4, values.size).astype(np.int8)
    compiled = ContinuousSample(values.copy()).split(labels, 4)
    with jit.disabled():
        full = ContinuousSample(values.copy())
        plain = full.split(labels, 4)
    for a, b in zip(compiled, plain, strict=True):
        np.testing.assert_array_equal(a.sorted, b.sorted)
        np.testing.assert_array_equal(a.sorted, np.sort(values[labels == plain.index(b)]))
        ranks_a = next(v for k, v in a.cache.items() if k[0] == "ranks")
        np.testing.assert_array_equal(full.sorted[ranks_a], a.sorted)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 1.5, n) + shift
    x[rng.random(n) < 0.02] = np.nan
    return pd.DataFrame(
        {"x": x, "ties": np.round(rng.normal(shift, 1.0, n), 1), "k": rng.integers(0, 5, n) * 1.0}
    )


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_calculator_results_equal_the_numpy_path(n_jobs):
    ref, new = _frame(60_000, 1), _frame(45_000, 2, 0.2)

    def run() -> tuple[pd.DataFrame, pd.DataFrame]:
        calc = UnivariateDriftCalculator(
            continuous_methods=[
                "ks",
                "kuiper",
                "wasserstein",
                "wasserstein_norm",
                "jensen_shannon",
            ],
            column_kinds={c: "continuous" for c in ref.columns},
            chunker={"type": "count", "chunk_number": 7},
            n_jobs=n_jobs,
        )
        result = calc.fit(ref).calculate(new)
        return result.data, pd.DataFrame(calc.reference_rows_)

    compiled, compiled_ref = run()
    with jit.disabled():
        plain, plain_ref = run()
    for a, b in ((compiled, plain), (compiled_ref, plain_ref)):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-11, atol=1e-14)
        assert a["alert"].tolist() == b["alert"].tolist()
    assert compiled["alert"].any()  # the shift is seen


def test_sizes_beyond_the_integer_range_take_the_numpy_path(monkeypatch):
    ref, chunk = RNG.normal(size=5000), RNG.normal(0.1, 1.0, 4000)
    monkeypatch.setattr(ecdf, "_KERNEL_MAX", 1000)  # as if n m reached 2**62
    reference = ContinuousSample.from_raw(ref)
    method = make_method("wasserstein").fit(reference)
    called = []
    monkeypatch.setattr(ecdf, "_compiled", lambda *a: called.append(a))
    sample = ContinuousSample.from_raw(chunk)
    method.prepare([sample])
    got = method.compute(sample)[0]
    assert not called
    assert got == pytest.approx(stats.wasserstein_distance(ref, chunk), rel=1e-9)


@pytest.mark.parametrize("methods", [["ks", "wasserstein"], ["ks", "wasserstein", "energy"]])
@pytest.mark.parametrize("ties", [False, True])
def test_reference_chunks_equal_scipy_against_the_rest(ties, methods):
    # the calculator's reference rows: by the one walk, or with the energy distance by the
    # NumPy path (it needs every point), which then still has the chunks' ranks
    size = 20_000
    ref = RNG.normal(size=3 * size)
    if ties:
        ref = np.round(ref, 2)
    calc = UnivariateDriftCalculator(
        ["x"],
        column_kinds={"x": "continuous"},
        continuous_methods=methods,
        chunker={"type": "count", "chunk_number": 3},
        n_jobs=1,
    ).fit(pd.DataFrame({"x": ref}))
    rows = pd.DataFrame(calc.reference_rows_)
    assert len(rows) == 3 * len(methods)
    for row in rows.itertuples():
        cut = np.s_[row.chunk_index * size : (row.chunk_index + 1) * size]
        part, rest = ref[cut], np.delete(ref, cut)
        if row.method == "ks":
            assert row.value == pytest.approx(stats.ks_2samp(part, rest).statistic, rel=1e-12)
        elif row.method == "wasserstein":
            assert row.value == pytest.approx(stats.wasserstein_distance(part, rest), rel=1e-9)
        else:
            assert row.value == pytest.approx(stats.energy_distance(part, rest), rel=1e-7)
