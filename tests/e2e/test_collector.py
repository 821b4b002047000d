"""``driftscope serve`` in front of a real MLServer: transparent answers, exact captures.

Clients: ``tritonclient.http`` (a real OIP v2 client, JSON, single and batched)
and plain HTTP. Every answer through the collector is compared with the same
request sent straight to MLServer.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from driftscope.capture.spool import SpoolReader
from driftscope.ingest import Ingestor
from services.mlserver import MLServerInfo

from .harness import Backend, Collector, config_dict, settings_of, wait_until

pytestmark = pytest.mark.services

#: Response headers MLServer makes per request (the rest must match exactly).
PER_REQUEST_HEADERS = {"date", "ce-id", "ce-requestid"}
PASSTHROUGH_PATHS = (
    "/v2/health/ready",
    "/v2/health/live",
    "/v2/models/clf",
    "/v2/models/clf/ready",
)
INFER = "/v2/models/clf/infer"


def header_multiset(resp: httpx.Response) -> Counter[tuple[str, str]]:
    return Counter(
        (k.lower(), v)
        for k, v in resp.headers.multi_items()
        if k.lower() not in PER_REQUEST_HEADERS
    )


def assert_same_answer(via: httpx.Response, direct: httpx.Response) -> None:
    assert via.status_code == direct.status_code
    assert via.content == direct.content
    assert header_multiset(via) == header_multiset(direct)


class Sent:
    """What the clients sent through the collector and what came back: the expected records."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], dict[str, Any]] = {}

    def add(
        self, request_id: str, rows: np.ndarray, response: dict[str, Any] | None, status: int = 200
    ) -> None:
        outputs = {o["name"]: o for o in (response or {}).get("outputs", [])}
        for i, row in enumerate(rows.tolist()):
            exp: dict[str, Any] = {
                "features": {f"x{j}": v for j, v in enumerate(row)},
                "prediction": None,
                "scores": None,
                "status": status,
            }
            if outputs:
                exp["prediction"] = outputs["predict"]["data"][i]
                p = outputs["predict_proba"]["data"]
                exp["scores"] = {"0": p[2 * i], "1": p[2 * i + 1]}
            self.rows[(request_id, i)] = exp


def triton_infer(
    client: triton.InferenceServerClient, rows: np.ndarray, request_id: str
) -> triton.InferResult:
    inp = triton.InferInput("input-0", list(rows.shape), "FP64")
    inp.set_data_from_numpy(rows, binary_data=False)
    outputs = [
        triton.InferRequestedOutput("predict", binary_data=False),
        triton.InferRequestedOutput("predict_proba", binary_data=False),
    ]
    return client.infer("clf", [inp], outputs=outputs, request_id=request_id)


