"""Record builders shared by the storage and ingest tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from driftscope.types import Record

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_record(i: int, model: str = "m", row: int = 0, **kw: object) -> Record:
    fields: dict[str, object] = {
        "model": model,
        "request_id": f"r{i}",
        "row_index": row,
        "timestamp": T0 + timedelta(minutes=i),
        "model_version": "v1",
        "features": {"age": 20 + i, "city": "Oslo" if i % 2 else "Rome", "income": 1.5 * i},
        "prediction": i % 2,
        "scores": {"0": 0.25, "1": 0.75},
        "latency_ms": 2.5,
        "status": 200,
    }
    fields.update(kw)
    return Record(**fields)  # type: ignore[arg-type]
