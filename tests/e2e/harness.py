"""End-to-end helpers: storage backends, ``driftscope serve`` processes, real exchanges."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

from driftscope.capture.exchange import Exchange
from driftscope.config.settings import Settings, load_settings
from driftscope.storage import open_blob_store, open_store
from driftscope.storage.base import BlobStore, RecordStore
from services._proc import ServerProcess, free_port, http_status
from services.mlserver import MLServerInfo
from services.s3 import S3Info

DRIFTSCOPE = Path(sys.executable).with_name("driftscope")


@dataclass(frozen=True)
class Backend:
    """Where records and blobs go: SQLite + a local folder, or PostgreSQL + S3."""

    name: str
    database_url: str
    blob_url: str
    s3: S3Info | None = None

    def storage_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"database_url": self.database_url, "blob_url": self.blob_url}
        if self.s3 is not None:
            cfg["s3_endpoint_url"] = self.s3.endpoint_url
            cfg["s3_region"] = self.s3.region
        return cfg

    def open(self) -> tuple[RecordStore, BlobStore]:
        store = open_store(self.database_url)
        opts: dict[str, Any] = {}
        if self.s3 is not None:
            opts = {"endpoint_url": self.s3.endpoint_url, "region": self.s3.region}
        return store, open_blob_store(self.blob_url, **opts)


def migrate(database_url: str) -> None:
    store = open_store(database_url)
    try:
        store.upgrade()
    finally:
        store.close()


# -- configuration ---------------------------------------------------------------------------


def model_config(upstream: str, **overrides: Any) -> dict[str, Any]:
    """The MLServer test model as driftscope sees it."""
    cfg: dict[str, Any] = {
        "name": "clf",
        "version": "v1",
        "task": "binary_classification",
        "upstream": upstream,
        "protocol": "oip_v2",
        "sample_rate": 1.0,
        "schema": {
            "features": [{"name": f"x{i}", "type": "continuous"} for i in range(4)],
            "prediction": "predict",
            "scores": "predict_proba",
            "classes": ["0", "1"],
        },
    }
    cfg.update(overrides)
    return cfg


def config_dict(root: Path, backend: Backend, upstream: str, **model: Any) -> dict[str, Any]:
    """A complete configuration under ``root``: fast spool rotation and ingest, no scheduler."""
    return {
        "data_dir": str(root / "data"),
        "server": {"host": "127.0.0.1", "port": 0},
        "capture": {
            "spool_dir": str(root / "spool"),
            "flush_interval_s": 0.02,
            "segment_max_age_s": 0.2,
            "ingest_interval_s": 0.2,
        },
        "storage": backend.storage_config(),
        "monitoring": {"enabled": False},
        "models": [model_config(upstream, **model)],
    }


def settings_of(cfg: dict[str, Any]) -> Settings:
    return load_settings(None, **cfg)


# -- driftscope serve ------------------------------------------------------------------------


@dataclass
class Collector:
    """A ``driftscope serve`` process on a free loopback port."""

    url: str
    config: dict[str, Any]
    process: ServerProcess

    def stop(self) -> int:
        """SIGTERM: workers drain their queues into the spool, ingest drains the spool."""
        self.process.stop(timeout_s=120)
        assert self.process.proc is not None
        return int(self.process.proc.returncode)


def start_collector(cfg: dict[str, Any], workdir: Path, name: str = "collector") -> Collector:
    """``driftscope serve --config`` on a free port, waited for until ``/readyz`` is 200."""
    port = free_port()
    cfg = {**cfg, "server": {**cfg.get("server", {}), "port": port}}
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    url = f"http://127.0.0.1:{port}"
    proc = ServerProcess(
        name,
        [DRIFTSCOPE, "serve", "--config", path, "--log-level", "warning"],
        workdir / f"{name}.log",
        env=dict(os.environ),
        cwd=workdir,
    )
    proc.start(lambda: http_status(f"{url}/readyz") == 200, timeout_s=120)
    return Collector(url, cfg, proc)


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}", pytrace=False)
        time.sleep(0.1)


# -- exchanges and what they must become -----------------------------------------------------


def oip_rows(rng: np.random.Generator, n: int) -> list[list[float]]:
    return [[float(v) for v in row] for row in rng.normal(size=(n, 4)).round(6)]


def real_exchanges(
    mlserver: MLServerInfo, n_requests: int, rows: int, *, prefix: str, seed: int = 7
) -> list[Exchange]:
    """Exchanges as the collector captures them, with MLServer's real answers."""
    rng = np.random.default_rng(seed)
    out: list[Exchange] = []
    path = f"/v2/models/{mlserver.model}/infer"
    with httpx.Client(timeout=30) as client:
        for i in range(n_requests):
            rid = f"{prefix}-{i}"
            body = mlserver.infer_body(oip_rows(rng, rows), request_id=rid)
            t0 = time.time()
            resp = client.post(
                mlserver.url + path, content=body, headers={"content-type": "application/json"}
            )
            assert resp.status_code == 200, resp.text
            out.append(
                Exchange(
                    model=mlserver.model,
                    protocol="oip_v2",
                    request_id=rid,
                    method="POST",
                    path=path,
                    received_at=t0,
                    latency_ms=(time.time() - t0) * 1000,
                    status=resp.status_code,
                    request_headers={"content-type": "application/json"},
                    request_body=body,
                    response_headers={k.lower(): v for k, v in resp.headers.items()},
                    response_body=resp.content,
                )
            )
    return out


