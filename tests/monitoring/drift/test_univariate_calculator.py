from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from driftscope.errors import ConfigError, MonitoringError, ValidationError
from driftscope.monitoring.drift.univariate import UnivariateDriftCalculator
from driftscope.monitoring.result import RESULT_COLUMNS
from driftscope.monitoring.thresholds import ConstantThreshold


def _data(n, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(shift, 1, n),
            "b": rng.normal(0, 1, n),
            "c": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]),
            "d": rng.exponential(1, n),
        }
    )


def test_injected_shift_alerts_only_the_shifted_column():
    ref = _data(20_000, seed=1)
    new = _data(10_000, seed=2)
    new["a"] += 0.5
    new["c"] = np.where(np.random.default_rng(3).random(10_000) < 0.3, "z", new["c"])
    calc = UnivariateDriftCalculator(chunker={"type": "size", "chunk_size": 2000})
    result = calc.fit(ref).calculate(new)
    assert list(result.data.columns) == RESULT_COLUMNS
    alerting = result.alerts.groupby("column").size()
    assert set(alerting.index) == {"a", "c"}
    assert result.filter(column="a", method="ks").data["alert"].all()
    assert result.ranking()["column"].tolist()[:2] in (["a", "c"], ["c", "a"])
    keys = {f"[{i * 2000}:{i * 2000 + 1999}]" for i in range(10)}
    assert set(result.reference["chunk_key"]) == keys


def test_false_alarm_rate_near_nominal():
    ref = _data(30_000, seed=10)
    new = _data(30_000, seed=11)
    calc = UnivariateDriftCalculator(chunker={"type": "size", "chunk_size": 1000})
    result = calc.fit(ref).calculate(new)
    # 3-sigma bounds from 30 reference chunks: nominal two-sided rate ~0.3%
    assert result.data["alert"].mean() < 0.03


def test_precedence_thresholds_polars_and_missing():
    ref = _data(3000, seed=4)
    new = _data(1000, seed=5)
    new.loc[:99, "a"] = np.nan
    new.loc[:49, "c"] = None
    calc = UnivariateDriftCalculator(
        methods=["psi"],
        continuous_methods=["ks"],
        column_methods={"d": ["wasserstein", {"type": "hellinger", "n_bins": 5}]},
        thresholds={"d:wasserstein": ConstantThreshold(upper=10.0), "*": {"type": "std"}},
        chunker={"type": "count", "chunk_number": 2},
    )
    result = calc.fit(pl.from_pandas(ref)).calculate(pl.from_pandas(new))
    methods = result.data.groupby("column")["method"].agg(lambda s: sorted(set(s))).to_dict()
    assert methods == {"a": ["ks"], "b": ["ks"], "c": ["psi"], "d": ["hellinger", "wasserstein"]}
    d = result.filter(column="d", method="wasserstein").data
    assert (d["upper_threshold"] == 10.0).all()
    a0 = result.filter(column="a", chunk_key="[0:499]").data
    assert a0["n"].iloc[0] == 400  # missing values excluded and counted out
    assert result.filter(column="c", chunk_key="[0:499]").data["n"].iloc[0] == 450


def test_unseen_categories_and_empty_chunks():
    ref = pd.DataFrame({"c": ["a", "b"] * 500, "x": np.linspace(0, 1, 1000)})
    new = pd.DataFrame({"c": ["a", "new"] * 100, "x": [np.nan] * 200})
    calc = UnivariateDriftCalculator(chunker={"type": "size", "chunk_size": 100})
    result = calc.fit(ref).calculate(new)
    x = result.filter(column="x").data
    assert x["value"].isna().all() and not x["alert"].any() and (x["n"] == 0).all()
    chi = result.filter(column="c", method="chi2").data
    assert chi["alert"].all()


