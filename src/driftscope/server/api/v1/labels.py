"""POST and GET /api/v1/labels: ground truth joined to records by request id and row."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from driftscope.errors import ValidationError
from driftscope.server.api.v1.deps import server_state
from driftscope.server.api.v1.schemas import (
    LabelBatch,
    LabelIn,
    LabelKey,
    LabelOut,
    LabelsOut,
    LabelsWritten,
    LabelTasksOut,
)
from driftscope.server.state import ServerState
from driftscope.types import GroundTruth

router = APIRouter(tags=["labels"])

MAX_LIMIT = 10_000


@router.post(
    "/labels",
    response_model=LabelsWritten,
    summary="Post ground truth in a batch (idempotent: posting a key again replaces its value)",
)
def post_labels(
    body: LabelBatch | list[LabelIn], state: ServerState = Depends(server_state)
) -> LabelsWritten:
    items = body.labels if isinstance(body, LabelBatch) else body
    if not items:
        raise ValidationError("the batch holds no label")
    store = state.require_store()
    known = {m.name for m in state.settings.models}
    unknown = sorted({i.model for i in items} - known)
    if unknown:
        known |= {str(m["name"]) for m in store.list_models()}
        unknown = sorted(set(unknown) - known)
    if unknown:
        raise ValidationError(
            f"unknown model(s) {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    # one value per key: the last one in the batch wins, as a second post would
    latest: dict[tuple[str, str, int], LabelIn] = {}
    for item in items:
        latest[(item.model, item.request_id, item.row_index)] = item
    truths = [
        GroundTruth(
            model=i.model,
            request_id=i.request_id,
            row_index=i.row_index,
            value=i.value,
            timestamp=i.timestamp,
        )
        for i in latest.values()
    ]
    written = store.put_ground_truth(truths)
    by_model: dict[str, list[tuple[str, int]]] = {}
    for model, request_id, row in latest:
        by_model.setdefault(model, []).append((request_id, row))
    unmatched = [
        LabelKey(model=model, request_id=rid, row_index=row)
        for model, keys in sorted(by_model.items())
        for rid, row in store.missing_record_keys(model, keys)
    ]
    return LabelsWritten(received=len(items), written=written, unmatched=unmatched)


@router.get("/labels", response_model=LabelsOut, summary="Ground truth, oldest first")
def list_labels(
    model: str | None = Query(None, description="Only this model"),
    limit: int = Query(1000, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0),
    state: ServerState = Depends(server_state),
) -> LabelsOut:
    rows = state.require_store().list_ground_truth(model=model, limit=limit, offset=offset)
    return LabelsOut(
        labels=[
            LabelOut(
                model=g.model,
                request_id=g.request_id,
                row_index=g.row_index,
                value=g.value,
                timestamp=g.timestamp,
                source=g.source,
            )
            for g in rows
        ],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(rows) == limit else None,
    )


@router.get(
    "/labels/tasks",
    response_model=LabelTasksOut,
    summary="Records sent to the labeling tool, counted per model and status",
)
def count_label_tasks(
    model: str | None = Query(None, description="Only this model"),
    state: ServerState = Depends(server_state),
) -> LabelTasksOut:
    return LabelTasksOut(tasks=state.require_store().count_label_tasks(model))
