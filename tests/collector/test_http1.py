"""The lean HTTP/1.1 client against a scripted upstream on a raw socket."""

from __future__ import annotations

import asyncio

import pytest

from collector.harness import free_port
from collector.scripted import scripted
from driftscope.collector.http1 import Pool
from driftscope.errors import UpstreamTimeout, UpstreamUnavailable


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> list[bytes]:
    return [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra) + body]


async def test_request_bytes_and_keep_alive_reuse() -> None:
    async with scripted(lambda n, raw: ok(b"answer-%d" % n, b"X-N: %d\r\n" % n)) as (pool, srv):
        for n in (1, 2, 3):
            resp = await pool.request("POST", "/v2/x?q=1", [(b"x-a", b"1")], b"abc")
            assert resp.status == 200 and resp.content_length == len(b"answer-1")
            assert await resp.read() == b"answer-%d" % n
            assert (b"X-N", b"%d" % n) in resp.raw_headers
            resp.release()
    assert srv.connections == 1
    host = pool.host_header
    assert srv.requests[0] == (
        b"POST /v2/x?q=1 HTTP/1.1\r\nHost: " + host + b"\r\nx-a: 1\r\ncontent-length: 3\r\n\r\nabc"
    )


async def test_chunked_answer_is_dechunked_and_streamed() -> None:
    chunked = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"5\r\nhello\r\n",
        b"6\r\n world\r\n0\r\n\r\n",
    ]
    async with scripted(lambda n, raw: chunked) as (pool, _):
        resp = await pool.request("POST", "/", [], b"{}")
        assert resp.content_length is None
        assert (b"Transfer-Encoding", b"chunked") in resp.raw_headers
        assert b"".join([c async for c in resp.iter_chunks()]) == b"hello world"
        resp.release()


async def test_body_delimited_by_close() -> None:
    answer = [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"until the end", b" of it"]
    async with scripted(lambda n, raw: answer, close_after=True) as (pool, srv):
        for _ in range(2):
            resp = await pool.request("POST", "/", [], b"{}")
            assert b"".join([c async for c in resp.iter_chunks()]) == b"until the end of it"
            resp.release()
    assert srv.connections == 2  # never reused


async def test_informational_answer_is_skipped() -> None:
    script = [b"HTTP/1.1 100 Continue\r\n\r\n", ok(b"final")[0]]
    async with scripted(lambda n, raw: script) as (pool, _):
        resp = await pool.request("POST", "/", [], b"{}")
        assert resp.status == 200 and await resp.read() == b"final"
        assert resp.raw_headers == [(b"Content-Length", b"5")]
        resp.release()


async def test_pooled_connection_closed_by_server_is_retried() -> None:
    async with scripted(lambda n, raw: ok(b"%d" % n), close_after=True) as (pool, srv):
        first = await pool.request("POST", "/", [], b"{}")
        assert await first.read() == b"1"
        first.release()  # keep-alive from the client's view; the server closes it
        await asyncio.sleep(0.05)
        second = await pool.request("POST", "/", [], b"{}")
        assert await second.read() == b"2"
        second.release()
    assert srv.connections == 2


async def test_no_answer_times_out() -> None:
    async with scripted(lambda n, raw: None) as (pool, _):
        with pytest.raises(UpstreamTimeout, match="within 0.5 s"):
            await pool.request("POST", "/", [], b"{}")


async def test_refused_connection() -> None:
    pool = Pool(f"http://127.0.0.1:{free_port()}", connect_timeout_s=1, timeout_s=1, max_idle=1)
    with pytest.raises(UpstreamUnavailable, match="cannot connect"):
        await pool.request("POST", "/", [], b"{}")


async def test_truncated_body_fails_the_read() -> None:
    cut = [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"]
    async with scripted(lambda n, raw: cut, close_after=True) as (pool, _):
        resp = await pool.request("POST", "/", [], b"{}")
        with pytest.raises(UpstreamUnavailable, match="closed the connection"):
            await resp.read()
        resp.release()


async def test_garbage_answer() -> None:
    async with scripted(lambda n, raw: [b"SSH-2.0-OpenSSH\r\n\r\n"]) as (pool, _):
        with pytest.raises(UpstreamUnavailable, match="invalid HTTP"):
            await pool.request("POST", "/", [], b"{}")


async def test_large_body_streams_with_back_pressure() -> None:
    big = bytes(range(256)) * (12 * 1024)  # 3 MiB, above the high-water mark
    async with scripted(lambda n, raw: ok(big)) as (pool, _):
        resp = await pool.request("POST", "/", [], b"{}")
        got = []
        async for chunk in resp.iter_chunks():
            got.append(chunk)
            await asyncio.sleep(0)  # a slow client
        assert b"".join(got) == big
        resp.release()


def test_https_is_not_for_the_lean_client() -> None:
    with pytest.raises(ValueError, match="plain http"):
        Pool("https://example.org", connect_timeout_s=1, timeout_s=1, max_idle=1)