def test_errors():
    with pytest.raises(ConfigError, match="does not apply"):
        UnivariateDriftCalculator(column_methods={"c": ["ks"]}).fit(_data(500))
    with pytest.raises(ConfigError):
        UnivariateDriftCalculator(methods=["bogus"])
    with pytest.raises(MonitoringError, match="not fitted"):
        UnivariateDriftCalculator().calculate(_data(10))
    calc = UnivariateDriftCalculator(["a", "b"], chunker={"type": "count", "chunk_number": 2})
    calc.fit(_data(500))
    with pytest.raises(ValidationError, match="missing column"):
        calc.calculate(_data(100).drop(columns="b"))
    with pytest.raises(ValidationError, match="non-numeric"):
        calc.calculate(_data(100).assign(a="text"))
    with pytest.raises(MonitoringError, match="no rows"):
        UnivariateDriftCalculator().fit(_data(0))


def test_auto_threads_at_scale_give_the_same_result_as_one_thread():
    from driftscope.monitoring.drift.univariate.calculator import AUTO_THREADS_MIN_ROWS

    n = AUTO_THREADS_MIN_ROWS
    ref, new = _data(n, seed=8), _data(n, shift=0.2, seed=9)
    new.loc[::7, "b"] = np.nan
    chunker = {"type": "count", "chunk_number": 5}
    auto = UnivariateDriftCalculator(chunker=chunker)
    assert auto.n_jobs == "auto"
    serial = UnivariateDriftCalculator(chunker=chunker, n_jobs=1)
    got, want = auto.fit(ref).calculate(new), serial.fit(ref).calculate(new)
    pd.testing.assert_frame_equal(got.data, want.data)
    pd.testing.assert_frame_equal(got.reference, want.reference)
    assert got.data["column"].tolist() == want.data["column"].tolist()


@pytest.mark.parametrize("jobs", [0, -1, 1.5, "many"])
def test_invalid_n_jobs_is_a_config_error(jobs):
    with pytest.raises(ConfigError, match="n_jobs"):
        UnivariateDriftCalculator(n_jobs=jobs)


def test_threads_over_columns_give_the_same_result():
    ref, new = _data(4000, seed=6), _data(2000, shift=0.3, seed=7)
    results = [
        UnivariateDriftCalculator(chunker={"type": "count", "chunk_number": 4}, n_jobs=jobs)
        .fit(ref)
        .calculate(new)
        for jobs in (1, 3, None)
    ]
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0].data, other.data)
        pd.testing.assert_frame_equal(results[0].reference, other.reference)


def test_samples_never_sort_the_callers_array_and_count_codes_exactly():
    from driftscope.monitoring.drift.univariate.samples import CategoricalSample, ContinuousSample

    raw = np.array([3.0, 1.0, 2.0])
    sample = ContinuousSample.from_raw(raw)
    assert sample.sorted.tolist() == [1.0, 2.0, 3.0]
    assert raw.tolist() == [3.0, 1.0, 2.0]
    mine = np.array([3.0, np.nan, 1.0])
    owned = ContinuousSample.from_raw(mine, owned=True)
    assert owned.sorted.tolist() == [1.0, 3.0] and owned.missing == 1
    codes = np.array([0, 2, -1, -2, 2, -1, -1, 1])
    cat = CategoricalSample.from_codes(codes, 4)
    assert cat.counts.tolist() == [1.0, 1.0, 2.0, 0.0, 3.0] and cat.missing == 1


def test_reference_codes_kept_at_fit_equal_encoding_the_reference_again():
    from driftscope.monitoring.drift.univariate.calculator import _Column

    series = pd.Series(["b", None, "a", "b", "c", "b", "a", None])
    column = _Column("c", "categorical", series)
    again = column.encode(series)
    kept = column.encode_reference(series)
    assert kept.tolist() == again.tolist() == [0, -2, 1, 0, 2, 0, 1, -2]
    assert column.encode_reference(series).tolist() == again.tolist()  # later calls encode