def send_traffic(collector: Collector, mlserver: MLServerInfo) -> Sent:
    """tritonclient and plain HTTP through the collector, each compared with a direct call."""
    rng = np.random.default_rng(3)
    sent = Sent()
    host = collector.url.removeprefix("http://")
    via_t = triton.InferenceServerClient(url=host)
    direct_t = triton.InferenceServerClient(url=mlserver.url.removeprefix("http://"))
    try:
        assert via_t.is_server_ready() and via_t.is_model_ready("clf")
        for i, n in enumerate((1, 4, 64)):  # single row and batches
            rows = rng.normal(size=(n, 4)).round(6)
            via = triton_infer(via_t, rows, f"triton-{i}")
            direct = triton_infer(direct_t, rows, f"triton-{i}")
            assert via.get_response() == direct.get_response()
            np.testing.assert_array_equal(via.as_numpy("predict"), direct.as_numpy("predict"))
            np.testing.assert_array_equal(
                via.as_numpy("predict_proba"), direct.as_numpy("predict_proba")
            )
            sent.add(f"triton-{i}", rows, via.get_response())
    finally:
        via_t.close()
        direct_t.close()

    json_headers = {"content-type": "application/json"}
    with httpx.Client(timeout=30) as http:
        for path in (
            "/v2/health/ready",
            "/v2/health/live",
            "/v2/models/clf",
            "/v2/models/clf/ready",
        ):
            assert_same_answer(http.get(collector.url + path), http.get(mlserver.url + path))
        for i, n in enumerate((1, 3, 10)):
            rows = rng.normal(size=(n, 4)).round(6)
            body = mlserver.infer_body(rows.tolist(), request_id=f"http-{i}")
            via = http.post(collector.url + INFER, content=body, headers=json_headers)
            direct = http.post(mlserver.infer_url, content=body, headers=json_headers)
            assert_same_answer(via, direct)
            assert "x-request-id" not in via.headers  # the client sent an id
            sent.add(f"http-{i}", rows, via.json())
        # an error from the upstream comes back untouched, and is captured with its status
        rows = rng.normal(size=(2, 4)).round(6)
        bad = json.loads(mlserver.infer_body(rows.tolist(), request_id="http-err"))
        bad["outputs"] = [{"name": "no_such_output"}]
        body = json.dumps(bad).encode()
        via = http.post(collector.url + INFER, content=body, headers=json_headers)
        direct = http.post(mlserver.infer_url, content=body, headers=json_headers)
        assert via.status_code >= 400
        assert_same_answer(via, direct)
        sent.add("http-err", rows, None, status=via.status_code)
        # no id anywhere: the collector makes one and returns it; the body is MLServer's own
        rows = rng.normal(size=(2, 4)).round(6)
        via = http.post(
            collector.url + INFER,
            content=mlserver.infer_body(rows.tolist()),
            headers=json_headers,
        )
        assert via.status_code == 200
        rid = via.headers["x-request-id"]
        assert rid
        sent.add(rid, rows, via.json())
    return sent


def assert_store_holds(store: Any, sent: Sent) -> None:
    got = store.query_records(model="clf", limit=len(sent.rows) + 10)
    by_key = {(r.request_id, r.row_index): r for r in got}
    assert len(got) == len(by_key) == len(sent.rows)
    assert set(by_key) == set(sent.rows)
    for key, exp in sent.rows.items():
        rec = by_key[key]
        assert rec.features == exp["features"], key
        assert rec.prediction == exp["prediction"], key
        assert rec.scores == exp["scores"], key
        assert rec.model_version == "v1"
        assert rec.status == exp["status"], key


def test_collector_in_front_of_mlserver(
    backend: Backend,
    mlserver: MLServerInfo,
    collector_factory: Any,
    tmp_path: Path,
) -> None:
    cfg = config_dict(tmp_path, backend, mlserver.url)
    collector = collector_factory(cfg)
    sent = send_traffic(collector, mlserver)

    store, blobs = backend.open()
    try:
        wait_until(
            lambda: store.count_records("clf") == len(sent.rows), "ingest of every captured row"
        )
        # ground truth through the API joins by request id and row
        labelled = sorted(k for k in sent.rows if k[0] != "http-err")[::2]
        labels = [
            {"model": "clf", "request_id": rid, "row_index": row, "value": (row + len(rid)) % 2}
            for rid, row in labelled
        ]
        resp = httpx.post(f"{collector.url}/api/v1/labels", json={"labels": labels}, timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.json()["written"] == len(labels)
        assert resp.json()["unmatched"] == []

        assert collector.stop() == 0  # SIGTERM: queue and spool drained
        # nothing is left for another ingest run, and nothing was stored twice
        settings = settings_of(cfg)
        stats = Ingestor(
            settings, store, blobs, SpoolReader(Path(cfg["capture"]["spool_dir"]))
        ).drain()
        assert (stats.exchanges, stats.records) == (0, 0)
        assert store.count_records("clf") == len(sent.rows)
        assert_store_holds(store, sent)

        frame = store.records_frame("clf").set_index(["request_id", "row_index"])
        want = {(rid, row): (row + len(rid)) % 2 for rid, row in labelled}
        for key in sent.rows:
            value = frame.loc[key, "target"]
            if key in want:
                assert value == want[key]
            else:
                assert value is None or value != value  # NaN / None: no label
    finally:
        store.close()
        blobs.close()
