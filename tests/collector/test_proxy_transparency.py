"""The client gets what the upstream sent; the upstream gets what the client sent."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from collector.harness import BINARY, CHUNKS, GZIPPED, Proxy, Seen

HOP = {"connection", "keep-alive", "transfer-encoding"}


async def _fetch(
    client: aiohttp.ClientSession, method: str, url: str, **kw: object
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    async with client.request(method, url, **kw) as resp:  # type: ignore[arg-type]
        body = await resp.read()
        # uvicorn writes header names in lower case (names are case-insensitive, RFC 9110)
        headers = [(k.lower(), v) for k, v in resp.raw_headers if k.decode().lower() not in HOP]
        return resp.status, headers, body


CASES = [  # method, path, request, whether the proxy adds an X-Request-ID
    ("POST", "/v2/models/tab/infer", {"json": {"id": "r-1", "inputs": []}}, False),
    ("POST", "/v2/models/tab/versions/7/infer", {"data": b'{"inputs": []}'}, True),
    ("GET", "/v2/models/tab/ready", {}, False),
    ("GET", "/v2/health/live", {}, False),
    ("POST", "/v1/models/kv1:predict", {"json": {"instances": [[1, 2], [3, 4]]}}, True),
    ("POST", "/api/plain/predict", {"json": {"x": 1}}, True),
    ("GET", "/bin", {}, False),
    ("GET", "/gzip", {"headers": {"Accept-Encoding": "gzip"}}, False),
    ("GET", "/chunked", {}, False),
    ("GET", "/status/404", {}, False),
    ("POST", "/status/418", {"data": b"teapot?"}, False),
    ("GET", "/status/500", {}, False),
    ("PUT", "/status/503", {"data": b"x" * 10}, False),
    ("GET", "/status/204", {}, False),
    ("POST", "/v2/models/tab/infer", {"data": b'{"in', "headers": {"X-Request-ID": "m"}}, False),
    ("GET", "/echo?a=1&b=%20x", {}, False),
    # capture candidates (the lean client) answering with the same kinds of bodies
    ("POST", "/v2/models/chunky/infer", {"data": b"{}"}, True),
    ("POST", "/v2/models/gz/infer", {"data": b"{}", "headers": {"Accept-Encoding": "gzip"}}, True),
    ("POST", "/v2/models/bin/infer", {"data": b"{}"}, True),
    ("POST", "/v2/models/e500/infer", {"data": b'{"id": "e"}'}, False),
]


@pytest.mark.parametrize(
    ("method", "path", "kw", "adds_id"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES]
)
async def test_byte_identical_to_direct(
    proxy: Proxy,
    upstream: str,
    client: aiohttp.ClientSession,
    method: str,
    path: str,
    kw: dict[str, object],
    adds_id: bool,
) -> None:
    direct = await _fetch(client, method, upstream + path, **kw)
    status, headers, body = await _fetch(client, method, proxy.url + path, **kw)
    added = [v for k, v in headers if k == b"x-request-id"]
    assert len(added) == int(adds_id)
    rest = [(k, v) for k, v in headers if k != b"x-request-id"]
    assert (status, rest, body) == direct


async def test_lean_path_captures_raw_bodies(proxy: Proxy, client: aiohttp.ClientSession) -> None:
    for name in ("chunky", "gz", "bin"):
        async with client.post(f"{proxy.url}/v2/models/{name}/infer", json={"id": name}) as resp:
            assert resp.status == 200
            await resp.read()
    got = {ex.request_id: ex for ex in await proxy.captured(3)}
    assert got["chunky"].response_body == b"".join(CHUNKS)
    assert got["chunky"].response_headers["transfer-encoding"] == "chunked"
    assert got["gz"].response_body == GZIPPED
    assert got["gz"].response_headers["content-encoding"] == "gzip"
    assert got["bin"].response_body == BINARY


async def test_special_bodies_really_crossed(proxy: Proxy, client: aiohttp.ClientSession) -> None:
    assert (await _fetch(client, "GET", proxy.url + "/bin"))[2] == BINARY
    status, headers, body = await _fetch(client, "GET", proxy.url + "/gzip")
    assert body == GZIPPED and (b"content-encoding", b"gzip") in headers
    async with client.get(proxy.url + "/chunked") as resp:
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        assert await resp.read() == b"".join(CHUNKS)


async def test_upstream_sees_the_request_unchanged(
    proxy: Proxy, upstream: str, seen: Seen, client: aiohttp.ClientSession
) -> None:
    kw = {
        "data": b'{"inputs": []}',
        "headers": {
            "Authorization": "Bearer abc",
            "Cookie": "a=1",
            "X-Custom": "v",
            "Content-Type": "application/json",
            "Accept-Encoding": "gzip",
        },
    }
    await _fetch(client, "POST", upstream + "/echo", **kw)
    direct = seen.requests[-1]
    await _fetch(client, "POST", proxy.url + "/echo", **kw)
    proxied = seen.requests[-1]
    assert proxied[0] == direct[0] and proxied[1] == direct[1] and proxied[3] == direct[3]
    # same headers, Host included (ASGI hands header names over in lower case)
    assert sorted((k.lower(), v) for k, v in proxied[2]) == sorted(
        (k.lower(), v) for k, v in direct[2]
    )


async def test_connection_header_tokens_are_hop_by_hop(
    proxy: Proxy, seen: Seen, client: aiohttp.ClientSession
) -> None:
    await _fetch(
        client,
        "GET",
        proxy.url + "/echo",
        headers={"Connection": "keep-alive, X-Hop", "X-Hop": "1", "X-End": "2"},
    )
    names = {k.lower() for k, _ in seen.last_headers()}
    assert "x-end" in names and "x-hop" not in names


async def test_request_id_added_only_when_missing(
    proxy: Proxy, client: aiohttp.ClientSession
) -> None:
    infer = proxy.url + "/v2/models/tab/infer"
    async with client.post(infer, json={"id": "body-id", "inputs": []}) as resp:
        assert "X-Request-ID" not in resp.headers
    async with client.post(infer, json={"inputs": []}, headers={"X-Request-ID": "hdr"}) as resp:
        assert "X-Request-ID" not in resp.headers  # the client has its id: none added
    async with client.post(infer, json={"inputs": []}) as resp:
        generated = resp.headers["X-Request-ID"]
        assert len(generated) == 32 and int(generated, 16) >= 0
    async with client.get(proxy.url + "/v2/models/tab/ready") as resp:
        assert "X-Request-ID" not in resp.headers  # pass-through adds nothing
    ids = [ex.request_id for ex in await proxy.captured(3)]
    assert ids == ["body-id", "hdr", generated]


async def test_sensitive_headers_forwarded_not_stored(
    proxy: Proxy, seen: Seen, client: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": "Bearer s3cret", "Cookie": "sid=42", "X-Trace": "t"}
    async with client.post(
        proxy.url + "/v2/models/tab/infer", json={"id": "s", "inputs": []}, headers=headers
    ) as resp:
        assert resp.headers["Set-Cookie"] == "session=upstream-secret"
    sent = dict(seen.last_headers())
    assert sent["Authorization"] == "Bearer s3cret" and sent["Cookie"] == "sid=42"
    (ex,) = await proxy.captured(1)
    assert ex.request_headers["x-trace"] == "t"
    assert not {"authorization", "cookie"} & ex.request_headers.keys()
    assert "set-cookie" not in ex.response_headers
    assert ex.response_headers["x-upstream"] == "yes"
    assert all(k == k.lower() for k in (*ex.request_headers, *ex.response_headers))
    blob = orjson.dumps([ex.request_headers, ex.response_headers])
    assert b"s3cret" not in blob and b"sid=42" not in blob and b"upstream-secret" not in blob
