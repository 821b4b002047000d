"""Reference datasets, monitoring runs, results and alerts: thin routes over
:mod:`driftscope.service.monitoring`.

- ``POST /models/{name}/reference``: a CSV or Parquet body (by Content-Type);
- ``GET /models/{name}/reference``: what the current reference holds;
- ``POST /models/{name}/monitoring/run``: compute now, in a thread of this
  worker (``wait=true`` answers when it is done, else 202 at once);
- ``GET /models/{name}/monitoring/status``: the current and the last runs;
- ``GET /models/{name}/monitoring?metric=&column=&method=&from=&to=``: results;
- ``GET /alerts?model=``: raised alerts, newest first.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from driftscope.errors import DriftscopeError, NotFound, PayloadTooLarge, ValidationError
from driftscope.server.api.v1.deps import server_state
from driftscope.server.api.v1.schemas import (
    AlertOut,
    AlertsOut,
    MonitoringStatusOut,
    ReferenceOut,
    ResultOut,
    ResultsOut,
    RunOut,
)
from driftscope.server.state import ServerState
from driftscope.service import monitoring as svc
from driftscope.service import reference as refs
from driftscope.storage.base import MonitoringRun

log = logging.getLogger(__name__)

router = APIRouter(tags=["monitoring"])

MAX_ALERTS = 10_000


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime | None, ...]:
    start, end = _utc(start), _utc(end)
    if start is not None and end is not None and end <= start:
        raise ValidationError(
            f"'to' ({end.isoformat()}) must be after 'from' ({start.isoformat()})"
        )
    return start, end


def _run_out(run: MonitoringRun) -> RunOut:
    return RunOut.model_validate(asdict(run))


def _reference_out(name: str, info: refs.ReferenceInfo, source: str) -> ReferenceOut:
    return ReferenceOut(model=name, performance=info.performance, source=source, **asdict(info))


async def _read_body(request: Request) -> bytes:
    """The request body, refused past :data:`~driftscope.service.reference.MAX_REFERENCE_BYTES`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > refs.MAX_REFERENCE_BYTES:
        raise PayloadTooLarge(
            f"the reference is {declared} bytes; at most {refs.MAX_REFERENCE_BYTES} are read"
        )
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > refs.MAX_REFERENCE_BYTES:
            raise PayloadTooLarge(f"the reference is over {refs.MAX_REFERENCE_BYTES} bytes")
        parts.append(chunk)
    return b"".join(parts)


@router.post(
    "/models/{name}/reference",
    response_model=ReferenceOut,
    status_code=201,
    summary="Upload the model's reference dataset (CSV or Parquet body, by Content-Type)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
)
async def post_reference(
    name: str, request: Request, state: ServerState = Depends(server_state)
) -> ReferenceOut:
    svc.model_settings(state.settings, name)  # 404 before reading a large body
    body = await _read_body(request)
    info = await asyncio.to_thread(
        svc.upload_reference,
        state.require_store(),
        state.settings,
        name,
        body,
        request.headers.get("content-type"),
    )
    return _reference_out(name, info, "uploaded")


@router.get(
    "/models/{name}/reference",
    response_model=ReferenceOut,
    summary="What the model's current reference holds",
)
def get_reference(name: str, state: ServerState = Depends(server_state)) -> ReferenceOut:
    model = svc.model_settings(state.settings, name)
    loaded = svc.load_reference(state.require_store(), state.settings, name)
    if loaded is None:
        raise NotFound(f"model {name!r} has no reference dataset")
    frame, source = loaded
    return _reference_out(name, refs.describe(frame, model), source)


