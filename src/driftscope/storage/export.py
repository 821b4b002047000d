"""Export records to Parquet in the object store, partitioned by model and day.

Layout (Hive-style, so Spark, DuckDB, Trino and ``pyarrow.dataset`` with
``partitioning="hive"`` read it as one table with ``model`` and ``date``
columns)::

    <prefix>/model=<model>/date=<YYYY-MM-DD>/part-00000.parquet

One file per model and UTC day, holding that day's ``records_frame``: request
id, row, timestamp, version, one column per feature, prediction, scores,
ground truth (``target``) and latency. Exporting a day again overwrites its
file, so a re-run after late ground truth is idempotent. Values the Parquet
writer cannot type (boxes, spans, mixed types) are written as JSON text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from driftscope.errors import StorageError
from driftscope.storage.base import BlobStore, RecordStore

if TYPE_CHECKING:
    import pandas as pd

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


@dataclass(frozen=True, slots=True)
class ExportedPart:
    model: str
    day: date
    rows: int
    uri: str


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _jsonable(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns Parquet cannot type (dicts, lists, mixed values) become JSON text."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype != object:
            continue
        kinds = {type(v) for v in col if v is not None and not (isinstance(v, float) and v != v)}
        if kinds <= {str} or kinds <= {bool} or kinds <= {int, float}:
            continue
        out[name] = col.map(_jsonable).astype(object)
    return out


def frame_to_parquet(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(_typed(frame), preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def part_key(prefix: str, model: str, day: date) -> str:
    # a model name is free text: quote what would break a path or a partition value
    safe = quote(model, safe="-_.")
    head = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    return f"{head}model={safe}/date={day.isoformat()}/part-00000.parquet"


def export_records(
    store: RecordStore,
    blobs: BlobStore,
    *,
    models: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    prefix: str = "exports/records",
) -> list[ExportedPart]:
    """Write one Parquet file per model and day with records in ``[start, end]`` (UTC days).

    Without ``start`` the export begins at a model's first record; without
    ``end`` it runs to today. Days without records write nothing.
    """
    if start is not None and end is not None and end < start:
        raise StorageError(f"export range is empty: --to {end} is before --from {start}")
    names = models if models is not None else [m["name"] for m in store.list_models()]
    last = end or datetime.now(UTC).date()
    parts: list[ExportedPart] = []
    for model in names:
        first = start
        if first is None:
            earliest = store.query_records(model, limit=1)
            if not earliest:
                continue
            first = earliest[0].timestamp.astimezone(UTC).date()
        day = first
        while day <= last:
            frame = store.records_frame(model, _day_start(day), _day_start(day + timedelta(days=1)))
            if len(frame):
                ref = blobs.put(
                    frame_to_parquet(frame),
                    media_type=PARQUET_MEDIA_TYPE,
                    key=part_key(prefix, model, day),
                )
                parts.append(ExportedPart(model, day, len(frame), ref.uri))
            day += timedelta(days=1)
    return parts
