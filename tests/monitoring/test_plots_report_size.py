"""Plot helpers carry the result's numbers; the report's size grows with columns, not rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftscope.errors import ValidationError
from driftscope.monitoring import Monitor, UnivariateDriftCalculator
from driftscope.monitoring.plots import (
    column_figure,
    distribution_figure,
    drift_figure,
    drift_scores,
)
from driftscope.monitoring.report import render_report


def _frames(n, width, seed=0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(width)})
    new = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(width)})
    new["x0"] += 1.0
    return ref, new


@pytest.fixture(scope="module")
def result():
    ref, new = _frames(3000, 3)
    calc = UnivariateDriftCalculator(chunker={"type": "count", "chunk_number": 5})
    return calc.fit(ref).calculate(new)


def test_drift_figure_has_values_thresholds_and_alerts(result):
    fig = drift_figure(result, "x0", "ks")
    traces = {t.name: t for t in fig.data}
    want = result.filter(column="x0", method="ks").data
    np.testing.assert_allclose(traces["analysis"].y, want["value"])
    uppers = [t for t in fig.data if t.name == "upper_threshold"]
    assert any(np.allclose(t.y, want["upper_threshold"]) for t in uppers)
    assert len(traces["alert"].y) == int(want["alert"].sum()) == 5
    with pytest.raises(ValidationError):
        drift_figure(result, "nope")
    assert result.plot("heatmap").data[0].type == "heatmap"
    with pytest.raises(ValidationError, match="valid"):
        result.plot("pie")


def test_column_figure_and_heatmap_scores(result):
    fig = column_figure(result, "x0")
    ks = next(t for t in fig.data if t.name == "ks")
    rows = result.filter(column="x0", method="ks").data
    np.testing.assert_allclose(ks.y, (rows["value"] / rows["upper_threshold"]).round(4))
    scores = drift_scores(result)
    assert list(scores.index) == result.ranking()["column"].tolist()
    assert scores.shape == (3, 5) and (scores.loc["x0"] > 1).all()
    heat = result.plot("heatmap")
    np.testing.assert_allclose(heat.data[0].z, np.round(scores.to_numpy(), 3))


def test_distribution_figure_shares_equal_numpy():
    rng = np.random.default_rng(1)
    ref, chunk = rng.normal(size=500), rng.normal(1, 1, 200)
    fig = distribution_figure(ref, chunk, "x", bins=10)
    edges = np.histogram_bin_edges(np.concatenate([ref, chunk]), bins=10)
    for trace, data in zip(fig.data, (ref, chunk), strict=True):
        counts, _ = np.histogram(data, bins=edges)
        np.testing.assert_allclose(trace.y, counts / counts.sum())
    cats = distribution_figure(["a", "a", "b"], ["b", "b", None], "c")
    by = {t.name: dict(zip(t.x, t.y, strict=True)) for t in cats.data}
    assert by["reference"] == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert by["chunk"] == pytest.approx({"a": 0.0, "b": 1.0})


def _report_bytes(n, width):
    ref, new = _frames(n, width, seed=width)
    result = Monitor(chunker={"type": "count", "chunk_number": 10}).fit(ref).calculate(new)
    page = render_report(result, reference=ref, analysis=new)
    assert page.index("What drifted") < page.index("Ranking") < page.index("Drift by column")
    return len(page.encode())


def test_report_size_grows_with_columns_not_rows():
    small, more_rows = _report_bytes(2000, 10), _report_bytes(20_000, 10)
    assert abs(more_rows - small) / small < 0.05  # aggregated figures only, never raw rows
    wide = _report_bytes(2000, 30)
    per_column = (wide - small) / 20
    base = small - 10 * per_column
    assert per_column > 0
    # issue 3's budget: 200 columns (x 1M rows) under 10 MB, extrapolated from 10 and 30
    assert base + 200 * per_column < 10_000_000
