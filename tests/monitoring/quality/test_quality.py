from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftscope.monitoring.quality import DataQualityCalculator, check_schema


def _ref(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.choice(["a", "b", "c"], n),
            "i": rng.integers(0, 1000, n),
        }
    )


def test_schema_issues():
    ref = _ref(10)
    new = ref.drop(columns="k").assign(extra=1, i=["s"] * 10)
    issues = check_schema(ref, new, expected_features=["x", "k", "z"])
    kinds = {(i.kind, i.column) for i in issues}
    assert kinds == {
        ("missing_column", "k"),
        ("new_column", "extra"),
        ("dtype_change", "i"),
        ("missing_feature", "k"),
        ("missing_feature", "z"),
    }
    as_float = ref.assign(i=ref["i"].astype(float))
    assert check_schema(ref, as_float) == []


def test_quality_metrics_equal_pandas():
    ref = _ref()
    new = _ref(1000, seed=1)
    new.loc[:99, "x"] = np.nan
    new.loc[200:249, "x"] = 10.0
    new.loc[300:319, "k"] = "zz"
    new.loc[320:329, "k"] = None
    calc = DataQualityCalculator(chunker={"type": "count", "chunk_number": 2}).fit(ref)
    res = calc.calculate(new)
    first = res.filter(chunk_key="[0:499]").data.set_index(["column", "metric"])["value"]
    part = new.iloc[:500]
    x = part["x"].dropna()
    assert first[("x", "missing_rate")] == pytest.approx(0.2)
    outside = ((x < ref["x"].min()) | (x > ref["x"].max())).mean()
    assert outside >= 50 / 400
    assert first[("x", "out_of_range_rate")] == pytest.approx(outside)
    assert first[("x", "mean")] == pytest.approx(x.mean())
    assert first[("x", "std")] == pytest.approx(x.std())
    assert first[("x", "q95")] == pytest.approx(x.quantile(0.95))
    assert first[("k", "missing_rate")] == pytest.approx(10 / 500)
    assert first[("k", "unseen_rate")] == pytest.approx(20 / 490)
    assert first[("k", "cardinality")] == 4
    assert first[("*", "row_count")] == 500
    alerts = res.alerts.set_index(["column", "metric"]).index
    assert ("x", "missing_rate") in alerts and ("k", "unseen_rate") in alerts
    assert ("i", "missing_rate") not in alerts


def test_schema_rows_in_result():
    ref = _ref(500)
    calc = DataQualityCalculator(
        expected_features=["x", "y"], chunker={"type": "count", "chunk_number": 2}
    )
    calc.fit(ref)
    res = calc.calculate(_ref(300).drop(columns="k"))
    schema = res.filter(method="schema").data
    assert set(zip(schema["metric"], schema["column"], strict=True)) == {
        ("missing_column", "k"),
        ("missing_feature", "y"),
    }
    assert schema["alert"].all()


def test_range_and_unseen_bounds_learned_leave_one_out():
    rng = np.random.default_rng(7)
    cats = [f"c{i}" for i in range(40)]
    p = 1.0 / np.arange(1, 41) ** 1.5
    p /= p.sum()

    def frame(n, seed):
        r = np.random.default_rng(seed)
        return pd.DataFrame({"x": r.standard_normal(n), "k": r.choice(cats, n, p=p)})

    ref = frame(10_000, 11)
    calc = DataQualityCalculator(chunker={"type": "size", "chunk_size": 1000}).fit(ref)
    # reference values: chunk i against the range / categories of the other nine
    refrows = pd.DataFrame(calc.reference_rows_)
    oor = refrows.query("column == 'x' and metric == 'out_of_range_rate'")["value"].to_numpy()
    unseen = refrows.query("column == 'k' and metric == 'unseen_rate'")["value"].to_numpy()
    for i in range(10):
        part, rest = (
            ref.iloc[i * 1000 : (i + 1) * 1000],
            ref.drop(ref.index[i * 1000 : (i + 1) * 1000]),
        )
        want = ((part.x < rest.x.min()) | (part.x > rest.x.max())).mean()
        assert oor[i] == pytest.approx(want)
        assert unseen[i] == pytest.approx((~part.k.isin(set(rest.k))).mean())
    assert oor.max() > 0  # new extremes do happen on undrifted data
    # 40 chunks of undrifted data: range and unseen-category figures stay quiet...
    res = calc.calculate(frame(40_000, int(rng.integers(1 << 30))))
    quiet = res.data.query("metric in ['out_of_range_rate', 'unseen_rate']")
    assert quiet.alert.mean() <= 0.05
    # ...and a shifted chunk still alerts
    shifted = frame(1000, 3)
    shifted["x"] += 2.5
    shifted.loc[:99, "k"] = "new"
    out = calc.calculate(shifted).data.set_index(["column", "metric"])["alert"]
    assert out[("x", "out_of_range_rate")] and out[("k", "unseen_rate")]
