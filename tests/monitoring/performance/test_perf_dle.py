"""DLE on synthetic regression with heteroscedastic noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftscope.errors import ValidationError
from driftscope.monitoring.performance import DLE, RealizedPerformance

COMMON = {
    "task": "regression",
    "y_true": "y",
    "y_pred": "pred",
    "metrics": ["mae", "mse", "rmse", "mape"],
    "chunk_size": 2000,
}
FEATURES = ["x1", "x2", "cat"]


def test_dle_follows_error_growth_under_covariate_shift(regression_data) -> None:
    reference = regression_data(20_000, seed=1)
    analysis = pd.concat(
        [regression_data(2000, seed=10 + i, shift=s) for i, s in enumerate(np.linspace(0, 2, 10))],
        ignore_index=True,
    )
    est = DLE(features=FEATURES, **COMMON).fit(reference).calculate(analysis.drop(columns="y")).data
    real = RealizedPerformance(**COMMON).fit(reference).calculate(analysis).data
    both = est.merge(
        real[["chunk_index", "metric", "value"]],
        on=["chunk_index", "metric"],
        suffixes=("", "_realized"),
    )
    mae = both[both.metric == "mae"]
    # The error grows with the shift, and the estimate grows with it.
    assert mae.value_realized.iloc[-1] > 2 * mae.value_realized.iloc[0]
    assert np.corrcoef(mae.value, mae.value_realized)[0, 1] > 0.95
    for metric in ("mae", "rmse"):
        part = both[both.metric == metric]
        rel = ((part.value - part.value_realized).abs() / part.value_realized).max()
        assert rel < 0.1, (metric, rel)
    # Drift in the error shows up as alerts on the learned bounds.
    assert mae.alert.iloc[-1] and not mae.alert.iloc[0]


def test_dle_uses_categorical_features(regression_data) -> None:
    reference = regression_data(20_000, seed=2)
    calc = DLE(features=FEATURES, **COMMON).fit(reference)
    only_a = regression_data(6000, seed=3)
    only_a = only_a[only_a.cat == "a"]
    only_b = regression_data(6000, seed=4)
    only_b = only_b[only_b.cat == "b"]
    est_a = calc.calculate(only_a).data.query("metric == 'mae'").value.iloc[0]
    est_b = calc.calculate(only_b).data.query("metric == 'mae'").value.iloc[0]
    assert est_a == pytest.approx(2 * est_b, rel=0.15)


def test_dle_reference_within_band(regression_data) -> None:
    reference = regression_data(20_000, seed=5)
    analysis = regression_data(40_000, seed=6)
    est = DLE(features=FEATURES, **COMMON).fit(reference).calculate(analysis.drop(columns="y")).data
    real = RealizedPerformance(**COMMON).fit(reference).calculate(analysis).data
    both = est.merge(
        real[["chunk_index", "metric", "value"]],
        on=["chunk_index", "metric"],
        suffixes=("", "_realized"),
    )
    both = both[both.metric.isin(["mae", "rmse"])]
    inside = (both.value_realized >= both.lower_confidence) & (
        both.value_realized <= both.upper_confidence
    )
    assert inside.mean() >= 0.95


def test_dle_validation() -> None:
    with pytest.raises(ValidationError, match="feature"):
        DLE(features=[], **COMMON)
    with pytest.raises(ValidationError, match="CBPE"):
        DLE(features=["x"], **{**COMMON, "task": "binary_classification"})


def test_dle_with_a_perfect_reference_estimates_zero(regression_data) -> None:
    reference = regression_data(2000, seed=7)
    reference["pred"] = reference["y"]  # no error anywhere: the Poisson loss cannot fit it
    calc = DLE(features=FEATURES, **COMMON).fit(reference)
    est = calc.calculate(regression_data(2000, seed=8)).data
    assert (est.value == 0.0).all()


def test_dle_thread_cap_changes_nothing_but_the_threads(regression_data, monkeypatch) -> None:
    import threading

    from driftscope.monitoring.performance import error_model

    seen: list[tuple[int | None, str]] = []
    controller = error_model._controller()

    class Spy:
        def limit(self, limits=None, user_api=None):
            seen.append((limits, threading.current_thread().name))
            return controller.limit(limits=limits, user_api=user_api)

    monkeypatch.setattr(error_model, "_controller", lambda: Spy())
    reference = regression_data(12_000, seed=6)
    analysis = regression_data(12_000, seed=7, shift=1.0).drop(columns="y")
    # n_jobs=2 (not "auto", which follows the CPU count): worker threads on any machine
    one = DLE(features=FEATURES, n_jobs=2, **COMMON).fit(reference).calculate(analysis).data
    assert seen and {limit for limit, _ in seen} == {1}  # the default: one OpenMP thread
    # the cap is set in the threads that fit and predict, not only in the caller
    assert any(name != threading.current_thread().name for _, name in seen)
    seen.clear()
    every = DLE(features=FEATURES, n_threads=None, n_jobs=2, **COMMON)
    every = every.fit(reference).calculate(analysis)
    assert seen and {limit for limit, _ in seen} == {None}
    np.testing.assert_allclose(one.value, every.data.value, rtol=1e-6)


@pytest.mark.parametrize("n_jobs", [1, 2, 3, None])
def test_dle_threads_over_models_change_nothing(regression_data, n_jobs) -> None:
    reference = regression_data(12_000, seed=6)
    analysis = regression_data(12_000, seed=7, shift=1.0).drop(columns="y")
    auto = DLE(features=FEATURES, **COMMON).fit(reference)
    other = DLE(features=FEATURES, n_jobs=n_jobs, **COMMON).fit(reference)
    a, b = auto.calculate(analysis), other.calculate(analysis)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.reference, b.reference)


def test_dle_row_estimates_stay_within_the_reference_errors(regression_data) -> None:
    from driftscope.monitoring.performance.error_model import DLEEstimator

    reference = regression_data(5000, seed=10)
    est = DLEEstimator(metrics=("mae", "mse", "mape")).fit(
        reference[FEATURES], reference.pred, reference.y
    )
    errors = reference.y - reference.pred
    largest = {
        "absolute": errors.abs().max(),
        "squared": (errors**2).max(),
        "absolute_percentage": (errors.abs() / reference.y.abs()).max(),
    }
    # far outside the reference: the Poisson loss's log link would extrapolate without bound
    far = regression_data(2000, seed=11, shift=40.0)
    rows = est.row_estimates(far[FEATURES], far.pred)
    for kind, values in rows.items():
        assert values.min() >= 0.0
        assert values.max() <= largest[kind]


def test_dle_small_reference_still_learns_where_errors_are_larger(regression_data) -> None:
    # 400 rows: leaves of the default 100 rows could barely split; they shrink to 20 here.
    reference = regression_data(400, seed=8)
    calc = DLE(features=FEATURES, **{**COMMON, "chunk_size": 100}).fit(reference)
    wide = regression_data(3000, seed=9)
    calm = wide[wide.x2.abs() < 0.3]
    wild = wide[wide.x2.abs() > 1.5]
    est_calm = calc.calculate(calm).data.query("metric == 'mae'").value.mean()
    est_wild = calc.calculate(wild).data.query("metric == 'mae'").value.mean()
    # about 5.4x with 20-row leaves, 3.7x with 100-row leaves on these seeds
    assert est_wild > 4.5 * est_calm


@pytest.mark.parametrize("jobs", [0, -1, "many", 1.5, True])
def test_dle_invalid_n_jobs_is_a_config_error(jobs) -> None:
    from driftscope.errors import ConfigError

    with pytest.raises(ConfigError, match="n_jobs"):
        DLE(features=FEATURES, n_jobs=jobs, **COMMON)


def test_dle_models_share_input_work_and_match_separate_fits(regression_data, monkeypatch) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from driftscope.monitoring.performance.error_model import DLEEstimator
    from driftscope.monitoring.performance.regression import row_errors

    binned: list[bool] = []
    bin_data = HistGradientBoostingRegressor._bin_data

    def spy(self, X, *args, **kwargs):
        binned.append(kwargs.get("is_training_data", args[-1] if args else None))
        return bin_data(self, X, *args, **kwargs)

    monkeypatch.setattr(HistGradientBoostingRegressor, "_bin_data", spy)
    reference = regression_data(12_000, seed=6)  # early stopping: a validation split
    analysis = regression_data(3000, seed=7, shift=1.0)
    est = DLEEstimator(metrics=("mae", "mse", "mape"), n_jobs=2).fit(
        reference[FEATURES], reference.pred, reference.y
    )
    # three models, one binning of the training rows and one of the validation rows
    assert sorted(binned) == [False, True]
    rows = est.row_estimates(analysis[FEATURES], analysis.pred)
    x = est._matrix(reference[FEATURES], reference.pred.to_numpy())
    xa = est._matrix(analysis[FEATURES], analysis.pred.to_numpy())
    for kind, model in est._models.items():
        alone = HistGradientBoostingRegressor(**model.get_params())
        alone.fit(x, row_errors(kind, reference.y.to_numpy(), reference.pred.to_numpy()))
        assert alone.n_iter_ == model.n_iter_
        expected = np.clip(alone.predict(xa), 0.0, est._limits[kind])
        np.testing.assert_array_equal(rows[kind], expected)
        assert model._shared is None  # nothing of a fit's inputs stays behind


def test_shared_inputs_reuse_only_equal_inputs() -> None:
    from driftscope.monitoring.performance.error_model import _SharedInputs

    shared = _SharedInputs()
    calls: list[int] = []

    def compute(value: int):
        return lambda: calls.append(value) or value

    a = np.arange(6.0).reshape(3, 2)
    assert shared.get("step", {"p": 1}, a, compute(1)) == 1
    assert shared.get("step", {"p": 1}, a.copy(), compute(2)) == 1  # equal array: reused
    assert shared.get("step", {"p": 2}, a, compute(3)) == 3  # other parameters
    assert shared.get("step", {"p": 1}, a + 1, compute(4)) == 4  # other values
    assert shared.get("other", {"p": 1}, a, compute(5)) == 5  # other step
    assert calls == [1, 3, 4, 5]
    shared.clear()
    assert shared.get("step", {"p": 1}, a, compute(6)) == 6


def test_feature_encoder_codes_known_categories_and_leaves_the_rest_missing() -> None:
    from driftscope.monitoring.performance.error_model import FeatureEncoder

    reference = pd.DataFrame(
        {
            "s": pd.Series(["a", "b", "b", None, "c"], dtype="str"),
            "o": pd.Series(["x", 3, None, "x", 3], dtype=object),
            "n": [1.0, 2.0, np.nan, 4.0, 5.0],
        }
    )
    enc = FeatureEncoder(max_categories=2).fit(reference)
    analysis = pd.DataFrame(
        {
            "s": pd.Series(["b", "a", "zzz", None, "c"], dtype="str"),
            "o": pd.Series([3, "x", "y", None, "3"], dtype=object),
            "n": [0.5, np.nan, 1.0, 2.0, 3.0],
        }
    )
    x = enc.transform(analysis)
    s_codes = {v: i for i, v in enumerate(enc.categories["s"])}  # "b" first, then one of a/c
    assert x[0, 0] == s_codes["b"]
    assert np.isnan(x[2, 0]) and np.isnan(x[3, 0])  # unseen, missing
    o_codes = {v: i for i, v in enumerate(enc.categories["o"])}
    assert x[0, 1] == o_codes["3"] and x[1, 1] == o_codes["x"] and x[4, 1] == o_codes["3"]
    assert np.isnan(x[2, 1]) and np.isnan(x[3, 1])
    np.testing.assert_array_equal(x[:, 2], analysis.n.to_numpy())
    assert enc.transform(analysis.iloc[:0]).shape == (0, 3)


def test_openmp_cap_found_without_threadpoolctl_inspection() -> None:
    import threading

    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    from driftscope.monitoring.performance.error_model import _OpenMPRuntimes

    runtimes = _OpenMPRuntimes.find()
    if runtimes is None:
        pytest.skip("no OpenMP runtime found from /proc/self/maps (not Linux?)")
    seen: list[tuple[int, int, int]] = []

    def in_thread() -> None:
        before = _openmp_effective_n_threads()
        with runtimes.limit(limits=1):
            capped = _openmp_effective_n_threads()
        seen.append((before, capped, _openmp_effective_n_threads()))

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()
    before, capped, after = seen[0]
    assert capped == 1 and after == before
    with runtimes.limit(limits=None):  # None leaves the setting alone
        assert _openmp_effective_n_threads() == before


def test_dle_row_order_for_prediction_changes_no_estimate(regression_data) -> None:
    from driftscope.monitoring.performance.error_model import DLEEstimator

    reference = regression_data(12_000, seed=6)
    analysis = regression_data(5000, seed=7, shift=1.0)
    est = DLEEstimator(metrics=("mae", "mse", "mape"), n_jobs=2).fit(
        reference[FEATURES], reference.pred, reference.y
    )
    assert est._row_order is not None  # learned from the trees' splits
    x = est._matrix(analysis[FEATURES], analysis.pred.to_numpy())
    order = est._row_order(x)
    assert order is not None and np.array_equal(np.sort(order), np.arange(len(x)))
    ordered = est._predict(x)
    est._row_order = None
    as_they_come = est._predict(x)
    for kind, values in ordered.items():
        np.testing.assert_array_equal(values, as_they_come[kind])


def test_dle_predict_encoding_as_reordered_codes_matches_scikit_learn(regression_data) -> None:
    from driftscope.monitoring.performance.error_model import DLEEstimator

    reference = regression_data(3000, seed=6)
    est = DLEEstimator(metrics=("mae",), n_jobs=1).fit(
        reference[FEATURES], reference.pred, reference.y
    )
    model = est._models["absolute"]
    fast = model._codes_reordered
    assert fast is not None  # "cat" holds the codes 0, 1, 2
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    cat = FEATURES.index("cat")
    x[:, cat] = rng.choice([0.0, 1.0, 2.0, 3.0, -1.0, 0.5, np.nan], 500)  # some unknown
    x[::7, 0] = np.inf
    np.testing.assert_array_equal(fast(x), model._preprocessor.transform(x))
    x[3, cat] = np.inf  # scikit-learn rejects it: its own path runs and raises
    assert fast(x) is None
    with pytest.raises(ValueError, match="infinity"):
        model.predict(x)
