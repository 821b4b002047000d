"""CBPE against realized performance on data with a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn import metrics as skm

from driftscope.errors import MonitoringError, ValidationError
from driftscope.monitoring.performance import CBPE, RealizedPerformance

METRICS = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy"]
COMMON = {
    "task": "binary_classification",
    "y_true": "y",
    "y_pred": "pred",
    "y_score": "score",
    "metrics": METRICS,
    "chunk_size": 1000,
}


def _both(reference: pd.DataFrame, analysis: pd.DataFrame, chunk_size: int = 1000) -> pd.DataFrame:
    common = {**COMMON, "chunk_size": chunk_size}
    est = CBPE(**common).fit(reference).calculate(analysis.drop(columns=["y"])).data
    real = RealizedPerformance(**common).fit(reference).calculate(analysis).data
    return est.merge(
        real[["chunk_index", "metric", "value"]],
        on=["chunk_index", "metric"],
        suffixes=("", "_realized"),
    )


def test_calibrated_scores_estimate_within_band_in_95_percent_of_chunks(binary_data) -> None:
    reference = binary_data(20_000, seed=1)
    analysis = binary_data(100_000, seed=2)
    both = _both(reference, analysis)
    assert len(both) == 100 * len(METRICS)
    inside = (both.value_realized >= both.lower_confidence) & (
        both.value_realized <= both.upper_confidence
    )
    per_metric = inside.groupby(both.metric).mean()
    assert (per_metric >= 0.95).all(), per_metric.to_dict()
    # The band is not vacuous: it is a few hundredths wide at 1000 rows.
    assert (both.upper_confidence - both.lower_confidence).max() < 0.2


def test_calibration_check_leaves_calibrated_scores_alone(binary_data) -> None:
    calc = CBPE(**COMMON).fit(binary_data(20_000, seed=3))
    (report,) = calc.calibration_report()
    assert report["class"] == 1 and report["calibrated"] is False


def test_miscalibrated_scores_are_calibrated_and_estimate_still_holds(binary_data) -> None:
    reference = binary_data(20_000, seed=4)
    analysis = binary_data(20_000, seed=5)
    for frame in (reference, analysis):
        frame["score"] = frame["score"] ** 3  # monotone: same ranking, wrong probabilities
        frame["pred"] = (frame["score"] > 0.125).astype(int)
    calc = CBPE(**COMMON).fit(reference)
    assert calc.calibration_report()[0]["calibrated"] is True
    both = _both(reference, analysis)
    assert (both.value - both.value_realized).abs().max() < 0.05


def test_estimate_follows_realized_under_covariate_shift(binary_data) -> None:
    reference = binary_data(20_000, seed=6)
    analysis = pd.concat(
        [binary_data(5000, seed=7 + i, shift=s) for i, s in enumerate([0.0, 0.5, 1.0, 1.5, 2.0])],
        ignore_index=True,
    )
    both = _both(reference, analysis, chunk_size=5000)
    for metric in ("accuracy", "specificity", "precision", "f1"):
        part = both[both.metric == metric]
        assert part.value_realized.max() - part.value_realized.min() > 0.05, metric
        assert (part.value - part.value_realized).abs().max() < 0.03, metric
        assert np.corrcoef(part.value, part.value_realized)[0, 1] > 0.9, metric


def test_cbpe_cannot_see_pure_concept_shift(binary_data) -> None:
    """Documented limit: same inputs and scores, different outcomes -> the estimate stays put."""
    reference = binary_data(20_000, seed=8)
    analysis = pd.concat(
        [binary_data(5000, seed=9), binary_data(5000, seed=10, concept=True)], ignore_index=True
    )
    both = _both(reference, analysis)
    acc = both[both.metric == "accuracy"].set_index("chunk_index")
    before, after = acc.loc[:4], acc.loc[5:]
    assert after.value_realized.mean() < before.value_realized.mean() - 0.2  # it got worse
    assert abs(after.value.mean() - before.value.mean()) < 0.02  # CBPE saw nothing
    assert after.alert.sum() == 0  # so it raises no alert either


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_calibrated_within_band(multiclass_data, seed: int) -> None:
    common = {
        "task": "multiclass_classification",
        "y_true": "y",
        "y_pred": "pred",
        "y_score": {c: f"p_{c}" for c in "abc"},
        "chunk_size": 1000,
        "metrics": ["accuracy", "f1", "f1_weighted", "roc_auc", "recall", "precision"],
    }
    reference = multiclass_data(20_000, seed=seed)
    analysis = multiclass_data(50_000, seed=seed + 100)
    est = CBPE(**common).fit(reference).calculate(analysis.drop(columns=["y"])).data
    real = RealizedPerformance(**common).fit(reference).calculate(analysis).data
    both = est.merge(
        real[["chunk_index", "metric", "value"]],
        on=["chunk_index", "metric"],
        suffixes=("", "_realized"),
    )
    inside = (both.value_realized >= both.lower_confidence) & (
        both.value_realized <= both.upper_confidence
    )
    assert inside.groupby(both.metric).mean().min() >= 0.95


def test_polars_input_and_expected_confusion(binary_data) -> None:
    reference = binary_data(5000, seed=11)
    analysis = binary_data(2000, seed=12)
    calc = CBPE(**COMMON).fit(pl.from_pandas(reference))
    table = calc.calculate(pl.from_pandas(analysis.drop(columns=["y"]))).data
    assert set(table.method) == {"cbpe"} and len(table) == 2 * len(METRICS)
    cm = calc.expected_confusion_matrix(analysis)
    assert cm.sum() == pytest.approx(len(analysis))
    real_cm = skm.confusion_matrix(analysis.y, analysis.pred)
    assert np.abs(cm - real_cm).max() < 80


def test_errors_are_clear(binary_data) -> None:
    with pytest.raises(ValidationError, match="scores"):
        CBPE(task="binary_classification", y_true="y", y_pred="pred")
    with pytest.raises(ValidationError, match="DLE"):
        CBPE(task="regression", y_true="y", y_pred="pred", y_score="s")
    with pytest.raises(MonitoringError, match="cannot estimate"):
        CBPE(**{**COMMON, "metrics": ["calibration_error"]}).fit(binary_data(500, seed=0))
    with pytest.raises(MonitoringError, match="not fitted"):
        CBPE(**COMMON).calculate(binary_data(10, seed=0))


def test_confusion_matrix_rows_realized_and_expected(binary_data) -> None:
    reference = binary_data(5000, seed=13)
    analysis = binary_data(2000, seed=14)
    common = {**COMMON, "metrics": ["accuracy", "confusion_matrix"]}
    real = RealizedPerformance(**common).fit(reference).calculate(analysis).data
    est = CBPE(**common).fit(reference).calculate(analysis.drop(columns=["y"])).data
    cells = ["cm[0,0]", "cm[0,1]", "cm[1,0]", "cm[1,1]"]
    assert set(cells) <= set(real.metric) and set(cells) <= set(est.metric)
    first = analysis.iloc[:1000]
    counts = skm.confusion_matrix(first.y, first.pred).ravel()
    got = real[(real.chunk_index == 0)].set_index("metric").loc[cells, "value"].to_numpy()
    np.testing.assert_array_equal(got, counts)
    expected = est[(est.chunk_index == 0)].set_index("metric").loc[cells, "value"].to_numpy()
    assert expected.sum() == pytest.approx(1000)
    assert np.abs(expected - counts).max() < 60


def test_confusion_matrix_cells_have_bands_that_hold_on_calibrated_data(binary_data) -> None:
    from driftscope.monitoring.performance import estimated_vs_realized, performance_result

    reference = binary_data(20_000, seed=15)
    analysis = binary_data(60_000, seed=16)
    res = performance_result(
        reference, analysis, **{**COMMON, "metrics": ["accuracy", "confusion_matrix"]}
    )
    beside = estimated_vs_realized(res)
    cells = beside[beside.metric.str.startswith("cm[")]
    assert len(cells) == 60 * 4
    assert cells.within_band.mean() >= 0.95
    half = (cells.upper_confidence - cells.lower_confidence) / 2
    # The band is a count's binomial spread (tens of rows at 1000 rows), not a blanket.
    assert half.between(5, 60).all()
    real = res.data[(res.data.method == "realized") & res.data.metric.str.startswith("cm[")]
    assert real.sampling_error.notna().all() and (real.sampling_error > 0).all()


def test_estimated_vs_realized_pairs_every_estimate_with_its_chunk(binary_data) -> None:
    from driftscope.monitoring.performance import estimated_vs_realized, performance_result

    reference = binary_data(5000, seed=17)
    analysis = binary_data(3000, seed=18)
    analysis.loc[2000:, "y"] = np.nan  # the last chunk has no labels yet
    res = performance_result(reference, analysis, **COMMON)
    beside = estimated_vs_realized(res)
    assert len(beside) == 3 * len(METRICS) and set(beside.method) == {"cbpe"}
    acc = beside[beside.metric == "accuracy"].set_index("chunk_index")
    first = analysis.iloc[:1000]
    assert acc.loc[0, "realized"] == pytest.approx(skm.accuracy_score(first.y, first.pred))
    assert acc.loc[0, "difference"] == pytest.approx(
        acc.loc[0, "estimated"] - acc.loc[0, "realized"]
    )
    assert acc.loc[2, "label_coverage"] == 0.0 and np.isnan(acc.loc[2, "realized"])
    assert pd.isna(acc.loc[2, "within_band"]) and acc.loc[:1, "within_band"].notna().all()
    ref = estimated_vs_realized(res, reference=True)
    assert len(ref) == 5 * len(METRICS) and ref.realized.notna().all()


def test_performance_drift_alerts_follow_covariate_shift(binary_data) -> None:
    reference = binary_data(20_000, seed=19)
    analysis = pd.concat(
        [binary_data(5000, seed=20), binary_data(5000, seed=21, shift=-1.5)], ignore_index=True
    )
    real = RealizedPerformance(**{**COMMON, "chunk_size": 5000}).fit(reference)
    est = CBPE(**{**COMMON, "chunk_size": 5000}).fit(reference)
    r = real.calculate(analysis).data.query("metric == 'accuracy'").set_index("chunk_index")
    e = est.calculate(analysis.drop(columns="y")).data
    e = e.query("metric == 'accuracy'").set_index("chunk_index")
    # Inputs moved away from the decision boundary: realized accuracy leaves its
    # bounds, and CBPE, which sees the scores move, raises the same alert.
    assert abs(r.loc[1, "value"] - r.loc[0, "value"]) > 0.05
    assert r.alert.tolist() == [False, True]
    assert e.alert.tolist() == [False, True]
    assert e.loc[1, "lower_confidence"] <= r.loc[1, "value"] <= e.loc[1, "upper_confidence"]


def test_realized_performance_alerts_where_cbpe_cannot(binary_data) -> None:
    reference = binary_data(20_000, seed=22)
    analysis = pd.concat(
        [binary_data(5000, seed=23), binary_data(5000, seed=24, concept=True)], ignore_index=True
    )
    real = RealizedPerformance(**COMMON).fit(reference).calculate(analysis).data
    acc = real[real.metric == "accuracy"].set_index("chunk_index")
    assert not acc.loc[:4, "alert"].any() and acc.loc[5:, "alert"].all()


@pytest.mark.parametrize("n", [2, 50, 5000])
def test_isotonic_fit_matches_scikit_learn(n: int) -> None:
    from sklearn.isotonic import IsotonicRegression

    from driftscope.monitoring.performance.calibration import fit_isotonic

    rng = np.random.default_rng(n)
    score = np.round(rng.random(n), 2)  # ties pool
    y = (rng.random(n) < score**2).astype(float)
    y[:2] = [0.0, 1.0]
    ours = fit_isotonic(score, y)
    theirs = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, y)
    probe = np.r_[np.linspace(-0.2, 1.2, 301), score]
    np.testing.assert_allclose(ours.predict(probe), theirs.predict(probe), atol=1e-12)
