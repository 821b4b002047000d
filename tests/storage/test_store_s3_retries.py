"""The S3 blob store retries transient failures with backoff, and gives up as StorageError.

A small S3-speaking HTTP server on loopback answers the first N requests
with ``503 SlowDown`` (what S3 sends when throttling) and then accepts the
object. botocore's retry handler is what is under test, through the store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from driftscope.errors import StorageError
from driftscope.storage import open_blob_store

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class Throttling(ThreadingHTTPServer):
    failures = 0
    requests: list[str]
    stored: dict[str, bytes]


class Handler(BaseHTTPRequestHandler):
    server: Throttling

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_PUT(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.requests.append(self.path)
        if len(self.server.requests) <= self.server.failures:
            self.send_response(503)
            self.send_header("content-type", "application/xml")
            self.send_header("content-length", str(len(SLOW_DOWN)))
            self.end_headers()
            self.wfile.write(SLOW_DOWN)
            return
        self.server.stored[self.path] = body
        self.send_response(200)
        self.send_header("etag", '"x"')
        self.send_header("content-length", "0")
        self.end_headers()


@pytest.fixture
def throttling(monkeypatch: pytest.MonkeyPatch) -> Iterator[Throttling]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    server = Throttling(("127.0.0.1", 0), Handler)
    server.requests, server.stored = [], {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _store(server: Throttling, max_attempts: int):
    return open_blob_store(
        "s3://bucket/p",
        endpoint_url=f"http://127.0.0.1:{server.server_port}",
        region="us-east-1",
        max_attempts=max_attempts,
    )


def test_throttled_puts_are_retried_until_they_succeed(throttling):
    throttling.failures = 2
    store = _store(throttling, max_attempts=5)
    ref = store.put(b"payload", media_type="text/plain", key="a/b.txt")
    assert ref.uri == "s3://bucket/p/a/b.txt"
    assert throttling.requests == ["/bucket/p/a/b.txt"] * 3  # two 503s, then stored
    assert throttling.stored == {"/bucket/p/a/b.txt": b"payload"}
    store.close()


def test_retries_are_bounded_and_surface_as_storage_error(throttling):
    throttling.failures = 100
    store = _store(throttling, max_attempts=3)
    with pytest.raises(StorageError, match="SlowDown"):
        store.put(b"payload", media_type="text/plain", key="x")
    assert len(throttling.requests) == 3  # max_attempts counts the first try
    store.close()
