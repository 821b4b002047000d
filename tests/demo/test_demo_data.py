"""The demo data: which features drift, and by how much."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftscope.demo import data
from driftscope.demo.traffic import TrafficGenerator


def test_drift_wave() -> None:
    assert data.drift_at(0, 100) == pytest.approx(0.0)
    assert data.drift_at(50, 100) == pytest.approx(1.0)
    assert data.drift_at(100, 100) == pytest.approx(0.0, abs=1e-12)
    assert data.drift_at(10, 0) == 0.0


def test_only_documented_features_drift() -> None:
    before = data.sample_features(20_000, np.random.default_rng(0), drift=0.0)
    after = data.sample_features(20_000, np.random.default_rng(1), drift=1.0)
    for i, name in enumerate(data.FEATURES):
        p = stats.ks_2samp(before[:, i], after[:, i]).pvalue
        if name in data.DRIFTING:
            assert p < 1e-6, name
        else:
            assert p > 1e-4, name
    income = data.FEATURES.index("income")
    ratio = np.median(after[:, income]) / np.median(before[:, income])
    assert ratio == pytest.approx(2 / 3, rel=0.05)
    home = data.FEATURES.index("home_ownership")
    assert np.mean(after[:, home] == 0) == pytest.approx(0.60, abs=0.02)


def test_request_bodies_are_oip_v2_with_labels_for_about_half() -> None:
    gen = TrafficGenerator("http://p", "http://a/api/v1", "t", seed=3)
    rows = labelled = 0
    for i in range(400):
        body, labels = gen.request_body(float(i))
        tensor = body["inputs"][0]
        n = tensor["shape"][0]
        assert 1 <= n <= 3 and tensor["shape"][1] == 8 and len(tensor["data"]) == 8 * n
        assert all(lab["request_id"] == body["id"] and lab["value"] in (0, 1) for lab in labels)
        rows += n
        labelled += len(labels)
    assert 0.4 < labelled / rows < 0.6
