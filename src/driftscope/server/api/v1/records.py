"""GET /api/v1/records."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query

from driftscope.errors import ValidationError
from driftscope.server.api.v1.deps import server_state
from driftscope.server.api.v1.schemas import RecordOut, RecordsOut
from driftscope.server.state import ServerState

router = APIRouter(tags=["records"])

MAX_LIMIT = 1000


def _utc(value: datetime | None) -> datetime | None:
    """Times without a zone are UTC, as stored."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get("/records", response_model=RecordsOut, summary="Captured records, oldest first")
def list_records(
    model: str | None = Query(None, description="Only this model"),
    version: str | None = Query(None, description="Only this model version"),
    start: datetime | None = Query(None, alias="from", description="Records at or after (ISO)"),
    end: datetime | None = Query(None, alias="to", description="Records before (ISO 8601)"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0),
    state: ServerState = Depends(server_state),
) -> RecordsOut:
    start, end = _utc(start), _utc(end)
    if start is not None and end is not None and end <= start:
        raise ValidationError(
            f"'to' ({end.isoformat()}) must be after 'from' ({start.isoformat()})"
        )
    rows = state.require_store().query_records(
        model=model, version=version, start=start, end=end, limit=limit, offset=offset
    )
    return RecordsOut(
        records=[RecordOut.model_validate(asdict(r)) for r in rows],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(rows) == limit else None,
    )
