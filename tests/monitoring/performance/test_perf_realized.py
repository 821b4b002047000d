"""Realized performance: table shape, coverage, label delay, thresholds, chunking."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from driftscope.errors import ValidationError
from driftscope.monitoring.performance import RealizedPerformance
from driftscope.monitoring.result import RESULT_COLUMNS

COMMON = {
    "task": "binary_classification",
    "y_true": "y",
    "y_pred": "pred",
    "y_score": "score",
    "metrics": ["accuracy", "f1", "roc_auc"],
}


def _with_time(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(frame)), unit="min")
    return frame


def test_values_equal_sklearn_per_chunk_with_missing_labels(binary_data) -> None:
    reference = binary_data(5000, seed=0)
    analysis = binary_data(3000, seed=1)
    analysis.loc[::3, "y"] = np.nan
    table = RealizedPerformance(**COMMON, chunk_size=1000).fit(reference).calculate(analysis).data
    assert list(table.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS
    for i in range(3):
        part = analysis.iloc[i * 1000 : (i + 1) * 1000].dropna(subset=["y"])
        rows = table[table.chunk_index == i].set_index("metric")
        assert rows.loc["accuracy", "value"] == pytest.approx(
            skm.accuracy_score(part.y.astype(int), part.pred)
        )
        assert rows.loc["roc_auc", "value"] == pytest.approx(
            skm.roc_auc_score(part.y.astype(int), part.score)
        )
        assert rows.loc["label_coverage", "value"] == pytest.approx(len(part) / 1000)
        assert rows.loc["f1", "n_labeled"] == len(part)
        assert rows.loc["f1", "sampling_error"] > 0
    assert set(table.method) == {"realized"} and set(table.column) == {"y"}


def test_label_delay_marks_young_chunks_pending_not_as_a_drop(binary_data) -> None:
    reference = _with_time(binary_data(5000, seed=2))
    analysis = _with_time(binary_data(4000, seed=3))
    young = analysis.ts > analysis.ts.max() - pd.Timedelta(hours=20)
    analysis.loc[young, "y"] = np.nan  # not labeled yet
    calc = RealizedPerformance(
        **COMMON, chunk_size=1000, timestamp_column="ts", label_delay=timedelta(days=1)
    ).fit(reference)
    table = calc.calculate(analysis).data
    acc = table[table.metric == "accuracy"].set_index("chunk_index")
    assert acc.label_pending.tolist() == [False, False, True, True]
    assert acc.value.iloc[:2].notna().all() and acc.value.iloc[2:].isna().all()
    assert not acc.alert.any()


def test_label_coverage_bound_set_by_user(binary_data) -> None:
    reference = binary_data(4000, seed=4)
    analysis = binary_data(2000, seed=5)
    analysis.loc[1000:, "y"] = np.where(np.arange(1000) % 5 == 0, analysis.y[1000:], np.nan)
    calc = RealizedPerformance(
        **COMMON, chunk_size=1000, thresholds={"label_coverage": (0.5, None)}
    ).fit(reference)
    cov = calc.calculate(analysis).data.query("metric == 'label_coverage'")
    assert cov.value.tolist() == [1.0, 0.2]
    assert cov.alert.tolist() == [False, True]


def test_learned_and_user_thresholds(binary_data) -> None:
    reference = binary_data(10_000, seed=6)
    calc = RealizedPerformance(**COMMON, chunk_size=1000, thresholds={"f1": (0.9, None)})
    calc.fit(reference)
    lo, hi = calc.bounds["accuracy"]
    accs = [
        skm.accuracy_score(reference.y[i : i + 1000], reference.pred[i : i + 1000])
        for i in range(0, 10_000, 1000)
    ]
    # the default std rule widens k=3 into a prediction interval for 10 reference chunks
    k = stats.t.ppf(stats.norm.cdf(3), len(accs) - 1) * np.sqrt(1 + 1 / len(accs))
    assert lo == pytest.approx(np.mean(accs) - k * np.std(accs, ddof=1))
    assert hi == pytest.approx(np.mean(accs) + k * np.std(accs, ddof=1))
    assert calc.bounds["f1"] == (0.9, None)
    f1 = calc.calculate(binary_data(1000, seed=7)).data.query("metric == 'f1'")
    assert f1.alert.iloc[0]  # f1 of this model is about 0.75, below the user's 0.9
    with pytest.raises(ValidationError, match="not computed"):
        RealizedPerformance(**COMMON, thresholds={"r2": (0, 1)}).fit(reference)


def test_regression_realized(regression_data) -> None:
    reference = regression_data(5000, seed=8)
    calc = RealizedPerformance(
        task="regression", y_true="y", y_pred="pred", metrics=["mae", "r2", "medae"], chunk_number=2
    ).fit(reference)
    table = calc.calculate(reference).data
    half = reference.iloc[:2500]
    mae = table.query("metric == 'mae' and chunk_index == 0").value.iloc[0]
    assert mae == pytest.approx(skm.mean_absolute_error(half.y, half.pred))
    assert table.query("metric == 'r2'").sampling_error.notna().all()


def test_multiclass_confusion_matrix(multiclass_data) -> None:
    data = multiclass_data(3000, seed=9)
    calc = RealizedPerformance(
        task="multiclass_classification",
        y_true="y",
        y_pred="pred",
        y_score={c: f"p_{c}" for c in "abc"},
    ).fit(data)
    np.testing.assert_array_equal(
        calc.confusion_matrix(data), skm.confusion_matrix(data.y, data.pred, labels=list("abc"))
    )


def test_performance_figure_shows_realized_estimated_and_coverage(binary_data) -> None:
    from driftscope.monitoring.performance import CBPE
    from driftscope.monitoring.performance.plots import performance_figure
    from driftscope.monitoring.result import Result

    reference = binary_data(5000, seed=10)
    analysis = binary_data(3000, seed=11)
    analysis.loc[2000:, "y"] = np.nan
    real = RealizedPerformance(**COMMON, chunk_size=1000).fit(reference).calculate(analysis)
    est = CBPE(**COMMON, chunk_size=1000).fit(reference).calculate(analysis)
    fig = performance_figure(Result.concat([real, est]), "f1")
    names = {t.name for t in fig.data}
    assert {"realized", "cbpe", "cbpe band", "label coverage"} <= names
    with pytest.raises(ValidationError, match="no rows"):
        performance_figure(real, "r2")


def test_performance_result_combines_realized_and_estimated(binary_data, regression_data) -> None:
    from driftscope.monitoring.performance.suite import performance_result

    reference = binary_data(4000, seed=12)
    analysis = binary_data(2000, seed=13).drop(columns=["y"])
    res = performance_result(reference, analysis, chunk_size=1000, **COMMON)
    assert set(res.data.method) == {"realized", "cbpe"}
    real = res.data[res.data.method == "realized"]
    assert real.query("metric == 'label_coverage'").value.tolist() == [0.0, 0.0]
    assert real.query("metric == 'f1'").value.isna().all()
    reg = regression_data(4000, seed=14)
    res = performance_result(
        reg,
        reg,
        task="regression",
        y_true="y",
        y_pred="pred",
        features=["x1", "x2", "cat"],
        metrics=["mae"],
        chunk_size=2000,
    )
    assert set(res.data.method) == {"realized", "dle"}


def test_sampling_error_matches_the_spread_of_chunk_values(binary_data) -> None:
    """The reference's standard error at 1000 rows is the std of 1000-row chunk values."""
    metrics = ["accuracy", "f1", "f1_macro", "precision", "recall", "specificity", "roc_auc"]
    metrics += ["log_loss", "roc_auc_weighted"]
    reference = binary_data(20_000, seed=20)
    analysis = binary_data(150_000, seed=21)
    common = {**COMMON, "metrics": metrics}
    table = RealizedPerformance(**common, chunk_size=1000).fit(reference).calculate(analysis).data
    for metric in metrics:
        rows = table[table.metric == metric]
        ratio = rows.value.std(ddof=1) / rows.sampling_error.mean()
        assert 0.8 < ratio < 1.25, (metric, ratio)


