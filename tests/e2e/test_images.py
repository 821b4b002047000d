"""Image uploads through ``driftscope serve``: answers unchanged, records and blobs stored.

A real HTTP client (httpx, raw bodies and ``files=`` multipart) sends images to
the collector in front of a small image-classification upstream; every answer
is compared byte for byte with the same request sent straight to the upstream.
The records land in the database with ``inputs`` pointing at the exact bytes in
the blob store, on both storage backends.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from driftscope.capture.exchange import Exchange
from driftscope.capture.spool import SpoolReader, SpoolWriter
from driftscope.ingest import Ingestor
from driftscope.storage import open_blob_store, open_store
from server.upstream import serve_in_thread
from services.s3 import SeaweedS3

from .harness import Backend, config_dict, migrate, settings_of, wait_until

CLASSES = ["cat", "dog"]


def png(width: int, height: int, seed: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + bytes((x * 5 + y * 11 + seed) % 256 for x in range(width * 3))
        for y in range(height)
    )
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", ihdr),
            chunk(b"IDAT", zlib.compress(rows)),
            chunk(b"IEND", b""),
        ]
    )


def _score(data: bytes) -> float:
    return round(int(hashlib.sha256(data).hexdigest()[:4], 16) / 0xFFFF, 4)


def image_upstream() -> Starlette:
    """``/classify``: one raw image; ``/classify/batch``: multipart, one answer per file."""

    async def one(request: Request) -> Response:
        data = await request.body()
        p = _score(data)
        pred = {"label": CLASSES[p > 0.5], "scores": [1 - p, p]}
        body = orjson.dumps({"predictions": [pred], "bytes": len(data)})
        return Response(body, media_type="application/json", headers={"x-model": "tiny-cnn"})

    async def batch(request: Request) -> Response:
        # the stdlib email parser: a multipart reader independent of the codec's
        head = f"content-type: {request.headers['content-type']}\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
            head + await request.body()
        )
        preds = []
        for part in msg.get_payload():
            if part.get_filename() is not None:
                p = _score(part.get_payload(decode=True))
                preds.append({"label": CLASSES[p > 0.5], "scores": [1 - p, p]})
        return Response(orjson.dumps({"predictions": preds}), media_type="application/json")

    return Starlette(
        routes=[
            Route("/classify", one, methods=["POST"]),
            Route("/classify/batch", batch, methods=["POST"]),
        ]
    )


def image_model(upstream: str) -> dict[str, Any]:
    return {
        "name": "img",
        "version": "v1",
        "task": "image_classification",
        "upstream": upstream,
        "protocol": "image",
        "path_prefix": "/classify",
        "schema": {
            "classes": CLASSES,
            "prediction_path": "predictions",
            "prediction": "label",
            "scores": "scores",
            "features": [{"name": "camera", "type": "categorical"}],
        },
    }


def test_image_uploads_through_the_collector(
    backend: Backend, collector_factory: Any, tmp_path: Path
) -> None:
    with serve_in_thread(image_upstream()) as upstream:
        cfg = config_dict(tmp_path, backend, upstream)
        cfg["models"] = [image_model(upstream)]
        collector = collector_factory(cfg)
        sent: dict[tuple[str, int], bytes] = {}
        with httpx.Client(timeout=30) as http:
            for i in range(2):  # raw bodies
                img = png(8 + i, 6, seed=i)
                headers = {"content-type": "image/png", "x-request-id": f"raw-{i}"}
                via = http.post(f"{collector.url}/classify", content=img, headers=headers)
                direct = http.post(f"{upstream}/classify", content=img, headers=headers)
                assert via.status_code == direct.status_code == 200
                assert via.content == direct.content
                assert via.headers["x-model"] == "tiny-cnn"
                sent[(f"raw-{i}", 0)] = img
            # multipart from httpx's own encoder: three files and a form field
            imgs = [png(4, 4 + k, seed=10 + k) for k in range(3)]
            files = [
                (f"file{k}", (f"{k}.png", io.BytesIO(d), "image/png")) for k, d in enumerate(imgs)
            ]
            headers = {"x-request-id": "multi"}
            via = http.post(
                f"{collector.url}/classify/batch",
                files=files,
                data={"camera": "gate-7"},
                headers=headers,
            )
            for _, (_, fh, _) in files:
                fh.seek(0)
            direct = http.post(f"{upstream}/classify/batch", files=files, data={"camera": "gate-7"})
            assert via.status_code == 200 and via.content == direct.content
            for k, d in enumerate(imgs):
                sent[("multi", k)] = d
            answers = orjson.loads(via.content)["predictions"]
            assert len(answers) == 3

        store, blobs = backend.open()
        try:
            wait_until(lambda: store.count_records("img") == len(sent), "ingest of every image")
            got = {(r.request_id, r.row_index): r for r in store.query_records("img")}
            assert set(got) == set(sent)
            for key, data in sent.items():
                rec = got[key]
                (ref,) = rec.inputs
                assert ref.name == "image" and ref.media_type == "image/png"
                assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.size == len(data)
                assert blobs.get(ref.uri) == data
                p = _score(data)
                assert rec.prediction == CLASSES[p > 0.5]
                assert rec.scores == {"cat": 1 - p, "dog": p}
                assert rec.model_version == "v1" and rec.status == 200
            for k in range(3):
                assert got[("multi", k)].features["camera"] == "gate-7"
            if "image_width" in got[("raw-1", 0)].features:  # Pillow installed
                assert got[("raw-1", 0)].features["image_width"] == 9
            assert store.list_capture_errors() == []

            assert collector.stop() == 0
            stats = Ingestor(
                settings_of(cfg), store, blobs, SpoolReader(Path(cfg["capture"]["spool_dir"]))
            ).drain()
            assert (stats.exchanges, stats.records) == (0, 0)
            assert store.count_records("img") == len(sent)
        finally:
            store.close()
            blobs.close()


def _image_exchange(rid: str, data: bytes) -> Exchange:
    p = _score(data)
    return Exchange(
        model="img",
        protocol="image",
        request_id=rid,
        method="POST",
        path="/classify",
        received_at=1.7e9,
        latency_ms=2.0,
        status=200,
        request_headers={"content-type": "image/png"},
        request_body=data,
        response_headers={"content-type": "application/json"},
        response_body=orjson.dumps({"predictions": [{"label": "cat", "scores": [1 - p, p]}]}),
    )


@pytest.mark.services
def test_s3_down_keeps_the_image_segments_and_loses_nothing(
    s3_factory: Callable[[], SeaweedS3],
    postgres_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3 = s3_factory()
    for key, value in s3.info.env().items():
        monkeypatch.setenv(key, value)
    migrate(postgres_db_url)
    backend = Backend("postgres", postgres_db_url, f"s3://{s3.info.bucket}/img-outage", s3.info)
    cfg = config_dict(tmp_path, backend, "http://127.0.0.1:9")
    cfg["models"] = [image_model("http://127.0.0.1:9")]
    settings = settings_of(cfg)
    spool = Path(cfg["capture"]["spool_dir"])
    images = {f"o-{i}": png(3, 2 + i % 3, seed=100 + i) for i in range(12)}
    writer = SpoolWriter(spool, segment_max_bytes=1024, segment_max_age_s=60)
    for rid, data in images.items():
        writer.append([_image_exchange(rid, data)])
        writer.maybe_rotate()
    writer.close()
    store = open_store(postgres_db_url)
    blobs = open_blob_store(
        backend.blob_url,
        endpoint_url=s3.info.endpoint_url,
        region=s3.info.region,
        max_attempts=2,
        connect_timeout_s=1.0,
        read_timeout_s=5.0,
    )
    try:
        store.ensure_models(settings.models)
        reader = SpoolReader(spool)
        ingestor = Ingestor(settings, store, blobs, reader)
        before = reader.depth()
        s3.stop()
        stats = ingestor.run_once()
        assert stats.retry and stats.records == 0 and stats.capture_errors == 0
        assert reader.depth() == before  # every segment kept
        assert store.count_records("img") == 0

        s3.start()
        stats = ingestor.drain()
        assert not stats.retry and reader.depth() == (0, 0)
        assert store.count_records("img") == len(images)
        for rec in store.query_records("img", limit=50):
            (ref,) = rec.inputs
            assert ref.uri.startswith(f"s3://{s3.info.bucket}/img-outage/")
            assert blobs.get(ref.uri) == images[rec.request_id]
            assert ref.sha256 == hashlib.sha256(images[rec.request_id]).hexdigest()
    finally:
        store.close()
        blobs.close()
