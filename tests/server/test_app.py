"""create_app: routing, auth, errors, OpenAPI, and the REST API over real storage."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from driftscope.capture.spool import SpoolReader
from driftscope.config.settings import Settings
from driftscope.ingest import Ingestor
from driftscope.server import create_app
from driftscope.storage import open_blob_store, open_store

from .conftest import lifespan
from .upstream import Seen

TOKEN = "s3cret-token"


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ds")


def _with_token(settings: Settings) -> Settings:
    settings.server = settings.server.model_copy(update={"token": SecretStr(TOKEN)})
    return settings


def _infer_body(request_id: str, rows: list[list[float]]) -> dict[str, object]:
    return {
        "id": request_id,
        "inputs": [
            {
                "name": "x",
                "datatype": "FP64",
                "shape": [len(rows), 2],
                "data": [v for r in rows for v in r],
            }
        ],
    }


def _ingest(settings: Settings) -> int:
    """Drain the spool into the database (what the ingest process does)."""
    store = open_store(settings.storage.database_url)
    try:
        reader = SpoolReader(Path(settings.capture.spool_dir))
        deadline = time.monotonic() + 20
        total = 0
        # segments close on age; the open one of a live worker is not ready yet
        while time.monotonic() < deadline:
            total += (
                Ingestor(settings, store, open_blob_store(settings.storage.blob_url), reader)
                .drain()
                .records
            )
            if store.count_records() and not reader.ready_segments():
                break
            time.sleep(0.1)
        return total
    finally:
        store.close()


async def test_management_paths_and_proxy_dispatch(settings: Settings, seen: Seen) -> None:
    app = create_app(settings)
    async with lifespan(app), _client(app) as c:
        assert (await c.get("/healthz")).json() == {"status": "ok"}
        ready = await c.get("/readyz")
        assert ready.status_code == 200, ready.text
        spec = (await c.get("/openapi.json")).json()
        for path in ("/api/v1/models", "/api/v1/records", "/api/v1/labels", "/metrics"):
            assert path in spec["paths"], path
        assert "swagger" in (await c.get("/docs")).text.lower()
        page = await c.get("/")
        assert page.headers["content-type"].startswith("text/html")
        assert "<td>m</td>" in page.text and "/api/v1/models" in page.text
        # everything else goes to the upstream, untouched
        r = await c.post("/v2/models/m/infer", json=_infer_body("r1", [[1.0, 2.0]]))
        assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [3.0]
        r = await c.get("/something/else")
        assert (r.status_code, r.text) == (404, "upstream says hi")
        r = await c.get("/api/v1x")  # not the API prefix
        assert r.text == "upstream says hi"
    assert [p for p, _ in seen] == ["/v2/models/m/infer", "/something/else", "/api/v1x"]


async def test_bearer_token_on_api_and_metrics_only(settings: Settings, seen: Seen) -> None:
    app = create_app(_with_token(settings))
    async with lifespan(app), _client(app) as c:
        for path in ("/api/v1/models", "/api/v1/records", "/metrics"):
            r = await c.get(path)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == 'Bearer realm="driftscope"'
            r = await c.get(path, headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401
            assert 'error="invalid_token"' in r.headers["www-authenticate"]
            r = await c.get(path, headers={"Authorization": f"Basic {TOKEN}"})
            assert r.status_code == 401
            r = await c.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200, path
        r = await c.post("/api/v1/labels", json={"labels": []})
        assert r.status_code == 401
        assert (await c.get("/healthz")).status_code == 200
        # the page does not show stored figures without the token
        assert "records stored" not in (await c.get("/")).text
        # the proxied path never checks the token; the client's own header goes upstream
        r = await c.post(
            "/v2/models/m/infer",
            json=_infer_body("r2", [[1.0, 1.0]]),
            headers={"Authorization": "Bearer client-own"},
        )
        assert r.status_code == 200
    assert seen == [("/v2/models/m/infer", "Bearer client-own")]


async def test_records_labels_and_metrics(settings: Settings) -> None:
    app = create_app(settings)
    async with lifespan(app), _client(app) as c:
        for i in range(5):
            body = _infer_body(f"req-{i}", [[float(i), 1.0], [float(i), 2.0]])
            assert (await c.post("/v2/models/m/infer", json=body)).status_code == 200
        # a payload no codec can read: proxied as is, kept as a capture error
        r = await c.post("/v2/models/m/infer", content=b"not json", headers={"id": "bad"})
        assert r.status_code == 500
    stored = _ingest(settings)
    assert stored == 10

    app = create_app(settings)
    async with lifespan(app), _client(app) as c:
        models = (await c.get("/api/v1/models")).json()["models"]
        assert models == [
            {
                "name": "m",
                "task": "regression",
                "protocol": "oip_v2",
                "versions": ["v1"],
                "records": 10,
                "configured": True,
            }
        ]
        page = (await c.get("/api/v1/records", params={"model": "m", "limit": 4})).json()
        assert [(r["request_id"], r["row_index"]) for r in page["records"]] == [
            ("req-0", 0),
            ("req-0", 1),
            ("req-1", 0),
            ("req-1", 1),
        ]
        assert page["next_offset"] == 4
        first = page["records"][0]
        assert first["features"] == {"a": 0.0, "b": 1.0}
        assert first["prediction"] == 1.0 and first["model_version"] == "v1"
        last = (await c.get("/api/v1/records", params={"offset": 8})).json()
        assert len(last["records"]) == 2 and last["next_offset"] is None
        assert (await c.get("/api/v1/records", params={"version": "v9"})).json()["records"] == []
        ts = first["timestamp"]
        later = (await c.get("/api/v1/records", params={"to": ts})).json()["records"]
        assert later == []

        labels = {
            "labels": [
                {"model": "m", "request_id": "req-0", "value": 0.5},
                {"model": "m", "request_id": "req-0", "row_index": 1, "value": 1.5},
                {"model": "m", "request_id": "nope", "value": 9},
            ]
        }
        r = await c.post("/api/v1/labels", json=labels)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "received": 3,
            "written": 3,
            "unmatched": [{"model": "m", "request_id": "nope", "row_index": 0}],
        }
        # idempotent: posting again replaces (a bare list works too)
        r = await c.post(
            "/api/v1/labels", json=[{"model": "m", "request_id": "req-0", "value": 0.25}]
        )
        assert r.json()["written"] == 1 and r.json()["unmatched"] == []
        got = (await c.get("/api/v1/labels", params={"model": "m"})).json()["labels"]
        values = {(g["request_id"], g["row_index"]): g["value"] for g in got}
        assert values == {("req-0", 0): 0.25, ("req-0", 1): 1.5, ("nope", 0): 9}

        text = (await c.get("/metrics")).text
        assert 'driftscope_records_stored{model="m"} 10.0' in text
        assert "driftscope_spool_segments 0.0" in text
        assert "driftscope_database_up 1.0" in text
        assert 'driftscope_capture_errors_stored{model="m"} 1.0' in text
        assert "driftscope_requests_total" in text

    store = open_store(settings.storage.database_url)
    try:
        frame = store.records_frame("m")
    finally:
        store.close()
    keys = zip(frame.request_id, frame.row_index, strict=True)
    targets = dict(zip(keys, frame.target, strict=True))
    assert targets[("req-0", 0)] == 0.25 and targets[("req-0", 1)] == 1.5


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        (
            "post",
            "/api/v1/labels",
            {"labels": [{"model": "zz", "request_id": "a", "value": 1}]},
            422,
            "ValidationError",
        ),
        (
            "get",
            "/api/v1/records?from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z",
            None,
            422,
            "ValidationError",
        ),
    ],
)
async def test_driftscope_errors_map_to_http(
    settings: Settings, method: str, path: str, body: object, status: int, error: str
) -> None:
    app = create_app(settings)
    async with lifespan(app), _client(app) as c:
        r = await (c.post(path, json=body) if method == "post" else c.get(path))
        assert r.status_code == status
        assert r.json()["error"] == error and r.json()["detail"]


async def test_database_gone_gives_503_and_not_ready(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings)
    async with lifespan(app), _client(app) as c:
        db = tmp_path / "ds.db"
        db.rename(tmp_path / "moved.db")
        try:
            r = await c.get("/api/v1/models")
            assert r.status_code == 503 and r.json()["error"] == "StorageError"
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and "database" in ready.json()["problems"]
            assert "driftscope_database_up 0.0" in (await c.get("/metrics")).text
            # the proxy does not care
            r = await c.post("/v2/models/m/infer", json=_infer_body("x", [[1.0, 2.0]]))
            assert r.status_code == 200
        finally:
            (tmp_path / "moved.db").rename(db)
        assert (await c.get("/api/v1/models")).status_code == 200