@router.post(
    "/models/{name}/monitoring/run",
    response_model=RunOut,
    summary="Compute monitoring results now (202 at once, or 200 when done with wait=true)",
    responses={202: {"model": RunOut, "description": "The run started (or was running)"}},
)
async def run_now(
    name: str,
    wait: bool = Query(False, description="Answer when the run is done"),
    start: datetime | None = Query(None, alias="from", description="Records at or after (ISO)"),
    end: datetime | None = Query(None, alias="to", description="Records before (ISO 8601)"),
    state: ServerState = Depends(server_state),
) -> Any:
    svc.model_settings(state.settings, name)
    start, end = _window(start, end)
    store = state.require_store()
    if not wait:
        current = svc.running_run(name)
        if current is not None:  # this worker computes it already: report that run
            runs = [r for r in store.list_runs(name, limit=20) if r.id == current]
            if runs:
                return JSONResponse(_run_out(runs[0]).model_dump(mode="json"), status_code=202)
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    def mark(run_id: int) -> None:
        if not started.done():
            started.set_result(run_id)

    def on_start(run_id: int) -> None:
        loop.call_soon_threadsafe(mark, run_id)

    job = asyncio.ensure_future(
        asyncio.to_thread(
            svc.run_monitoring,
            store,
            state.settings,
            name,
            trigger="api",
            start=start,
            end=end,
            on_start=on_start,
        )
    )
    state.track(job)
    if wait:
        run = await job
        return _run_out(run)
    waiting: set[asyncio.Future[Any]] = {job, started}
    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if job in done:
        exc = job.exception()
        if isinstance(exc, DriftscopeError):
            raise exc
        return _run_out(job.result())
    run_id = started.result()
    runs = [r for r in store.list_runs(name, limit=20) if r.id == run_id]
    return JSONResponse(_run_out(runs[0]).model_dump(mode="json"), status_code=202)


@router.get(
    "/models/{name}/monitoring/status",
    response_model=MonitoringStatusOut,
    summary="The current and the last monitoring runs of the model",
)
def status(
    name: str,
    limit: int = Query(10, ge=1, le=100, description="How many recent runs to list"),
    state: ServerState = Depends(server_state),
) -> MonitoringStatusOut:
    model = svc.model_settings(state.settings, name)
    store = state.require_store()
    runs = store.list_runs(name, limit=limit)
    current = next((r for r in runs if r.status == "running"), None)
    last = next((r for r in runs if r.status != "running"), None)
    has_ref = model.reference is not None or store.get_reference(name) is not None
    mon = state.settings.monitoring
    return MonitoringStatusOut(
        model=name,
        reference=has_ref,
        scheduler={
            "enabled": mon.enabled,
            "interval_s": mon.interval_s,
            "process": "ingest (driftscope serve)",
        },
        current=None if current is None else _run_out(current),
        last=None if last is None else _run_out(last),
        runs=[_run_out(r) for r in runs],
    )


@router.get(
    "/models/{name}/monitoring",
    response_model=ResultsOut,
    summary="Monitoring results of the newest run of each series, by chunk",
)
def results(
    name: str,
    metric: str | None = Query(None, description="Only this metric (e.g. statistic, accuracy)"),
    column: str | None = Query(None, description="Only this column (a feature, prediction ...)"),
    method: str | None = Query(None, description="Only this method (e.g. ks, realized, cbpe)"),
    start: datetime | None = Query(None, alias="from", description="Chunks starting at or after"),
    end: datetime | None = Query(None, alias="to", description="Chunks starting before"),
    state: ServerState = Depends(server_state),
) -> ResultsOut:
    start, end = _window(start, end)
    frame = svc.load_results(
        state.require_store(),
        state.settings,
        name,
        metric=metric,
        column=column,
        method=method,
        start=start,
        end=end,
    )
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return ResultsOut(model=name, results=[ResultOut.model_validate(r) for r in rows])


@router.get("/alerts", response_model=AlertsOut, summary="Raised alerts, newest first")
def list_alerts(
    model: str | None = Query(None, description="Only this model"),
    limit: int = Query(100, ge=1, le=MAX_ALERTS),
    state: ServerState = Depends(server_state),
) -> AlertsOut:
    rows = state.require_store().list_alerts(model=model, limit=limit)
    return AlertsOut(
        alerts=[
            AlertOut(
                model=a.model,
                timestamp=a.timestamp,
                rule=a.rule,
                severity=a.severity,
                message=a.message,
                column=a.column,
                method=a.method,
                metric=a.metric,
                value=a.value,
                details=a.details,
            )
            for a in rows
        ]
    )
