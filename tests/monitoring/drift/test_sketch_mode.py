"""Sketch mode against exact mode, within the bounds documented in ``sketch.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from driftscope.errors import ConfigError, MonitoringError
from driftscope.monitoring import Monitor
from driftscope.monitoring.drift.univariate import UnivariateDriftCalculator
from driftscope.monitoring.drift.univariate.ecdf import ks_p_value
from driftscope.monitoring.drift.univariate.sketch import (
    ALL_POINTS,
    ContinuousSketch,
    sketch_histogram,
)
from driftscope.monitoring.profiles import ColumnProfile

CONT = ["ks", "kuiper", "wasserstein", "z_test", "t_test", "jensen_shannon", "l_infinity", "tvd"]
CAT = ["chi2", "g_test", "jensen_shannon", "psi", "l_infinity", "two_proportion"]
# whole-CDF bound of one sketch (ALL_POINTS x the KLL per-point bound), see sketch.py
EPS = ALL_POINTS * ColumnProfile("continuous", "sketch").kll.normalized_rank_error(False)


def _frames(n=40_000, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.gamma(2.0, 1.0, n), "c": rng.choice(list("abcde"), n)})
    new = pd.DataFrame(
        {
            "x": rng.gamma(2.0, 1.0 + shift, n),
            "c": rng.choice(list("abcde"), n, p=[0.3, 0.2, 0.2, 0.2, 0.1]),
        }
    )
    new.loc[::97, "x"] = np.nan
    new.loc[::89, "c"] = None
    return ref, new


def _run(mode, ref, new):
    calc = UnivariateDriftCalculator(
        continuous_methods=CONT,
        categorical_methods=CAT,
        mode=mode,
        chunker={"type": "count", "chunk_number": 4},
    )
    result = calc.fit(ref).calculate(new)
    return calc, result.data.set_index(["chunk_index", "column", "method"])


@pytest.mark.parametrize("shift", [0.0, 0.15])
def test_sketch_within_documented_bound_of_exact(shift):
    ref, new = _frames(shift=shift)
    _, exact = _run("exact", ref, new)
    calc, sketch = _run("sketch", ref, new)
    assert exact.index.equals(sketch.index)
    diff = (exact["value"] - sketch["value"]).abs()
    x = diff.xs("x", level="column")
    e = 2 * EPS  # reference + chunk sketches
    assert (x.xs("ks", level="method") <= e).all()
    assert (x.xs("kuiper", level="method") <= 2 * e).all()
    span = np.nanmax(new["x"].to_numpy()) - np.nanmin(new["x"].to_numpy())
    span = max(span, ref["x"].max() - ref["x"].min(), span)
    assert (x.xs("wasserstein", level="method") <= e * span).all()
    for name in ("z_test", "t_test"):  # exact moments
        np.testing.assert_allclose(
            sketch.xs(("x", name), level=(1, 2))["value"],
            exact.xs(("x", name), level=(1, 2))["value"],
            rtol=1e-9,
        )
    # few categories: the frequent-items counts are exact, so are the figures and p-values
    c_exact, c_sketch = exact.xs("c", level="column"), sketch.xs("c", level="column")
    np.testing.assert_allclose(c_sketch["value"], c_exact["value"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c_sketch["p_value"], c_exact["p_value"], rtol=1e-7, atol=1e-300)
    # KS p-value: SciPy's formula at the sketch statistic
    ks = sketch.xs(("x", "ks"), level=(1, 2))
    n_ref = int(ref["x"].notna().sum())
    for value, p, m in ks[["value", "p_value", "n"]].to_numpy():
        n_chunk = int(m)
        d = np.linspace(0, 1, 2)  # SciPy's p-value at the sketch's statistic
        want = stats.ks_2samp(d, d).pvalue if value == 0 else None
        assert want is None or p == pytest.approx(want)
        assert p == pytest.approx(ks_p_value(value, n_ref, n_chunk), rel=1e-12)
        assert n_chunk == int(new["x"].notna().sum()) // 4 or abs(n_chunk - len(new) / 4) < 200


def test_binned_shares_within_bound_on_the_sketch_edges():
    ref, new = _frames(shift=0.1)
    calc, sketch = _run("sketch", ref, new)
    js = next(m for m in calc.methods_["x"] if m.name == "jensen_shannon")
    edges = js.edges
    # the sketch edges are within eps in rank of the exact reference quantiles
    qs = np.linspace(0, 1, 21)[1:-1]
    ranks = np.searchsorted(np.sort(ref["x"]), edges) / len(ref)
    assert ranks.size == qs.size and np.all(np.abs(ranks - qs) <= EPS + 1e-9)

    def exact_shares(values):
        v = np.sort(values[np.isfinite(values)])
        counts = np.diff(np.concatenate(([0], np.searchsorted(v, edges), [v.size])))
        return counts / v.size

    chunk = new["x"].to_numpy()[: len(new) // 4]
    p, q = exact_shares(ref["x"].to_numpy()), exact_shares(chunk)
    sk = ContinuousSketch.from_values(chunk)
    q_hat = sketch_histogram(sk, edges) / sk.n
    assert np.max(np.abs(q_hat - q)) <= 2 * EPS
    # the figure of chunk 0 against SciPy on exact shares over the same edges
    e = 2 * EPS
    b = edges.size + 1
    got = sketch.loc[(0, "x", "jensen_shannon"), "value"]
    want = distance.jensenshannon(p, q, base=2)
    assert abs(got - want) <= 2 * np.sqrt(b * e / 2)  # JS(p, p^) <= sqrt(TV(p, p^))
    linf = sketch.loc[(0, "x", "l_infinity"), "value"]
    assert abs(linf - np.max(np.abs(p - q))) <= 2 * e
    tvd = sketch.loc[(0, "x", "tvd"), "value"]
    assert abs(tvd - 0.5 * np.abs(p - q).sum()) <= b * e


def test_pieces_merged_compare_like_the_whole_chunk():
    ref, new = _frames(n=20_000)
    for mode, tol in (("exact", 1e-12), ("sketch", 2 * EPS)):
        calc = UnivariateDriftCalculator(
            continuous_methods=["ks", "z_test"],
            categorical_methods=["chi2"],
            mode=mode,
            chunker={"type": "count", "chunk_number": 1},
        ).fit(ref)
        whole = calc.calculate(new).data.set_index(["column", "method"])["value"]
        cuts = [0, 100, 3000, 3001, 12_000, len(new)]
        pieces = [calc.profile(new.iloc[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
        merged = {col: sum((p[col] for p in pieces[1:]), pieces[0][col]) for col in pieces[0]}
        got = calc.compare_profiles(merged, chunk_key="all").data
        got = got.set_index(["column", "method"])["value"]
        assert abs(got["x", "ks"] - whole["x", "ks"]) <= tol
        assert got["x", "z_test"] == pytest.approx(whole["x", "z_test"], rel=1e-9)
        assert got["c", "chi2"] == pytest.approx(whole["c", "chi2"], rel=1e-9)
        if mode == "exact":
            want = stats.ks_2samp(ref["x"], new["x"].dropna()).statistic
            assert got["x", "ks"] == pytest.approx(want, abs=1e-12)


def test_sketch_mode_refuses_methods_that_need_every_value():
    with pytest.raises(ConfigError, match="sketch mode"):
        UnivariateDriftCalculator(continuous_methods=["energy"], mode="sketch")
    with pytest.raises(ConfigError, match="sketch mode"):
        UnivariateDriftCalculator(column_methods={"x": ["mann_whitney"]}, mode="sketch")
    with pytest.raises(ConfigError, match="mode"):
        UnivariateDriftCalculator(mode="fast")  # type: ignore[arg-type]
    ref, _ = _frames(n=500)
    with pytest.raises(ConfigError, match="binning"):
        UnivariateDriftCalculator(
            continuous_methods=[{"type": "psi", "binning": "auto"}], mode="sketch"
        ).fit(ref)
    calc = UnivariateDriftCalculator(mode="sketch").fit(ref)
    with pytest.raises(MonitoringError, match="does not monitor"):
        calc.compare_profiles({"nope": ColumnProfile("continuous", "sketch")})
    with pytest.raises(MonitoringError, match="profile"):
        calc.compare_profiles({"x": ColumnProfile("categorical", "sketch")})


def test_sketch_mode_edge_cases_and_monitor():
    ref = pd.DataFrame({"x": np.r_[np.ones(300), np.arange(300.0)], "c": ["a"] * 600})
    new = pd.DataFrame({"x": [np.nan] * 100 + [np.inf] * 5 + list(range(95)), "c": ["a"] * 200})
    result = Monitor(mode="sketch", quality=False, chunker={"type": "size", "chunk_size": 100})
    data = result.fit(ref).calculate(new).data
    first = data[(data["column"] == "x") & (data["chunk_index"] == 0)]
    assert first["value"].isna().all() and not first["alert"].any() and (first["n"] == 0).all()
    chi = data[(data["column"] == "c") & (data["method"] == "chi2")]
    assert (chi["value"] == 0).all() and (chi["p_value"] == 1).all()  # a single category


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 4000), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
    missing=st.floats(0.0, 0.3),
)
def test_sketch_profile_of_merged_parts_within_bound_of_whole(sizes, seed, missing):
    rng = np.random.default_rng(seed)
    parts = [rng.standard_t(3, size=s) for s in sizes]
    for part in parts:
        part[rng.random(part.size) < missing] = np.nan
    whole_values = np.concatenate(parts)
    whole = ColumnProfile("continuous", "sketch").update(whole_values)
    merged = ColumnProfile("continuous", "sketch")
    for part in parts:
        merged = merged + ColumnProfile("continuous", "sketch").update(part)
    assert (merged.n, merged.missing) == (whole.n, whole.missing)
    if whole.n == 0:
        return
    assert merged.mean == pytest.approx(whole.mean, rel=1e-9, abs=1e-9)
    assert merged.m2 == pytest.approx(whole.m2, rel=1e-9, abs=1e-9)
    assert (merged.min, merged.max) == (whole.min, whole.max)
    finite = np.sort(whole_values[np.isfinite(whole_values)])
    grid = np.quantile(finite, np.linspace(0, 1, 101))
    exact_cdf = np.searchsorted(finite, grid, side="right") / finite.size
    a, b = ContinuousSketch(merged), ContinuousSketch(whole)
    assert np.max(np.abs(a.cdf(grid) - exact_cdf)) <= a.cdf_error + 1e-12
    assert np.max(np.abs(b.cdf(grid) - exact_cdf)) <= b.cdf_error + 1e-12
    again = ColumnProfile.from_dict(merged.to_dict())
    np.testing.assert_array_equal(ContinuousSketch(again).cdf(grid), a.cdf(grid))
