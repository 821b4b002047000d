from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from driftscope.errors import ConfigError
from driftscope.monitoring.multivariate import (
    DomainClassifierCalculator,
    PCAReconstructionCalculator,
)
from driftscope.monitoring.outliers import OutlierCalculator


def _corr(n, broken=False, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = (rng.permutation(a) if broken else a) + rng.normal(0, 0.2, n)
    return pd.DataFrame({"a": a, "b": b, "c": rng.choice(["u", "v"], n)})


def test_pca_error_equals_sklearn_and_detects_broken_correlation():
    ref = _corr(4000)
    calc = PCAReconstructionCalculator(chunker={"type": "size", "chunk_size": 500}).fit(ref)
    x = calc.encoder_.transform(ref)
    pca = PCA(n_components=0.65, svd_solver="full").fit(x)
    want = np.linalg.norm(x - pca.inverse_transform(pca.transform(x)), axis=1)
    np.testing.assert_allclose(calc.errors(ref), want, rtol=1e-9)
    new = pd.concat([_corr(1000, seed=1), _corr(1000, broken=True, seed=2)], ignore_index=True)
    alerts = calc.calculate(new).data["alert"].tolist()
    assert alerts == [False, False, True, True]


def test_domain_classifier():
    ref = _corr(3000)
    calc = DomainClassifierCalculator(chunker={"type": "size", "chunk_size": 600}).fit(ref)
    new = pd.concat([_corr(600, seed=3), _corr(600, seed=4).assign(a=lambda d: d["a"] + 1.5)])
    values = calc.calculate(new.reset_index(drop=True)).data
    assert values["value"].iloc[0] < 0.65 < values["value"].iloc[1]
    assert values["alert"].tolist() == [False, True]


def test_outliers_scores_equal_isolation_forest_and_rate_alerts():
    ref = _corr(3000)
    calc = OutlierCalculator(chunker={"type": "size", "chunk_size": 500}).fit(ref)
    x = calc.encoder_.transform(ref)
    forest = IsolationForest(random_state=0).fit(x)
    np.testing.assert_allclose(calc.scores(ref), -forest.score_samples(x))
    new = _corr(1000, seed=5)
    new.loc[500:, ["a", "b"]] += 8
    assert calc.calculate(new).data["alert"].tolist() == [False, True]
    lof = OutlierCalculator(detector="lof", chunker={"type": "count", "chunk_number": 2})
    assert len(lof.fit(ref).calculate(new)) == 2
    with pytest.raises(ConfigError):
        OutlierCalculator(contamination=0.9)