def test_multiclass_sampling_error_matches_the_spread(multiclass_data) -> None:
    metrics = ["accuracy", "f1", "f1_weighted", "recall", "roc_auc", "f1_micro"]
    calc = RealizedPerformance(
        task="multiclass_classification",
        y_true="y",
        y_pred="pred",
        y_score={c: f"p_{c}" for c in "abc"},
        metrics=metrics,
        chunk_size=1000,
    ).fit(multiclass_data(20_000, seed=22))
    table = calc.calculate(multiclass_data(150_000, seed=23)).data
    for metric in metrics:
        rows = table[table.metric == metric]
        ratio = rows.value.std(ddof=1) / rows.sampling_error.mean()
        assert 0.8 < ratio < 1.25, (metric, ratio)


def test_regression_sampling_error_matches_the_spread(regression_data) -> None:
    metrics = ["mae", "mse", "rmse", "mape", "medae", "r2"]
    calc = RealizedPerformance(
        task="regression", y_true="y", y_pred="pred", metrics=metrics, chunk_size=1000
    ).fit(regression_data(20_000, seed=24))
    table = calc.calculate(regression_data(150_000, seed=25)).data
    for metric in metrics:
        rows = table[table.metric == metric]
        ratio = rows.value.std(ddof=1) / rows.sampling_error.mean()
        assert 0.8 < ratio < 1.25, (metric, ratio)
