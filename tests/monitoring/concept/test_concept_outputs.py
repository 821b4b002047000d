"""Prediction and label drift through the engine's univariate methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from driftscope.monitoring.concept import LabelDrift, PredictionDrift


def _frame(n: int, seed: int, shift: float = 0.0, prior: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    score = 1 / (1 + np.exp(-x))
    y = (rng.random(n) < prior).astype(int)
    return pd.DataFrame({"score": score, "pred": (score > 0.5).astype(int), "y": y})


def test_prediction_drift_alerts_on_shifted_scores_only() -> None:
    reference = _frame(10_000, seed=0)
    analysis = pd.concat([_frame(2000, seed=1), _frame(2000, seed=2, shift=1.0)], ignore_index=True)
    calc = PredictionDrift(
        task="binary_classification",
        y_pred="pred",
        y_score="score",
        chunker={"type": "size", "chunk_size": 2000},
    ).fit(reference)
    data = calc.calculate(analysis).data
    assert set(data.figure) == {"prediction_drift"}
    assert set(data.column) == {"pred", "score"}
    ks = data[(data.column == "score") & (data.method == "ks")].set_index("chunk_index")
    assert not ks.loc[0, "alert"] and ks.loc[1, "alert"]
    expected = stats.ks_2samp(analysis.score[2000:], reference.score)
    assert ks.loc[1, "value"] == np.float64(expected.statistic)
    chi = data[(data.column == "pred") & (data.method == "chi2")].set_index("chunk_index")
    assert chi.loc[1, "alert"]


def test_label_drift_sees_prior_shift_on_labeled_rows() -> None:
    reference = _frame(10_000, seed=3)
    analysis = pd.concat([_frame(2000, seed=4), _frame(2000, seed=5, prior=0.6)], ignore_index=True)
    analysis.loc[::2, "y"] = np.nan  # half the labels have not arrived
    calc = LabelDrift(
        task="binary_classification", y_true="y", chunker={"type": "size", "chunk_size": 2000}
    ).fit(reference)
    data = calc.calculate(analysis).data
    chi = data[data.method == "chi2"].set_index("chunk_index")
    assert chi.n.tolist() == [1000, 1000]
    assert not chi.loc[0, "alert"] and chi.loc[1, "alert"]
    assert set(data.figure) == {"label_drift"}
