"""Ingest of image uploads: the bytes go to the blob store, the records point at them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from driftscope.capture.exchange import Exchange
from driftscope.capture.spool import SpoolReader, SpoolWriter
from driftscope.codecs import Attachment, ImageCodec
from driftscope.config.settings import Settings
from driftscope.errors import StorageError
from driftscope.ingest import Ingestor
from driftscope.storage.blob.local import LocalBlobStore
from driftscope.types import BlobRef
from ingest.conftest import oip_exchange

BOUNDARY = "bnd-42"


def _png(seed: int) -> bytes:
    # a signature and an IHDR-sized header are enough for the codec; distinct bytes per seed
    return b"\x89PNG\r\n\x1a\n" + bytes((seed * 31 + i) % 256 for i in range(600))


def _jpeg(seed: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes((seed * 17 + i * 3) % 256 for i in range(900))


def settings() -> Settings:
    return Settings(
        capture={"batch_size": 4},
        models=[
            {
                "name": "img",
                "upstream": "http://127.0.0.1:9",
                "version": "v3",
                "protocol": "image",
                "path_prefix": "/predict",
                "task": "image_classification",
                "schema": {"classes": ["cat", "dog"], "prediction_path": "predictions"},
            },
            {"name": "tab", "upstream": "http://127.0.0.1:9", "version": "v1"},
        ],
    )


def raw_exchange(rid: str, data: bytes, media: str = "image/png") -> Exchange:
    return Exchange(
        model="img",
        protocol="image",
        request_id=rid,
        method="POST",
        path="/predict",
        received_at=1.7e9,
        latency_ms=4.0,
        status=200,
        request_headers={"content-type": media},
        request_body=data,
        response_headers={"content-type": "application/json"},
        response_body=orjson.dumps({"predictions": [0.2, 0.8]}),
    )


def multipart_exchange(rid: str, images: list[bytes]) -> Exchange:
    body = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="site"\r\n\r\n7\r\n'.encode()
    for i, data in enumerate(images):
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{i}"; '
                f'filename="{i}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    body += f"--{BOUNDARY}--\r\n".encode()
    preds = [{"label": "cat" if i % 2 else "dog"} for i in range(len(images))]
    return Exchange(
        model="img",
        protocol="image",
        request_id=rid,
        method="POST",
        path="/predict/batch",
        received_at=1.7e9 + 1,
        latency_ms=9.0,
        status=200,
        request_headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        request_body=body,
        response_headers={"content-type": "application/json"},
        response_body=orjson.dumps({"predictions": preds}),
    )


def _spool(root: Path, exchanges: list[Exchange]) -> SpoolReader:
    writer = SpoolWriter(root, segment_max_bytes=1024, segment_max_age_s=60)
    for ex in exchanges:
        writer.append([ex])
        writer.maybe_rotate()
    writer.close()
    return SpoolReader(root)


def _blob_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def parts(storage_pair):
    store, blobs = storage_pair.open()
    yield store, blobs
    store.close()
    blobs.close()


def test_images_land_in_the_blob_store_and_a_replay_duplicates_nothing(parts, tmp_path):
    store, blobs = parts
    sent = {
        ("raw-png", 0): _png(1),
        ("raw-jpeg", 0): _jpeg(2),
        **{("multi", i): img for i, img in enumerate([_png(3), _jpeg(4), _png(5)])},
    }
    exchanges = [
        raw_exchange("raw-png", sent[("raw-png", 0)]),
        oip_exchange("tab-1", rows=2),
        raw_exchange("raw-jpeg", sent[("raw-jpeg", 0)], media="application/octet-stream"),
        multipart_exchange("multi", [sent[("multi", i)] for i in range(3)]),
    ]
    reader = _spool(tmp_path / "spool", exchanges)
    assert len(reader.ready_segments()) > 1
    stats = Ingestor(settings(), store, blobs, reader).drain()
    assert (stats.exchanges, stats.records, stats.capture_errors, stats.retry) == (4, 7, 0, False)
    assert reader.depth() == (0, 0)

    got = {(r.request_id, r.row_index): r for r in store.query_records("img", limit=50)}
    assert set(got) == set(sent)
    for key, data in sent.items():
        rec = got[key]
        (ref,) = rec.inputs
        assert isinstance(ref, BlobRef) and ref.name == "image"
        assert ref.sha256 == hashlib.sha256(data).hexdigest() and ref.size == len(data)
        assert ref.media_type == ("image/png" if data.startswith(b"\x89PNG") else "image/jpeg")
        assert blobs.get(ref.uri) == data
        assert rec.model_version == "v3"
    assert got[("raw-png", 0)].prediction == "dog"
    assert got[("raw-png", 0)].scores == {"cat": 0.2, "dog": 0.8}
    assert [got[("multi", i)].prediction for i in range(3)] == ["dog", "cat", "dog"]
    assert got[("multi", 1)].features["site"] == 7
    # the tabular records are untouched: no inputs
    assert all(r.inputs == [] for r in store.query_records("tab", limit=10))

    # the same exchanges again (a crash before the segments were deleted)
    files_before = _blob_files(tmp_path / "blobs") if isinstance(blobs, LocalBlobStore) else None
    reader = _spool(tmp_path / "spool", exchanges)
    stats = Ingestor(settings(), store, blobs, reader).drain()
    assert (stats.records, stats.duplicates) == (0, 7)
    assert store.count_records("img") == 5
    if files_before is not None:
        assert _blob_files(tmp_path / "blobs") == files_before


def test_blob_store_down_keeps_the_segment_and_the_replay_stores_it_once(parts, tmp_path):
    store, blobs = parts
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the blob folder should be")
    images = [_png(10), _jpeg(11)]
    reader = _spool(
        tmp_path / "spool",
        [raw_exchange("a", images[0]), multipart_exchange("b", images[1:])],
    )
    segments = reader.ready_segments()
    stats = Ingestor(settings(), store, LocalBlobStore(blocked), reader).run_once()
    assert stats.retry and stats.capture_errors == 0
    assert reader.ready_segments() == segments  # nothing lost
    assert store.count_records("img") == 0 and store.list_capture_errors() == []

    stats = Ingestor(settings(), store, blobs, reader).drain()
    assert not stats.retry and stats.records == 2 and reader.depth() == (0, 0)
    got = {r.request_id: r for r in store.query_records("img")}
    assert blobs.get(got["a"].inputs[0].uri) == images[0]
    assert blobs.get(got["b"].inputs[0].uri) == images[1]


def test_an_unreadable_upload_is_a_capture_error_with_its_payload(parts, tmp_path):
    store, blobs = parts
    bad = raw_exchange("bad", b"<html>oops</html>", media="image/jpeg")
    reader = _spool(tmp_path / "spool", [bad])
    stats = Ingestor(settings(), store, blobs, reader).drain()
    assert (stats.records, stats.capture_errors) == (0, 1)
    (err,) = store.list_capture_errors()
    assert "content-type image/jpeg but the bytes are not a JPEG" in err.message
    payload = {p.name: p for p in err.payloads}["request"]
    assert blobs.get(payload.uri) == bad.request_body


class _ImagesRefused:
    """The real blob store, except that image puts fail (raw payloads still go in)."""

    def __init__(self, blobs):
        self._blobs = blobs

    def __getattr__(self, name):
        return getattr(self._blobs, name)

    def put(self, data, *, media_type, key=None):
        if media_type.startswith("image/"):
            raise StorageError("image bucket unavailable")
        return self._blobs.put(data, media_type=media_type, key=key)


def test_an_image_put_failure_is_a_storage_failure_not_a_capture_error(parts, tmp_path):
    # were the put inside the codec's error handling, the exchange would become a capture
    # error (whose payload puts succeed here) and its segment would be deleted
    store, blobs = parts
    reader = _spool(tmp_path / "spool", [raw_exchange("a", _png(20))])
    segments = reader.ready_segments()
    stats = Ingestor(settings(), store, _ImagesRefused(blobs), reader).run_once()
    assert stats.retry and stats.capture_errors == 0
    assert reader.ready_segments() == segments
    assert store.list_capture_errors() == [] and store.count_records("img") == 0


def test_an_attachment_for_a_missing_row_is_the_codecs_capture_error(parts, tmp_path, monkeypatch):
    store, blobs = parts

    class Stray(ImageCodec):
        def decode_with_attachments(self, exchange, model):
            records, attachments = super().decode_with_attachments(exchange, model)
            return records, [Attachment(len(records), b"x", "image/png", "image")]

    monkeypatch.setattr("driftscope.ingest.worker.get_codec", lambda protocol: Stray())
    reader = _spool(tmp_path / "spool", [raw_exchange("a", _png(30))])
    stats = Ingestor(settings(), store, blobs, reader).run_once()
    assert (stats.capture_errors, stats.retry, reader.depth()) == (1, False, (0, 0))
    (err,) = store.list_capture_errors()
    assert err.message == "codec 'image' returned an attachment for row 1 of 1 records"
