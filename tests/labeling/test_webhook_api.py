"""POST /api/v1/labels/webhook/labelstudio: secret, precise 4xx, stored after the answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftscope.config.settings import Settings
from driftscope.server import create_app
from driftscope.service.labeling import SECRET_HEADER
from driftscope.storage import RecordStore, open_store

from .conftest import SECRET, records, settings_doc

URL = "/api/v1/labels/webhook/labelstudio"


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan driven by hand (httpx's ASGITransport does not)."""
    app = create_app(settings)
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan"}, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    assert (await from_app.get())["type"] == "lifespan.startup.complete"
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://ds") as client:
            yield client
    finally:
        await to_app.put({"type": "lifespan.shutdown"})  # waits for the webhook jobs
        assert (await from_app.get())["type"] == "lifespan.shutdown.complete"
        await task


def body(
    value: float = 4.0,
    request_id: str = "r1",
    action: str = "ANNOTATION_CREATED",
    at: str = "2026-11-02T10:00:00.000001Z",
) -> dict:
    return {
        "action": action,
        "project": {"id": 3},
        "task": {"id": 9, "data": {"model": "m", "request_id": request_id, "row_index": 0}},
        "annotation": {
            "id": 5,
            "result": [{"type": "number", "value": {"number": value}, "from_name": "value"}],
            "updated_at": at,
        },
    }


async def until(check: Any, timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DRIFTSCOPE_LABELING__API_TOKEN", "t")
    monkeypatch.setenv("DRIFTSCOPE_LABELING__WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DRIFTSCOPE_SERVER__TOKEN", "api-token")  # the API is closed
    return Settings(**settings_doc(tmp_path))


def db(settings: Settings) -> RecordStore:
    return open_store(settings.storage.database_url)


async def test_secret_is_checked(settings: Settings) -> None:
    async with running(settings) as c:
        r = await c.post(URL, json=body())
        assert r.status_code == 401 and SECRET_HEADER in r.json()["detail"]
        r = await c.post(URL, json=body(), headers={SECRET_HEADER: "wrong"})
        assert r.status_code == 403
        # the bearer token of the API is no way in either
        r = await c.post(URL, json=body(), headers={"Authorization": "Bearer api-token"})
        assert r.status_code == 401
        # while the rest of the API still wants the token
        assert (await c.get("/api/v1/labels")).status_code == 401


async def test_no_secret_configured_refuses_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTSCOPE_LABELING__API_TOKEN", "t")
    async with running(Settings(**settings_doc(tmp_path))) as c:
        r = await c.post(URL, json=body(), headers={SECRET_HEADER: ""})
        assert r.status_code == 403 and "DRIFTSCOPE_LABELING__WEBHOOK_SECRET" in r.json()["detail"]


async def test_malformed_payloads_get_precise_4xx(settings: Settings) -> None:
    h = {SECRET_HEADER: SECRET}
    async with running(settings) as c:
        r = await c.post(URL, content=b"{not json", headers=h)
        assert r.status_code == 400 and "not JSON" in r.json()["detail"]
        r = await c.post(URL, json=[1, 2], headers=h)
        assert r.status_code == 422 and "JSON object" in r.json()["detail"]
        bad = body()
        bad["task"]["data"]["row_index"] = "zero"
        r = await c.post(URL, json=bad, headers=h)
        assert r.status_code == 422 and "row_index" in r.json()["detail"]
        bad = body()
        bad["task"]["data"]["model"] = "nope"
        r = await c.post(URL, json=bad, headers=h)
        assert r.status_code == 422 and "'nope' is not configured" in r.json()["detail"]
        r = await c.post("/api/v1/labels/webhook/othertool", json=body(), headers=h)
        assert r.status_code == 422 and "'othertool' is not configured" in r.json()["detail"]
        big = b"[" + b"1," * (4 * 1024 * 1024) + b"1]"
        r = await c.post(URL, content=big, headers=h)
        assert r.status_code == 413
        r = await c.post(URL, json=body(action="PROJECT_CREATED"), headers=h)
        assert r.status_code == 202 and r.json()["event"] == "ignored"
    store = db(settings)
    assert store.list_ground_truth() == []
    store.close()


async def test_labels_are_stored_replaced_and_replays_are_idempotent(settings: Settings) -> None:
    h = {SECRET_HEADER: SECRET}
    store = db(settings)
    async with running(settings) as c:
        store.add_records(records(n=2))
        store.claim_label_tasks("m", "labelstudio", "3", [("r1", 0)])
        store.mark_label_tasks("m", "labelstudio", [("r1", 0)], "sent", ["9"])
        for _ in range(2):  # Label Studio resends when it does not get an answer in time
            r = await c.post(URL, json=body(4.0), headers=h)
            assert r.status_code == 202 and r.json() == {
                "status": "accepted",
                "event": "labeled",
                "detail": "",
            }
        await until(lambda: len(store.list_ground_truth("m")) == 1)
        later = "2026-11-02T10:05:00Z"
        r = await c.post(URL, json=body(6.5, action="ANNOTATION_UPDATED", at=later), headers=h)
        assert r.status_code == 202
        await until(lambda: store.list_ground_truth("m")[0].value == 6.5)
        # a late copy of the creation, handled after the update, does not undo it
        assert (await c.post(URL, json=body(4.0), headers=h)).status_code == 202
    (gt,) = store.list_ground_truth("m")
    assert (gt.request_id, gt.row_index, gt.source) == ("r1", 0, "labelstudio")
    (task,) = store.list_label_tasks("m")
    assert (task.status, task.task_id) == ("labeled", "9")
    async with running(settings) as c:
        auth = {"authorization": "Bearer api-token"}
        assert (await c.get("/api/v1/labels/tasks")).status_code == 401  # behind the token
        counts = await c.get("/api/v1/labels/tasks", headers=auth)
        assert counts.status_code == 200 and counts.json() == {"tasks": {"m": {"labeled": 1}}}
        other = await c.get("/api/v1/labels/tasks", params={"model": "zz"}, headers=auth)
        assert other.json() == {"tasks": {}}
    frame = store.records_frame("m")
    assert frame.set_index("request_id").loc["r1", "target"] == 6.5
    store.close()