def malformed_exchange(request_id: str) -> Exchange:
    """A request the upstream answered but no codec can read: a capture error."""
    return Exchange(
        model="clf",
        protocol="oip_v2",
        request_id=request_id,
        method="POST",
        path="/v2/models/clf/infer",
        received_at=time.time(),
        latency_ms=1.0,
        status=400,
        request_headers={"content-type": "application/json"},
        request_body=b'{"inputs": [{"name": "input-0", "shape": [1, 4], "data": [1, 2',
        response_headers={"content-type": "application/json"},
        response_body=b'{"error":"bad json"}',
    )


def expected_rows(exchanges: Sequence[Exchange]) -> dict[tuple[str, int], dict[str, Any]]:
    """(request id, row) -> features, prediction and scores, read independently of the codecs."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for ex in exchanges:
        req = json.loads(ex.request_body)
        resp = json.loads(ex.response_body)
        tensor = req["inputs"][0]
        n, width = tensor["shape"]
        outputs = {o["name"]: o for o in resp["outputs"]}
        pred, proba = outputs["predict"]["data"], outputs["predict_proba"]["data"]
        for i in range(n):
            out[(ex.request_id, i)] = {
                "features": {f"x{j}": tensor["data"][i * width + j] for j in range(width)},
                "prediction": pred[i],
                "scores": {"0": proba[2 * i], "1": proba[2 * i + 1]},
            }
    return out


def assert_records_match(store: RecordStore, exchanges: Sequence[Exchange]) -> None:
    """The store holds exactly one record per sent row, equal to what was sent and predicted."""
    want = expected_rows(exchanges)
    got = store.query_records(model="clf", limit=len(want) + 10)
    assert len(got) == len(want)
    by_key = {(r.request_id, r.row_index): r for r in got}
    assert set(by_key) == set(want)
    for key, exp in want.items():
        rec = by_key[key]
        assert rec.features == exp["features"], key
        assert rec.prediction == exp["prediction"], key
        assert rec.scores == exp["scores"], key
        assert rec.status == 200


def rows_for(rid: str) -> list[list[float]]:
    """The same three rows every time an id is sent (a retry is the same request)."""
    seed = int.from_bytes(rid.encode(), "little") % 2**32
    return [[float(v) for v in r] for r in np.random.default_rng(seed).normal(size=(3, 4)).round(6)]


def post_rows(url: str, mlserver: MLServerInfo, ids: list[str]) -> None:
    """One OIP v2 request of ``rows_for(id)`` per id to ``url``; each must succeed."""
    with httpx.Client(timeout=30) as http:
        for rid in ids:
            rows = rows_for(rid)
            resp = http.post(
                f"{url}/v2/models/clf/infer",
                content=mlserver.infer_body(rows, request_id=rid),
                headers={"content-type": "application/json"},
            )
            assert resp.status_code == 200, resp.text


def assert_rows_stored(store: RecordStore, ids: Sequence[str]) -> None:
    """Every row sent by ``post_rows`` for ``ids`` is stored exactly once, as sent."""
    assert store.count_records("clf") == len(ids) * 3
    got = store.query_records("clf", limit=len(ids) * 3 + 10)
    by_key = {(r.request_id, r.row_index): r for r in got}
    assert len(by_key) == len(got) == len(ids) * 3
    for rid in ids:
        for row, values in enumerate(rows_for(rid)):
            assert by_key[(rid, row)].features == {f"x{j}": v for j, v in enumerate(values)}


def spool_in_subprocess(spool: Path, exchanges: Sequence[Exchange], tmp: Path) -> None:
    """Append ``exchanges`` to the spool from another process (its own worker folder)."""
    data = tmp / f"exchanges-{os.getpid()}-{time.monotonic_ns()}.pkl"
    data.write_bytes(pickle.dumps(list(exchanges)))
    code = (
        "import pickle, sys\n"
        "from pathlib import Path\n"
        "from driftscope.capture.spool import SpoolWriter\n"
        "exs = pickle.loads(Path(sys.argv[2]).read_bytes())\n"
        "w = SpoolWriter(Path(sys.argv[1]), segment_max_bytes=16 * 1024, segment_max_age_s=60)\n"
        "for i in range(0, len(exs), 20):\n"
        "    w.append(exs[i : i + 20])\n"
        "    w.maybe_rotate()\n"
        "w.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(spool), str(data)], check=True, timeout=120)
