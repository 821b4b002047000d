"""Every univariate statistic against SciPy on the same data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from driftscope.errors import ConfigError
from driftscope.monitoring.drift.univariate import (
    CategoricalSample,
    ContinuousSample,
    drift_methods,
    make_method,
)
from driftscope.monitoring.drift.univariate.binned import bin_edges

RNG = np.random.default_rng(42)
CASES = {
    "same": (RNG.normal(size=3000), RNG.normal(size=400)),
    "shifted": (RNG.normal(size=3000), RNG.normal(0.4, 1.3, size=400)),
    "ties": (np.round(RNG.normal(size=800) * 2), np.round(RNG.normal(0.2, 1, size=150) * 2)),
    "large": (RNG.normal(size=30000), RNG.normal(0.05, 1, size=12000)),
    "tiny": (RNG.normal(size=200), RNG.normal(size=3)),
}


def _fit(name, ref, **params):
    return make_method({"type": name, **params}).fit(ContinuousSample.from_raw(ref))


def _run(name, ref, chunk, **params):
    return _fit(name, ref, **params).compute(ContinuousSample.from_raw(chunk))


@pytest.mark.parametrize("case", CASES)
def test_ecdf_methods_equal_scipy(case):
    ref, chunk = CASES[case]
    ks = stats.ks_2samp(ref, chunk)
    assert _run("ks", ref, chunk) == pytest.approx((ks.statistic, ks.pvalue), rel=1e-9, abs=1e-15)
    w = stats.wasserstein_distance(ref, chunk)
    assert _run("wasserstein", ref, chunk)[0] == pytest.approx(w, rel=1e-9)
    iqr = np.subtract(*np.quantile(ref, [0.75, 0.25]))
    assert _run("wasserstein_norm", ref, chunk)[0] == pytest.approx(w / iqr, rel=1e-9)
    std_norm = _run("wasserstein_norm", ref, chunk, normalize_by="std")[0]
    assert std_norm == pytest.approx(w / np.std(ref, ddof=1), rel=1e-9)
    e = stats.energy_distance(ref, chunk)
    assert _run("energy", ref, chunk)[0] == pytest.approx(e, rel=1e-7)


@pytest.mark.parametrize("case", ["same", "shifted", "ties"])
def test_kuiper_matches_brute_force(case):
    ref, chunk = CASES[case]
    grid = np.concatenate([ref, chunk])
    f_ref = np.searchsorted(np.sort(ref), grid, side="right") / ref.size
    f_chk = np.searchsorted(np.sort(chunk), grid, side="right") / chunk.size
    value, p = _run("kuiper", ref, chunk)
    assert value == pytest.approx(max((f_chk - f_ref).max(), 0) + max((f_ref - f_chk).max(), 0))
    assert 0.0 <= p <= 1.0


@pytest.mark.parametrize("case", ["same", "shifted", "ties", "tiny"])
def test_moment_and_rank_tests_equal_scipy(case):
    ref, chunk = CASES[case]
    welch = stats.ttest_ind(chunk, ref, equal_var=False)
    assert _run("t_test", ref, chunk) == pytest.approx((welch.statistic, welch.pvalue), rel=1e-9)
    z, pz = _run("z_test", ref, chunk)
    assert z == pytest.approx(welch.statistic, rel=1e-9)
    assert pz == pytest.approx(2 * stats.norm.sf(abs(welch.statistic)), rel=1e-9)
    mw = stats.mannwhitneyu(chunk, ref, alternative="two-sided")
    u, pu = _run("mann_whitney", ref, chunk)
    assert (u * ref.size * chunk.size, pu) == pytest.approx((mw.statistic, mw.pvalue))
    cvm = stats.cramervonmises_2samp(chunk, ref)
    assert _run("cramer_von_mises", ref, chunk) == pytest.approx((cvm.statistic, cvm.pvalue))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ad = stats.anderson_ksamp([chunk, ref], variant="midrank")
    assert _run("anderson_darling", ref, chunk) == pytest.approx((ad.statistic, ad.pvalue))
    es_value = _run("epps_singleton", ref, chunk)
    if chunk.size >= 5:
        es = stats.epps_singleton_2samp(chunk, ref)
        assert es_value == pytest.approx((es.statistic, es.pvalue))
    else:
        assert np.isnan(es_value).all()


@pytest.mark.parametrize("binning", ["quantile", "auto"])
@pytest.mark.parametrize("case", ["same", "shifted", "ties", "tiny"])
def test_binned_methods_equal_scipy_on_same_bins(case, binning):
    ref, chunk = CASES[case]
    edges = bin_edges(np.sort(ref), binning, 20)
    p = np.bincount(np.digitize(ref, edges), minlength=edges.size + 1) / ref.size
    q = np.bincount(np.digitize(chunk, edges), minlength=edges.size + 1) / chunk.size
    floor = lambda v: np.maximum(v, 1e-4) / np.maximum(v, 1e-4).sum()  # noqa: E731
    pf, qf = floor(p), floor(q)
    expected = {
        "jensen_shannon": distance.jensenshannon(p, q, base=2),
        "hellinger": distance.euclidean(np.sqrt(p), np.sqrt(q)) / math.sqrt(2),
        "psi": stats.entropy(qf, pf) + stats.entropy(pf, qf),
        "kl": stats.entropy(qf, pf),
        "l_infinity": np.max(np.abs(p - q)),
        "tvd": 0.5 * np.sum(np.abs(p - q)),
    }
    for name, want in expected.items():
        value, p_value = _run(name, ref, chunk, binning=binning)
        assert value == pytest.approx(want, rel=1e-9, abs=1e-12), name
        assert np.isnan(p_value)


def _cat(ref_counts, chunk_counts):
    ref = CategoricalSample(np.asarray(ref_counts, dtype=float))
    chunk = CategoricalSample(np.asarray(chunk_counts, dtype=float))
    return ref, chunk


@pytest.mark.parametrize(
    "ref_counts,chunk_counts",
    [([50, 30, 20, 0], [45, 35, 15, 5]), ([60, 40, 0], [10, 20, 0]), ([100, 0], [7, 0])],
)
def test_categorical_methods_equal_scipy(ref_counts, chunk_counts):
    ref, chunk = _cat(ref_counts, chunk_counts)
    table = np.vstack([ref.counts, chunk.counts])
    table = table[:, table.sum(axis=0) > 0]
    chi = stats.chi2_contingency(table)
    assert make_method("chi2").fit(ref).compute(chunk) == pytest.approx((chi.statistic, chi.pvalue))
    g = stats.chi2_contingency(table, lambda_="log-likelihood")
    assert make_method("g_test").fit(ref).compute(chunk) == pytest.approx((g.statistic, g.pvalue))
    fisher = make_method("fisher").fit(ref).compute(chunk)
    if table.shape == (2, 2):
        f = stats.fisher_exact(table)
        assert fisher == pytest.approx((f.statistic, f.pvalue))
    else:
        assert np.isnan(fisher).all()
    p, q = ref.counts / ref.n, chunk.counts / chunk.n
    js = make_method("jensen_shannon").fit(ref).compute(chunk)[0]
    assert js == pytest.approx(distance.jensenshannon(p, q, base=2), abs=1e-12)
    assert make_method("l_infinity").fit(ref).compute(chunk)[0] == pytest.approx(
        np.max(np.abs(p - q))
    )


def test_two_proportion_z():
    ref, chunk = _cat([60, 40, 0], [30, 70, 0])
    x1, n1, x2, n2 = 60, 100, 30, 100
    pooled = (x1 + x2) / (n1 + n2)
    z = (x2 / n2 - x1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    value, p = make_method("two_proportion").fit(ref).compute(chunk)
    assert value == pytest.approx(z) and p == pytest.approx(2 * stats.norm.sf(abs(z)))


def test_leave_one_out_equals_fit_on_rest():
    """Reference chunks compare with the reference minus the chunk, by arithmetic."""
    rest_values = RNG.normal(size=2000)
    chunk_values = RNG.normal(0.3, 1, size=300)
    full = np.concatenate([rest_values, chunk_values])
    for name in ["ks", "kuiper", "wasserstein", "energy", "jensen_shannon", "t_test", "psi"]:
        method = _fit(name, full)
        rest = ContinuousSample.from_raw(rest_values)
        got = method.compute(ContinuousSample.from_raw(chunk_values), rest=lambda r=rest: r)
        if name in ("jensen_shannon", "psi"):  # same bins (learned on the full reference)
            twin = make_method(name).fit(ContinuousSample.from_raw(full))
            twin.ref_counts = twin._counts(rest)
            want = twin.compute(ContinuousSample.from_raw(chunk_values))
        else:
            want = _run(name, rest_values, chunk_values)
        assert got == pytest.approx(want, rel=1e-9, nan_ok=True), name


@pytest.mark.parametrize("name", drift_methods.names())
def test_edge_cases_have_defined_answers(name):
    method = make_method(name)
    if "continuous" in method.kinds:
        ref = ContinuousSample.from_raw(np.array([1.0, np.nan, 2.0, 3.0, 4.0, 5.0, 6.0]))
        assert ref.n == 6 and ref.missing == 1
        method.fit(ref)
        empty = method.compute(ContinuousSample.from_raw(np.array([np.nan, np.nan])))
        assert np.isnan(empty).all()
        constant = make_method(name).fit(ContinuousSample.from_raw(np.full(50, 3.0)))
        value, _ = constant.compute(ContinuousSample.from_raw(np.full(10, 3.0)))
        assert np.isnan(value) or value == pytest.approx(0.0) or name == "mann_whitney"
    if "categorical" in method.kinds:
        single = make_method(name).fit(CategoricalSample(np.array([40.0, 0.0])))
        value, p = single.compute(CategoricalSample(np.array([10.0, 0.0])))
        assert np.isnan(value) or value in (0.0, 1.0) or name == "two_proportion"
        empty = single.compute(CategoricalSample(np.array([0.0, 0.0])))
        assert np.isnan(empty).all()


def test_unknown_method_and_bad_params():
    with pytest.raises(ConfigError, match="valid: anderson_darling"):
        make_method("nope")
    with pytest.raises(ConfigError, match="n_bins"):
        make_method({"type": "psi", "n_bins": 1})


@pytest.mark.parametrize(
    "n1,n2,d",
    [
        (200_000, 50_000, 0.008),
        (1_000_000, 100_000, 0.005),
        (1_000_000, 100_000, 0.02),
        (30_000, 12_000, 0.03),
        (300_000, 20_000, 0.001),
        (20_000, 20_000, 0.6),
    ],
)
def test_ks_p_value_large_samples_equals_scipy_kstwo(n1, n2, d):
    from driftscope.monitoring.drift.univariate.ecdf import ks_p_value

    en = round(n1 * n2 / (n1 + n2))
    want = float(np.clip(stats.kstwo.sf(d, en), 0, 1))
    assert ks_p_value(d, n1, n2) == pytest.approx(want, rel=1e-8, abs=1e-300)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), min_size=1, max_size=8),
    st.sampled_from(["chi2", "g_test"]),
)
def test_table_tests_equal_scipy_on_random_tables(pairs, name):
    ref_counts, chunk_counts = zip(*pairs, strict=True)
    if sum(ref_counts) == 0 or sum(chunk_counts) == 0:
        return
    ref, chunk = _cat(list(ref_counts) + [0], list(chunk_counts) + [0])
    table = np.vstack([ref.counts, chunk.counts])
    table = table[:, table.sum(axis=0) > 0]
    lambda_ = None if name == "chi2" else "log-likelihood"
    got = make_method(name).fit(ref).compute(chunk)
    if table.shape[1] == 1:  # one category: SciPy's dof 0 answer
        assert got == (0.0, 1.0)
        return
    res = stats.chi2_contingency(table, lambda_=lambda_)  # Yates' correction on 2 x 2
    assert got == pytest.approx((res.statistic, res.pvalue), rel=1e-12, abs=1e-300)
