"""Ingest benchmark: records per second from the spool into SQLite and PostgreSQL.

    .venv/bin/python benchmarks/ingest/run.py          # full sweep (minutes, idle cores)
    .venv/bin/python benchmarks/ingest/run.py --quick  # smoke run (small volumes)
    .venv/bin/python benchmarks/ingest/run.py --pg-url postgresql+psycopg://u@host:5432/db

Workloads:

- ``tabular``: OIP v2 JSON exchanges (25 FP64 features, a label and two class
  scores) with 1 row and with 32 rows per request, written to a real spool
  with :class:`~driftscope.capture.spool.SpoolWriter` (not timed), then
  drained by the real :class:`~driftscope.ingest.worker.Ingestor` (timed:
  segment read, frame check, codec decode, COPY / executemany, commit,
  segment delete). The same segments are also decoded without storing, to
  split the time between decoding and the database.
- ``image``: raw image uploads (``content-type: image/png``), each a valid
  100 KB PNG of random pixels (so nothing compresses and no two are alike),
  with a JSON answer (label and class scores). Drained by the real
  ``Ingestor`` through the ``image`` codec (timed: segment read, codec decode
  with the signature check and the header size read, ``BlobStore.put`` of
  each image, content-addressed, and the records with their blob references
  through ``RecordStore.add_records``); into a folder with each database, and
  into SeaweedFS (S3, started like the tests do) with PostgreSQL.

Every measurement runs in a fresh child process, so the peak memory
(``ru_maxrss``) is that of one measurement. PostgreSQL: ``--pg-url``, or a
throw-away cluster started like the tests do (tests/services/postgres.py:
loopback, ``fsync=off``, ``synchronous_commit=off``). Writes
``benchmarks/results/ingest.json`` and ``benchmarks/results/ingest.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from driftscope.capture.exchange import Exchange
from driftscope.capture.spool import SpoolReader, SpoolWriter
from driftscope.codecs import get_codec
from driftscope.config.settings import Settings
from driftscope.ingest.worker import Ingestor
from driftscope.storage import open_blob_store, open_store

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = HERE.parent / "results"
N_FEATURES = 25
IMAGE_BYTES = 100 * 1024
TARGET_PG_TABULAR = 50_000


def _settings(batch_size: int) -> Settings:
    return Settings(
        capture={"batch_size": batch_size},
        models=[
            {
                "name": "tab",
                "upstream": "http://127.0.0.1:9",
                "version": "v1",
                "schema": {
                    "features": [{"name": f"f{i}"} for i in range(N_FEATURES)],
                    "prediction": "label",
                    "scores": "proba",
                    "classes": ["no", "yes"],
                },
            },
            {
                "name": "img",
                "upstream": "http://127.0.0.1:9",
                "task": "image_classification",
                "protocol": "image",
                "path_prefix": "/predict",
                "schema": {"classes": ["cat", "dog"], "scores_path": "scores"},
            },
        ],
    )


def _tabular_exchange(i: int, rows: int, rng: np.random.Generator) -> Exchange:
    x = rng.normal(size=(rows, N_FEATURES))
    p = rng.uniform(size=rows)
    rid = f"r{i:09d}"
    request = {
        "id": rid,
        "inputs": [
            {"name": "x", "shape": [rows, N_FEATURES], "datatype": "FP64", "data": x.tolist()}
        ],
    }
    response = {
        "id": rid,
        "outputs": [
            {
                "name": "label",
                "shape": [rows],
                "datatype": "INT64",
                "data": (p > 0.5).astype(int).tolist(),
            },
            {
                "name": "proba",
                "shape": [rows, 2],
                "datatype": "FP64",
                "data": np.stack([1 - p, p], axis=1).tolist(),
            },
        ],
    }
    return Exchange(
        model="tab",
        protocol="oip_v2",
        request_id=rid,
        method="POST",
        path="/v2/models/tab/infer",
        received_at=1.7e9 + i * 0.001,
        latency_ms=1.5,
        status=200,
        request_headers={"content-type": "application/json"},
        request_body=orjson.dumps(request),
        response_headers={"content-type": "application/json"},
        response_body=orjson.dumps(response),
    )


def _png(rng: np.random.Generator) -> bytes:
    """A valid PNG of about IMAGE_BYTES: random RGB pixels, stored uncompressed."""
    width = height = 184  # 184 rows of 1 + 184 * 3 bytes: 101,752 bytes of pixels

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    pixels = rng.integers(0, 256, size=(height, 1 + width * 3), dtype=np.uint8)
    pixels[:, 0] = 0  # filter type "none" on every row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(pixels.tobytes(), 0)
    return b"".join(
        [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", ihdr), chunk(b"IDAT", idat), chunk(b"IEND", b"")]
    )


def _image_exchange(i: int, rng: np.random.Generator) -> Exchange:
    rid = f"i{i:09d}"
    return Exchange(
        model="img",
        protocol="image",
        request_id=rid,
        method="POST",
        path="/predict",
        received_at=1.7e9 + i * 0.001,
        latency_ms=5.0,
        status=200,
        request_headers={"content-type": "image/png"},
        request_body=_png(rng),
        response_headers={"content-type": "application/json"},
        response_body=b'{"label": "cat", "scores": {"cat": 0.9, "dog": 0.1}}',
    )


def _write_spool(root: Path, exchanges: list[Exchange]) -> None:
    writer = SpoolWriter(root, segment_max_bytes=16 << 20, segment_max_age_s=1e9)
    for start in range(0, len(exchanges), 500):
        writer.append(exchanges[start : start + 500])
    writer.close()


# -- one measurement (child process) -------------------------------------------------------


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ds-ingest-bench-"))
    try:
        return _measure(spec, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(spec: dict[str, Any], work: Path) -> dict[str, Any]:
    rng = np.random.default_rng(spec.get("seed", 0))
    settings = _settings(spec["batch_size"])
    url = spec["db_url"].replace("{work}", str(work))
    store = open_store(url, **spec.get("store_options", {}))
    store.upgrade()
    if spec.get("blob_url"):
        blobs = open_blob_store(spec["blob_url"], **spec.get("blob_options", {}))
    else:
        blobs = open_blob_store(f"file://{work / 'blobs'}")
    spool = work / "spool"
    if spec["workload"] == "tabular":
        rows = spec["rows_per_request"]
        n_req = max(1, spec["records"] // rows)
        _write_spool(spool, [_tabular_exchange(i, rows, rng) for i in range(n_req)])
        reader = SpoolReader(spool)
        # decode only (segments stay): how much of the time is the codec's
        codec, model = get_codec("oip_v2"), settings.model("tab")
        assert model is not None
        t0 = time.perf_counter()
        segments = reader.ready_segments()
        decoded = sum(len(codec.decode(ex, model)) for seg in segments for ex in reader.read(seg))
        decode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        stats = Ingestor(settings, store, blobs, reader).drain()
        elapsed = time.perf_counter() - t0
        stored = stats.records
        if stats.retry or stored != decoded:
            raise RuntimeError(f"ingest stored {stored} of {decoded} records ({stats})")
        extra = {"decode_only_records_per_s": decoded / decode_s}
    else:
        n = spec["records"]
        uploads = [_image_exchange(i, rng) for i in range(n)]
        image_bytes = sum(len(ex.request_body) for ex in uploads)
        _write_spool(spool, uploads)
        del uploads
        reader = SpoolReader(spool)
        t0 = time.perf_counter()
        stats = Ingestor(settings, store, blobs, reader).drain()
        elapsed = time.perf_counter() - t0
        stored = stats.records
        if stats.retry or stored != n or stats.capture_errors:
            raise RuntimeError(f"stored {stored} of {n} image records ({stats})")
        (sample,) = store.query_records("img", limit=1)
        if len(sample.inputs) != 1 or sample.prediction != "cat":
            raise RuntimeError(f"image record without its blob or prediction: {sample}")
        extra = {"mb_per_s": image_bytes / elapsed / 1e6}
    if store.count_records() != stored:
        raise RuntimeError("count_records disagrees with what ingest reported")
    store.close()
    return {
        **spec,
        "db_url": spec["db_url"].split("@")[-1],
        "stored": stored,
        "elapsed_s": elapsed,
        "records_per_s": stored / elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **extra,
    }


# -- the sweep (parent) --------------------------------------------------------------------


def _run_child(spec: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    res = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if res.returncode != 0:
        raise RuntimeError(f"measurement {spec} failed:\n{res.stdout}\n{res.stderr}")
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def _pg_databases(args: argparse.Namespace) -> tuple[Any, Any]:
    """(make a fresh database URL, stop) for PostgreSQL."""
    if args.pg_url:
        return (lambda: args.pg_url), (lambda: None)
    sys.path.insert(0, str(ROOT / "tests"))
    from services.postgres import PostgresServer  # the recipe the tests use

    log_dir = Path(tempfile.mkdtemp(prefix="ds-bench-pglog-"))
    server = PostgresServer(log_dir)
    server.start()
    return (lambda: server.url(server.create_database())), server.close


def _seaweed(args: argparse.Namespace) -> tuple[Any, Any]:
    """(S3 info or None, stop): SeaweedFS as the tests start it, when it is installed."""
    if args.no_s3:
        return None, lambda: None
    sys.path.insert(0, str(ROOT / "tests"))
    from services.s3 import WEED, SeaweedS3

    if not WEED.exists():
        print(f"SeaweedFS not found at {WEED}: image runs use the folder store only")
        return None, lambda: None
    server = SeaweedS3(Path(tempfile.mkdtemp(prefix="ds-bench-s3-")))
    server.start()
    return server.info, server.close


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        "| workload | rows/request | backend | batch | records | records/s "
        "| decode-only/s | peak RSS MB |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['workload']} | {r.get('rows_per_request', 1)} | {r['backend']} | "
            f"{r['batch_size']} | {r['stored']} | {r['records_per_s']:,.0f} | "
            f"{r.get('decode_only_records_per_s', float('nan')):,.0f} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small volumes, one batch size")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url", help="an existing PostgreSQL database (tables are created)")
    ap.add_argument("--no-s3", action="store_true", help="skip the SeaweedFS image run")
    ap.add_argument("--workloads", default="tabular,image", help="tabular, image or both")
    ap.add_argument("--rows", default="1,32", help="tabular rows per request, e.g. 32")
    ap.add_argument("--batches", help="batch sizes, e.g. 2000,5000 (default: by --quick)")
    ap.add_argument("--records", type=int, help="tabular records per measurement")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    backends = args.backends.split(",")
    batches = [2000] if args.quick else [500, 2000, 5000, 20000]
    if args.batches:
        batches = [int(b) for b in args.batches.split(",")]
    tab_records = args.records or (10_000 if args.quick else 200_000)
    workloads = args.workloads.split(",")
    tab_rows = [int(r) for r in args.rows.split(",")]
    img_records = 300 if args.quick else 5_000
    make_pg, stop_pg = _pg_databases(args) if "postgresql" in backends else (None, lambda: None)
    s3, stop_s3 = (
        _seaweed(args)
        if "postgresql" in backends and "image" in args.workloads.split(",")
        else (None, lambda: None)
    )
    results: list[dict[str, Any]] = []
    try:
        for backend in backends:
            for workload, rows_list, n in (
                ("tabular", tab_rows, tab_records),
                ("image", [1], img_records),
            ):
                if workload not in workloads:
                    continue
                for rows in rows_list:
                    for batch in batches if workload == "tabular" else batches[:1]:
                        db = "sqlite:///{work}/bench.db" if backend == "sqlite" else make_pg()
                        spec = {
                            "workload": workload,
                            "rows_per_request": rows,
                            "backend": backend,
                            "batch_size": batch,
                            "records": n,
                            "db_url": db,
                        }
                        r = _run_child(spec)
                        print(_table([r]).splitlines()[-1], flush=True)
                        results.append(r)
        # the production pairing for images: PostgreSQL + S3
        if s3 is not None and "image" in workloads:
            spec = {
                "workload": "image",
                "rows_per_request": 1,
                "backend": "postgresql+s3",
                "batch_size": batches[0],
                "records": img_records,
                "db_url": make_pg(),
                "blob_url": f"s3://{s3.bucket}/bench",
                "blob_options": {"endpoint_url": s3.endpoint_url, "region": s3.region},
            }
            r = _run_child(spec, s3.env())
            print(_table([r]).splitlines()[-1], flush=True)
            results.append(r)
    finally:
        stop_s3()
        stop_pg()
    best: dict[str, Any] = {}
    for r in results:
        key = f"{r['workload']}/{r['rows_per_request']}/{r['backend']}"
        if key not in best or r["records_per_s"] > best[key]["records_per_s"]:
            best[key] = r
    summary = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "quick": args.quick,
        "results": results,
        "best_batch_size": {k: v["batch_size"] for k, v in best.items()},
        "target_pg_tabular_records_per_s": TARGET_PG_TABULAR,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(summary, indent=2))
    md = _table(results) + "\n\nbest batch size: " + json.dumps(summary["best_batch_size"]) + "\n"
    (RESULTS / "ingest.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
