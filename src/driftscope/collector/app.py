"""``ProxyApp``: the transparent, capturing reverse proxy (a raw ASGI app).

Per request: route by path (precomputed), read the body (413 above the
limit), settle the request id and the sampling decision, forward the bytes
unchanged, stream the answer back unchanged (hop-by-hop headers aside; an
``X-Request-ID`` is added only when the client sent no id), and only then,
for a sampled request, hand an :class:`Exchange` to the sink with
``submit`` (never blocking). Nothing is parsed or stored before the response
is sent; the request id is the one piece read from the body, and only when the
body is a small document containing ``"id"``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from driftscope.capture.sink import CaptureSink
from driftscope.collector.capture import RequestIds, Sampled, body_id
from driftscope.collector.forward import (
    HOP_BY_HOP,
    REQUEST_DROP,
    Upstream,
    connection_tokens,
    error_body,
)
from driftscope.collector.metrics import ProxyMetrics
from driftscope.collector.routing import UNROUTED, Miss, Router, Target
from driftscope.collector.sampling import forced, sampled
from driftscope.config.settings import Settings
from driftscope.errors import PayloadTooLarge, ProxyError, UpstreamTimeout

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger(__name__)

#: How often the proxy's local metric counts reach prometheus (multiprocess value files).
METRICS_FLUSH_S = 0.05
#: Responses with a Content-Length up to this size are read whole and sent in one message.
WHOLE_BODY_MAX = 1 << 20
_JSON_HEADERS = [(b"content-type", b"application/json")]
_STATUS_OF: dict[type[ProxyError], tuple[int, str]] = {
    UpstreamTimeout: (504, "upstream timeout"),
    PayloadTooLarge: (413, "payload too large"),
}


class ProxyApp:
    """The capturing reverse proxy; one instance (and one upstream pool) per worker."""

    def __init__(
        self, settings: Settings, sink: CaptureSink, metrics: ProxyMetrics | None = None
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.metrics = metrics
        self.router = Router(settings)
        self.upstream = Upstream(settings.proxy, (m.upstream for m in settings.models))
        self.max_body = settings.proxy.max_body_bytes
        self._capture_header = settings.proxy.capture_header.lower().encode("latin-1")
        self._new_id = RequestIds()
        self._metrics_timer: asyncio.TimerHandle | None = None

    async def startup(self) -> None:
        """Open the upstream connection pool and start the metrics flush (on the serving loop)."""
        await self.upstream.start()
        self._new_id = RequestIds()  # seeded in the serving process
        if self.metrics is not None and self._metrics_timer is None:
            self._flush_metrics()

    async def shutdown(self) -> None:
        """Close the upstream connection pool; flush the metrics one last time."""
        if self._metrics_timer is not None:
            self._metrics_timer.cancel()
            self._metrics_timer = None
        if self.metrics is not None:
            self.metrics.flush()
        await self.upstream.close()

    def _flush_metrics(self) -> None:
        assert self.metrics is not None
        try:
            self.metrics.flush()
        except Exception:  # never lose the timer over a metrics hiccup
            log.exception("proxy metrics flush failed")
        loop = asyncio.get_running_loop()
        self._metrics_timer = loop.call_later(METRICS_FLUSH_S, self._flush_metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        received_at = time.time()
        method: str = scope["method"]
        path: str = scope["path"]
        target, path_version = self.router.resolve(method, path)
        if isinstance(target, Miss):
            await _respond(
                send,
                404,
                error_body(
                    "unknown model",
                    None,
                    target.detail(path),
                    model=target.model,
                    models=list(target.models),
                ),
            )
            if self.metrics is not None:
                self.metrics.request(UNROUTED, 404, None)
            return

        # one pass over the request headers: forward list plus the few we look at
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        fwd: list[tuple[bytes, bytes]] = []
        length: bytes | None = None
        client_id: bytes | None = None
        force: bytes | None = None
        drop = REQUEST_DROP
        for name, value in headers:
            if name in drop:
                if name == b"content-length":
                    length = value
                elif name == b"connection":
                    drop = REQUEST_DROP | connection_tokens(value)
                continue
            if name == b"x-request-id":
                client_id = value
            elif name == self._capture_header:
                force = value
            fwd.append((name, value))
        if drop is not REQUEST_DROP:  # Connection named more hop-by-hop headers
            fwd = [(k, v) for k, v in fwd if k not in drop]

        body, too_big = await self._read_body(receive, length)
        if body is None:  # the client went away
            return

        # request id and sampling (capture candidates only; pass-through adds nothing)
        query: bytes = scope.get("query_string", b"")
        extra: list[tuple[bytes, bytes]] | None = None
        capture: Sampled | None = None
        if target.capture:
            rid = body_id(body) if body else None
            if rid is None and client_id:
                rid = client_id.decode("latin-1")
            if rid is None:
                rid = self._new_id()
                extra = [(b"x-request-id", rid.encode())]
            is_forced = forced(force)
            if is_forced or sampled(rid, target.rate):
                capture = Sampled(
                    target,
                    path_version,
                    method,
                    path + "?" + query.decode("latin-1") if query else path,
                    received_at,
                    rid,
                    is_forced,
                    headers,
                    body,
                )

        if too_big is not None:
            err = PayloadTooLarge(
                f"request body of {too_big} bytes is above the limit of {self.max_body} "
                "bytes (proxy.max_body_bytes)"
            )
            await self._fail(send, err, target, extra, close=True)
            if capture is not None:
                capture.submit(self.sink, self.metrics, 413, 0.0, error=str(err))
            return

        raw_path: bytes | None = scope.get("raw_path")
        upstream_path = raw_path.decode("latin-1") if raw_path else quote(path)
        if query:
            upstream_path += "?" + query.decode("latin-1")

        started = time.perf_counter()
        try:
            resp = await self.upstream.send(
                target.upstream,
                method,
                upstream_path,
                fwd,
                body,
                lean=target.capture and method != "HEAD",
            )
        except ProxyError as exc:
            latency = time.perf_counter() - started
            status = await self._fail(send, exc, target, extra)
            if capture is not None:
                capture.submit(self.sink, self.metrics, status, latency * 1000.0, error=str(exc))
            return

        error: str | None = None
        chunks: list[bytes] = []
        try:
            out = [(k, v) for k, v in resp.raw_headers if k.lower() not in HOP_BY_HOP]
            if extra is not None and not any(k.lower() == b"x-request-id" for k, _ in out):
                out += extra
            await send({"type": "http.response.start", "status": resp.status, "headers": out})
            size = resp.content_length
            if size is not None and size <= WHOLE_BODY_MAX:
                data = await resp.read()
                await send({"type": "http.response.body", "body": data})
                if capture is not None:
                    chunks.append(data)
            else:
                async for chunk in resp.iter_chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    if capture is not None:
                        chunks.append(chunk)
                await send({"type": "http.response.body", "body": b""})
        except ProxyError as exc:
            # the status line is out: all we can do is cut the response short
            error = f"upstream failed mid-response: {exc}"
            log.warning("%s (model %s, %s %s)", error, target.model, method, path)
        finally:
            resp.release()
        latency = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.request(target.model, resp.status, latency)
        if capture is not None:
            body_out = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            capture.submit(
                self.sink,
                self.metrics,
                resp.status,
                latency * 1000.0,
                resp.raw_headers,
                body_out,
                error,
            )

    async def _read_body(
        self, receive: Receive, length: bytes | None
    ) -> tuple[bytes | None, int | None]:
        """The request body, or (b"", size) when it is above the limit (None: disconnected)."""
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = 0
            if declared > self.max_body:
                return b"", declared
        message = await receive()
        if message["type"] != "http.request":
            return None, None
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            return body, (len(body) if len(body) > self.max_body else None)
        parts = [body]
        total = len(body)
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, None
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body:
                return b"", total
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts), None

    async def _fail(
        self,
        send: Send,
        exc: ProxyError,
        target: Target,
        extra: list[tuple[bytes, bytes]] | None,
        *,
        close: bool = False,
    ) -> int:
        status, title = _STATUS_OF.get(type(exc), (502, "upstream unavailable"))
        headers = list(_JSON_HEADERS)
        if extra is not None:
            headers += extra
        if close:  # the unread body makes the connection unusable
            headers.append((b"connection", b"close"))
        await _respond(send, status, error_body(title, target.upstream, str(exc)), headers)
        if self.metrics is not None:
            self.metrics.request(target.model, status, None)
        return status


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    hdrs = list(headers if headers is not None else _JSON_HEADERS)
    hdrs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})
