from __future__ import annotations

import numpy as np
import pytest

from driftscope.errors import ConfigError
from driftscope.monitoring.thresholds import (
    ConstantThreshold,
    QuantileThreshold,
    StandardDeviationThreshold,
    alerts,
    make_threshold,
)


def test_std_threshold_matches_numpy():
    values = np.array([0.1, 0.2, 0.15, np.nan, 0.12])
    lo, up = StandardDeviationThreshold(2, 3, prediction_interval=False).bounds(values)
    finite = values[np.isfinite(values)]
    assert lo == pytest.approx(finite.mean() - 2 * finite.std(ddof=1))
    assert up == pytest.approx(finite.mean() + 3 * finite.std(ddof=1))


def test_prediction_interval_widens_for_few_chunks():
    from scipy import stats

    values = np.array([0.1, 0.2, 0.15, 0.12, 0.18])
    _, up = StandardDeviationThreshold().bounds(values)
    k = stats.t.ppf(stats.norm.cdf(3), 4) * np.sqrt(1 + 1 / 5)
    assert up == pytest.approx(values.mean() + k * values.std(ddof=1))
    many = np.random.default_rng(0).normal(size=5000)
    _, up_many = StandardDeviationThreshold().bounds(many)
    assert up_many == pytest.approx(many.mean() + 3 * many.std(ddof=1), rel=1e-3)


def test_bounds_clipped_to_metric_limits():
    lo, up = StandardDeviationThreshold(prediction_interval=False).bounds(
        [0.01, 0.02, 0.03], value_limits=(0.0, 1.0)
    )
    assert lo is None and up == pytest.approx(0.05)
    assert StandardDeviationThreshold().bounds([0.5]) == (None, None)
    assert ConstantThreshold(-1, 2).bounds([], value_limits=(0, 1)) == (None, None)


def test_quantile_threshold():
    assert QuantileThreshold(0.0, 1.0).bounds([1, 2, 3]) == (1.0, 3.0)


def test_make_threshold_round_trip():
    made = (ConstantThreshold(0.1, 0.3), StandardDeviationThreshold(None, 2.5), QuantileThreshold())
    for t in made:
        again = make_threshold(t.to_config())
        assert type(again) is type(t) and again.to_config() == t.to_config()
    assert isinstance(make_threshold(None), StandardDeviationThreshold)
    with pytest.raises(ConfigError, match="valid: constant, quantile, std"):
        make_threshold({"type": "bogus"})
    with pytest.raises(ConfigError):
        make_threshold({"type": "std", "std_upper_multiplier": -1})
    with pytest.raises(ConfigError):
        ConstantThreshold(2, 1)


def test_alerts_nan_never_alerts():
    out = alerts([0.5, np.nan, -1.0, 0.2], [0.0, 0.0, None, None], [0.4, 0.4, None, 0.1])
    assert out.tolist() == [True, False, False, True]
