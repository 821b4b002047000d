"""The upstream side: one pooled aiohttp session per worker, and header hygiene.

The session never decompresses (gzip bodies stay byte-identical), never keeps
cookies (a shared jar would leak one client's cookies to another), never adds
``User-Agent`` / ``Accept`` / ``Accept-Encoding`` / ``Content-Type`` of its own,
and never follows redirects. Only hop-by-hop headers are dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Protocol

import aiohttp
import orjson
from yarl import URL

from driftscope.collector.http1 import KEEPALIVE_S, Pool
from driftscope.config.settings import ProxySettings
from driftscope.errors import ProxyError, UpstreamTimeout, UpstreamUnavailable

#: Hop-by-hop headers (RFC 9110 7.6.1), never forwarded either way.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
#: Request headers the client connection owns: aiohttp sets Host and Content-Length itself,
#: and ``Expect: 100-continue`` was answered already (the body is read).
REQUEST_DROP = HOP_BY_HOP | {b"host", b"content-length", b"expect"}


def connection_tokens(value: bytes) -> frozenset[bytes]:
    """Extra hop-by-hop header names listed in a ``Connection`` header."""
    return frozenset(t.strip().lower() for t in value.split(b",") if t.strip())


def error_body(error: str, upstream: str | None, detail: str, **extra: object) -> bytes:
    return orjson.dumps({"error": error, "upstream": upstream, "detail": detail, **extra})


class UpstreamResponse(Protocol):
    """What the proxy needs of an answer (the lean client's or aiohttp's, adapted)."""

    @property
    def status(self) -> int: ...

    @property
    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]: ...

    @property
    def content_length(self) -> int | None: ...

    async def read(self) -> bytes: ...

    def iter_chunks(self) -> AsyncIterator[bytes]: ...

    def release(self) -> None: ...


class _AiohttpResponse:
    """aiohttp's answer behind the :class:`UpstreamResponse` interface (errors mapped)."""

    __slots__ = ("_resp", "_upstream", "status", "raw_headers")

    def __init__(self, resp: aiohttp.ClientResponse, upstream: Upstream) -> None:
        self._resp = resp
        self._upstream = upstream
        self.status = resp.status
        self.raw_headers = resp.raw_headers

    @property
    def content_length(self) -> int | None:
        return self._resp.content_length

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._upstream.map_error(exc) from exc

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._upstream.map_error(exc) from exc

    def release(self) -> None:
        self._resp.release()


class Upstream:
    """Pooled HTTP clients for every model's upstream (created on the running loop).

    Capture candidates to ``http://`` upstreams go through the lean client
    (:mod:`driftscope.collector.http1`); everything else through aiohttp.
    """

    def __init__(self, proxy: ProxySettings, upstreams: Iterable[str] = ()) -> None:
        self.settings = proxy
        self.upstreams = tuple(dict.fromkeys(upstreams))
        self._session: aiohttp.ClientSession | None = None
        self._pools: dict[str, Pool] = {}

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self.settings.max_connections,
            limit_per_host=0,
            keepalive_timeout=KEEPALIVE_S,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self.settings.timeout_s, sock_connect=self.settings.connect_timeout_s
            ),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            trust_env=False,
        )
        for base in self.upstreams:
            if base.startswith("http://"):
                self._pools[base] = Pool(
                    base,
                    connect_timeout_s=self.settings.connect_timeout_s,
                    timeout_s=self.settings.timeout_s,
                    max_idle=self.settings.max_connections,
                )

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        base: str,
        method: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        lean: bool = False,
    ) -> UpstreamResponse:
        """Send a request (``path`` as received, query included) to the upstream ``base``.

        The answer is returned once its headers arrived. Raises :class:`UpstreamUnavailable`
        or :class:`UpstreamTimeout`. A request on a pooled connection the server closed
        meanwhile is retried once on a fresh one.
        """
        if lean:
            pool = self._pools.get(base)
            if pool is not None:
                return await pool.request(method, path, headers, body)
        session = self._session
        if session is None:
            raise UpstreamUnavailable("the upstream client is not started")
        target = URL(base + path, encoded=True)
        fwd = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
        data = body or None
        try:
            resp = await session.request(
                method, target, headers=fwd, data=data, allow_redirects=False
            )
        except aiohttp.ServerDisconnectedError:
            # most likely a pooled connection the server just closed: once more
            try:
                resp = await session.request(
                    method, target, headers=fwd, data=data, allow_redirects=False
                )
            except Exception as exc:
                raise self.map_error(exc) from exc
        except Exception as exc:
            raise self.map_error(exc) from exc
        return _AiohttpResponse(resp, self)

    def map_error(self, exc: BaseException) -> ProxyError:
        """The proxy error a client sees for a failure of the upstream exchange."""
        if isinstance(exc, ProxyError):
            return exc
        if isinstance(exc, asyncio.TimeoutError | TimeoutError):
            what = "connection" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "answer"
            limit = (
                self.settings.connect_timeout_s if what == "connection" else self.settings.timeout_s
            )
            return UpstreamTimeout(f"no {what} within {limit:g} s")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return UpstreamUnavailable(f"cannot connect: {exc.os_error or exc}")
        return UpstreamUnavailable(f"{type(exc).__name__}: {exc}")
