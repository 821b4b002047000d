"""The deferred capture path: the proxy queues raw tuples, the writer thread encodes them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from collector.harness import make_settings, run_proxy
from driftscope.capture.exchange import Exchange
from driftscope.capture.queue import CaptureQueue
from driftscope.capture.sink import ListSink
from driftscope.capture.spool import SpoolReader, SpoolWriter, decode_exchange
from driftscope.collector.capture import Sampled, encode_sampled
from driftscope.collector.routing import Target

TARGET = Target("tab", "http://u", True, "oip_v2", 1.0, "v7")


def _sampled(version: str | None = None) -> Sampled:
    return Sampled(
        TARGET,
        version,
        "POST",
        "/v2/models/tab/infer?x=1",
        1_700_000_000.25,
        "rid-1",
        True,
        [
            (b"Content-Type", b"application/json"),
            (b"Authorization", b"Bearer s3cret"),
            (b"X-Multi", b"a"),
            (b"x-multi", b"b"),
            (b"Cookie", b"sid=42"),
        ],
        b'{"id": "rid-1"}',
    )


class DeferredSink:
    """Keeps what the proxy would queue: (encode, args)."""

    def __init__(self) -> None:
        self.items: list[tuple[Callable[..., bytes], tuple[Any, ...]]] = []

    def submit(self, exchange: Exchange) -> bool:
        raise AssertionError("the deferred path must be taken")

    def submit_deferred(self, encode: Callable[..., bytes], args: tuple[Any, ...]) -> bool:
        self.items.append((encode, args))
        return True


def test_encoded_payload_decodes_to_the_eager_exchange() -> None:
    resp_headers = [(b"Set-Cookie", b"k=v"), (b"Content-Length", b"3"), (b"X-Up", b"\xe9")]
    sink = DeferredSink()
    for version in (None, "v2"):
        s = _sampled(version)
        eager = s.exchange(200, 1.5, resp_headers, b"abc", None)
        assert s.submit(sink, None, 200, 1.5, resp_headers, b"abc", None)
        encode, args = sink.items[-1]
        assert encode is encode_sampled
        assert decode_exchange(encode(*args)) == eager
        assert eager.model_version == (version or "v7")
        assert eager.request_headers == {"content-type": "application/json", "x-multi": "a, b"}
        assert eager.response_headers == {"content-length": "3", "x-up": "\xe9"}
        # nothing queued refers to the raw header lists, and no secret is queued
        assert not any(isinstance(a, list) for a in args)
        assert b"s3cret" not in repr(args).encode() and "sid=42" not in repr(args)
    assert _sampled().submit(sink, None, 502, 0.0, error="upstream down")
    err = decode_exchange(sink.items[-1][0](*sink.items[-1][1]))
    assert (err.status, err.error, err.response_body, err.response_headers) == (
        502,
        "upstream down",
        b"",
        {},
    )


def test_sinks_without_deferral_get_an_exchange() -> None:
    sink = ListSink(maxsize=1)
    s = _sampled()
    assert s.submit(sink, None, 200, 1.0, [(b"X-Up", b"1")], b"out")
    assert not s.submit(sink, None, 200, 1.0)  # full: dropped and counted
    (ex,) = sink.items
    assert sink.dropped == 1 and ex.response_body == b"out" and ex.request_id == "rid-1"
    assert "authorization" not in ex.request_headers


async def test_proxy_through_the_queue_stores_what_a_list_sink_gets(
    upstream: str, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    headers = {"Authorization": "Bearer s3cret", "Cookie": "sid=42", "X-Trace": "t"}
    body = {"id": "same", "inputs": []}
    url = "/v2/models/tab/infer?q=1"
    async with run_proxy(make_settings(upstream, rate=1.0)) as listed:
        async with client.post(listed.url + url, json=body, headers=headers) as resp:
            direct = (resp.status, await resp.read())
    writer = SpoolWriter(tmp_path, segment_max_bytes=1 << 20, segment_max_age_s=60)
    queue = CaptureQueue(writer, maxsize=100, flush_interval_s=0.01)
    await queue.start()
    async with run_proxy(make_settings(upstream, rate=1.0), sink=queue) as queued:
        async with client.post(queued.url + url, json=body, headers=headers) as resp:
            assert (resp.status, await resp.read()) == direct
    await queue.stop()
    reader = SpoolReader(tmp_path)
    (stored,) = [ex for seg in reader.ready_segments() for ex in reader.read(seg)]
    (expected,) = listed.sink.items
    for name in ("received_at", "latency_ms"):
        assert getattr(stored, name) > 0
        setattr(stored, name, getattr(expected, name))
    for ex in (stored, expected):  # the proxy's port and the answer's date differ
        ex.request_headers.pop("host")
        ex.response_headers.pop("date", None)
    assert stored == expected
    assert not {"authorization", "cookie"} & stored.request_headers.keys()
    assert "set-cookie" not in stored.response_headers
    assert queued.registry.get_sample_value("driftscope_captured_total", {"model": "tab"}) == 1
    assert (queue.submitted, queue.written, queue.dropped) == (1, 1, 0)
