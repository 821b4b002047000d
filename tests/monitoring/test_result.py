from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from driftscope.errors import ValidationError
from driftscope.monitoring.result import RESULT_COLUMNS, Result

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _rows():
    rows = []
    for i in range(3):
        for col, val in (("a", 0.1 * i), ("b", 0.5), ("c", 0.05)):
            rows.append(
                {
                    "chunk_index": i,
                    "chunk_key": f"[{i}]",
                    "chunk_start": T0 + pd.Timedelta(days=i),
                    "n": 100,
                    "column": col,
                    "method": "ks",
                    "metric": "statistic",
                    "value": val,
                    "p_value": 0.5,
                    "upper_threshold": 0.15,
                    "alert": val > 0.15,
                }
            )
    return rows


def test_schema_and_polars():
    r = Result(_rows())
    assert list(r.data.columns) == RESULT_COLUMNS
    assert r.data["chunk_start"].dt.tz is None
    assert np.isnan(r.data["lower_threshold"]).all()
    pl_frame = r.to_polars()
    assert isinstance(pl_frame, pl.DataFrame) and pl_frame.height == 9


def test_ranking_alert_count_then_magnitude():
    rank = Result(_rows()).ranking()
    assert rank["column"].tolist() == ["b", "a", "c"]
    assert rank["alert_count"].tolist() == [3, 1, 0]
    assert rank["magnitude"].iloc[0] == pytest.approx((0.5 - 0.15) / 0.15)


def test_save_load_compare_filter(tmp_path):
    r = Result(
        _rows(),
        reference=[
            {
                "chunk_index": 0,
                "chunk_key": "r0",
                "n": 5,
                "column": "a",
                "method": "ks",
                "metric": "statistic",
                "value": 0.01,
            }
        ],
    )
    path = r.save(tmp_path / "res.parquet")
    back = Result.load(path)
    pd.testing.assert_frame_equal(back.data, r.data)
    pd.testing.assert_frame_equal(back.reference, r.reference)
    other = Result(r.data.assign(value=r.data["value"] + 0.1, alert=True))
    cmp = r.compare(other)
    assert np.allclose(cmp["difference"], 0.1)
    assert cmp["alert_changed"].sum() == (~r.data["alert"]).sum()
    assert set(r.filter(column="a").data["column"]) == {"a"}
    assert r.filter(alerts_only=True).data["alert"].all()
    assert len(r + r) == 18
    with pytest.raises(ValidationError):
        Result.load(tmp_path / "missing.parquet")
