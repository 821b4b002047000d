"""Relationship change finds the feature whose link to the target moved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from driftscope.monitoring.concept import RelationshipChange, rank_features
from driftscope.monitoring.concept.relationship import association


def _frame(n: int, seed: int, swap: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    cat = rng.choice(["u", "v"], n)
    # Before: x0 drives the target; after the swap x2 does (same inputs, new concept).
    driver = x[:, 2] if swap else x[:, 0]
    logit = 2.0 * driver + 0.8 * x[:, 1] + np.where(cat == "u", 0.5, -0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2", "x3"])
    frame["cat"] = cat
    frame["y"] = y
    return frame


def test_swapped_driver_ranks_first_and_alerts() -> None:
    reference = _frame(20_000, seed=0)
    analysis = pd.concat([_frame(2000, seed=1), _frame(2000, seed=2, swap=True)], ignore_index=True)
    calc = RelationshipChange(
        task="binary_classification",
        features=["x0", "x1", "x2", "x3", "cat"],
        y_true="y",
        chunk_size=2000,
    ).fit(reference)
    result = calc.calculate(analysis).data
    shift = result[(result.metric == "importance_shift")].set_index(["chunk_index", "column"])
    assert shift.loc[(1, "x0"), "value"] < -0.3  # x0 lost its importance
    assert shift.loc[(1, "x2"), "value"] > 0.3  # x2 gained it
    assert shift.loc[(1, "x0"), "alert"] and shift.loc[(1, "x2"), "alert"]
    assert not shift.loc[0, "alert"].any()  # the unchanged chunk stays quiet
    ranking = rank_features(result)
    assert set(ranking.index[:2]) == {"x0", "x2"}
    assert ranking.loc["x3", "alerts"] == 0


def test_association_measures_match_scipy() -> None:
    rng = np.random.default_rng(3)
    a = pd.Series(rng.normal(size=500))
    b = pd.Series(a + rng.normal(size=500))
    assert association(a, b, False, False) == pytest.approx(stats.spearmanr(a, b)[0])
    c1 = pd.Series(rng.choice(["p", "q", "r"], 500))
    c2 = pd.Series(np.where(rng.random(500) < 0.7, c1, "p"))
    table = pd.crosstab(c1, c2).to_numpy()
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    v = np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1)))
    assert association(c1, c2, True, True) == pytest.approx(v)
    groups = pd.Series(np.where(a > 0, "pos", "neg"))
    eta = association(groups, b, True, False)
    means = b.groupby(groups).mean()
    sizes = groups.value_counts()
    between = sum(sizes[g] * (means[g] - b.mean()) ** 2 for g in means.index)
    assert eta == pytest.approx(np.sqrt(between / ((b - b.mean()) ** 2).sum()))
