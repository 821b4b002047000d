"""Table rows <-> pandas DataFrames (records frame, reference datasets, results)."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from driftscope.errors import StorageError
from driftscope.storage.base import FRAME_HEAD
from driftscope.storage.sql import typed
from driftscope.types import RESULT_COLUMNS


def _score_columns(scores: Any) -> dict[str, Any]:
    if isinstance(scores, dict):
        return {f"score_{k}": v for k, v in scores.items()}
    if scores is None:
        return {}
    return {"score": scores}


def _typed_columns(rows: Sequence[Any], layout: typed.Layout) -> dict[str, np.ndarray[Any, Any]]:
    """Feature columns of rows that all share one typed layout, straight from the packed
    values: the dtypes ``DataFrame.from_records`` gives the same values as dicts (float64
    with NaN for None, NaN and inf; int64 for ints; object None for a column of no value)."""
    width = len(layout.names)
    blob = b"".join(r.feature_values for r in rows)
    if len(blob) != 8 * width * len(rows):
        raise StorageError(f"typed features do not match their layout of {width} values")
    raw = np.frombuffer(blob, dtype="<f8").reshape(len(rows), width)
    matrix: np.ndarray[Any, Any] = np.where(np.isfinite(raw), raw, np.nan).astype(np.float64)
    ints = set(layout.ints)
    cols: dict[str, np.ndarray[Any, Any]] = {}
    for i, name in enumerate(layout.names):
        col = matrix[:, i]
        if i in ints:  # an int position holds an int in every row of this layout
            cols[name] = col.astype(np.int64)
        elif np.isnan(col).all():
            cols[name] = np.full(len(rows), None, dtype=object)
        else:
            cols[name] = col
    return cols


def _features(rows: Sequence[Any], layouts: Mapping[int, typed.Layout], index: Any) -> Any:
    ids = {r.feature_layout for r in rows}
    if len(ids) == 1 and None not in ids:  # one typed layout: columns from the arrays
        cols = _typed_columns(rows, layouts[int(ids.pop())])
        return pd.DataFrame(cols, index=index)
    dicts = [
        (r.features or {})
        if r.feature_layout is None
        else typed.decode(layouts[int(r.feature_layout)], r.feature_values)
        for r in rows
    ]
    return pd.DataFrame.from_records(dicts, index=index)


def records_to_frame(
    rows: Sequence[Any], layouts: Mapping[int, typed.Layout] | None = None
) -> pd.DataFrame:
    """Rows of (request_id, row_index, ts, model_version, features, feature_layout,
    feature_values, prediction, scores, target, latency_ms) -> the ``records_frame``
    table. ``layouts`` holds the layouts of the typed rows by id."""
    head = pd.DataFrame(
        {
            "request_id": pd.Series([r.request_id for r in rows], dtype=object),
            "row_index": pd.Series([r.row_index for r in rows], dtype="int64"),
            "timestamp": pd.to_datetime([r.ts for r in rows], utc=True),
            "model_version": pd.Series([r.model_version for r in rows], dtype=object),
        }
    )
    feats = _features(rows, layouts or {}, head.index)
    feats = feats.drop(columns=[c for c in feats.columns if c in FRAME_HEAD])
    scores = pd.DataFrame.from_records([_score_columns(r.scores) for r in rows], index=head.index)
    tail = pd.DataFrame(
        {
            "prediction": pd.Series([r.prediction for r in rows], index=head.index),
        }
    )
    end = pd.DataFrame(
        {
            "target": pd.Series([r.target for r in rows], index=head.index),
            "latency_ms": pd.Series([r.latency_ms for r in rows], index=head.index, dtype=float),
        }
    )
    if not rows:
        tail["prediction"] = tail["prediction"].astype(object)
        end["target"] = end["target"].astype(object)
    return pd.concat([head, feats, tail, scores, end], axis=1)


def frame_to_parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def parquet_to_frame(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data))


def _clean(value: Any) -> Any:
    """NumPy / pandas scalars to plain Python; NaN and NaT to None."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def results_to_rows(model: str, run_at: datetime, results: pd.DataFrame) -> list[dict[str, Any]]:
    table = results.reindex(columns=RESULT_COLUMNS)
    rows: list[dict[str, Any]] = []
    for rec in table.itertuples(index=False, name=None):
        row = {c: _clean(v) for c, v in zip(RESULT_COLUMNS, rec, strict=True)}
        for key in ("chunk_key", "segment", "column", "method", "metric"):
            if row[key] is not None:
                row[key] = str(row[key])
        for key in ("chunk_start", "chunk_end"):
            if row[key] is not None and not isinstance(row[key], datetime):
                row[key] = pd.Timestamp(row[key]).to_pydatetime()
        if row["alert"] is not None:
            row["alert"] = bool(row["alert"])
        row["model"] = model
        row["run_at"] = run_at
        rows.append(row)
    return rows


def rows_to_results(rows: Sequence[Any], all_runs: bool) -> pd.DataFrame:
    cols = [*RESULT_COLUMNS, "run_at"]
    frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=cols)
    for c in ("chunk_start", "chunk_end", "run_at"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    if not all_runs and len(frame):
        # newest run of every series: separate calculators may save at different times
        keys = frame[["segment", "column", "method", "metric"]].astype(str)
        newest = frame.groupby([keys[k] for k in keys], dropna=False)["run_at"].transform("max")
        frame = frame[frame["run_at"] == newest]
    return frame.sort_values(["chunk_index", "column", "method", "metric"]).reset_index(drop=True)
