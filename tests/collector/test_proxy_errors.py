"""Documented errors: 502, 504, 413, 404, with a JSON body naming the upstream and the cause."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from collector.harness import Proxy, Seen, free_port, make_settings, run_proxy
from collector.scripted import scripted
from driftscope.config.settings import Settings


async def test_dead_upstream_is_502_and_captured(client: aiohttp.ClientSession) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with run_proxy(make_settings(dead)) as proxy:
        async with client.post(
            proxy.url + "/v2/models/tab/infer", json={"id": "d-1", "inputs": []}
        ) as resp:
            assert resp.status == 502
            assert resp.headers["Content-Type"] == "application/json"
            doc = orjson.loads(await resp.read())
        # pass-through paths fail the same way (not captured)
        async with client.get(proxy.url + "/v2/models/tab/ready") as resp:
            assert resp.status == 502
    assert doc["error"] == "upstream unavailable"
    assert doc["upstream"] == dead
    assert "connect" in doc["detail"].lower()
    (ex,) = await proxy.captured(1)
    assert (ex.request_id, ex.status, ex.response_body) == ("d-1", 502, b"")
    assert ex.error is not None and "connect" in ex.error.lower()
    assert (
        proxy.registry.get_sample_value(
            "driftscope_requests_total", {"model": "tab", "status": "502"}
        )
        == 2
    )


async def test_slow_upstream_is_504_and_captured(
    proxy: Proxy, upstream: str, client: aiohttp.ClientSession
) -> None:
    async with client.post(proxy.url + "/v2/models/slow/infer", data=b'{"id": "late"}') as resp:
        assert resp.status == 504
        doc = orjson.loads(await resp.read())
    assert doc["error"] == "upstream timeout"
    assert doc["upstream"] == upstream
    assert "0.3 s" in doc["detail"]
    (ex,) = await proxy.captured(1)
    assert (ex.model, ex.request_id, ex.status) == ("slow", "late", 504)
    assert ex.request_body == b'{"id": "late"}' and ex.error and "0.3 s" in ex.error


async def test_oversize_content_length_is_413(
    upstream: str, seen: Seen, client: aiohttp.ClientSession
) -> None:
    async with run_proxy(make_settings(upstream, max_body_bytes=1000)) as proxy:
        async with client.post(proxy.url + "/v2/models/tab/infer", data=b"x" * 5000) as resp:
            assert resp.status == 413
            doc = orjson.loads(await resp.read())
            rid = resp.headers["X-Request-ID"]
        # exactly at the limit is fine
        async with client.post(proxy.url + "/echo", data=b"y" * 1000) as resp:
            assert resp.status == 200
    assert doc["error"] == "payload too large" and doc["upstream"] == upstream
    assert "5000" in doc["detail"] and "1000" in doc["detail"]
    assert [r[1] for r in seen.requests] == ["/echo"]  # the big one never went upstream
    (ex,) = await proxy.captured(1)
    assert (ex.request_id, ex.status, ex.request_body) == (rid, 413, b"")
    assert ex.error and "max_body_bytes" in ex.error


async def _chunks(n: int, size: int) -> AsyncIterator[bytes]:
    for i in range(n):
        yield bytes([65 + i]) * size


async def test_oversize_chunked_upload_is_413(
    upstream: str, seen: Seen, client: aiohttp.ClientSession
) -> None:
    async with run_proxy(make_settings(upstream, max_body_bytes=1000)) as proxy:
        async with client.post(proxy.url + "/echo", data=_chunks(8, 300)) as resp:
            assert resp.status == 413
            doc = orjson.loads(await resp.read())
    assert "above the limit of 1000" in doc["detail"]
    assert seen.requests == []


async def test_chunked_upload_under_limit_arrives_whole(
    proxy: Proxy, seen: Seen, client: aiohttp.ClientSession
) -> None:
    async with client.post(proxy.url + "/echo", data=_chunks(5, 100)) as resp:
        assert resp.status == 200
    assert seen.requests[-1][3] == b"".join([bytes([65 + i]) * 100 for i in range(5)])


async def test_malformed_json_proxied_and_captured_raw(
    proxy: Proxy, upstream: str, client: aiohttp.ClientSession
) -> None:
    bad = b'{"id": "x", "inputs": [1, 2'
    async with client.post(upstream + "/v2/models/tab/infer", data=bad) as resp:
        direct = (resp.status, await resp.read())
    async with client.post(proxy.url + "/v2/models/tab/infer", data=bad) as resp:
        proxied = (resp.status, await resp.read())
        rid = resp.headers["X-Request-ID"]  # no id could be read from the body
    assert proxied == direct and direct[0] == 400
    (ex,) = await proxy.captured(1)
    assert ex.request_body == bad and ex.response_body == direct[1]
    assert (ex.request_id, ex.status, ex.error) == (rid, 400, None)


async def test_unknown_model_with_several_upstreams_is_404(
    upstream: str, client: aiohttp.ClientSession
) -> None:
    other = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        models=[{"name": "a", "upstream": upstream}, {"name": "b", "upstream": other}]
    )
    async with run_proxy(settings) as proxy:
        async with client.post(proxy.url + "/v2/models/nope/infer", data=b"{}") as resp:
            assert resp.status == 404
            doc = orjson.loads(await resp.read())
        async with client.get(proxy.url + "/v2/health/live") as resp:
            assert resp.status == 404
            live = orjson.loads(await resp.read())
        async with client.get(proxy.url + "/v2/models/a/ready") as resp:
            assert resp.status == 200  # a known model's pass-through path
    assert doc["model"] == "nope" and doc["models"] == ["a", "b"]
    assert "'nope' is not configured" in doc["detail"] and doc["upstream"] is None
    assert live["model"] is None and "names no model" in live["detail"]
    assert proxy.sink.items == []


async def test_unknown_model_with_one_upstream_passes_through(
    proxy: Proxy, seen: Seen, client: aiohttp.ClientSession
) -> None:
    async with client.post(proxy.url + "/v2/models/nope/infer", data=b"{}") as resp:
        assert resp.status == 200  # the upstream's own answer, untouched
        assert orjson.loads(await resp.read())["model_name"] == "nope"
        assert "X-Request-ID" not in resp.headers
    assert seen.requests[-1][1] == "/v2/models/nope/infer"
    assert proxy.sink.items == []


async def test_slow_pass_through_is_504(
    proxy: Proxy, upstream: str, client: aiohttp.ClientSession
) -> None:
    async with client.get(proxy.url + "/slow") as resp:
        assert resp.status == 504
        doc = orjson.loads(await resp.read())
    assert doc == {
        "error": "upstream timeout",
        "upstream": upstream,
        "detail": "no answer within 0.3 s",
    }
    assert proxy.sink.items == []  # not a capture candidate


async def test_upstream_dying_mid_body_cuts_the_answer_and_is_captured(
    client: aiohttp.ClientSession,
) -> None:
    cut = [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"]
    async with scripted(lambda n, raw: cut, close_after=True) as (pool, _):
        base = f"http://127.0.0.1:{pool.port}"
        async with run_proxy(make_settings(base)) as proxy:
            with pytest.raises(aiohttp.ClientPayloadError):
                async with client.post(
                    proxy.url + "/v2/models/tab/infer", data=b'{"id": "cut"}'
                ) as resp:
                    assert resp.status == 200  # the status line was already out
                    await resp.read()
    (ex,) = await proxy.captured(1)
    assert ex.request_id == "cut" and ex.status == 200
    assert ex.error is not None and "mid-response" in ex.error
