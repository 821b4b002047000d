"""A test upstream (aiohttp.web on a free port) and the ProxyApp under uvicorn, in the test loop."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from aiohttp import web
from prometheus_client import CollectorRegistry

from driftscope.capture.sink import CaptureSink, ListSink
from driftscope.collector import ProxyApp, ProxyMetrics
from driftscope.config.settings import Settings

#: Fixed so that direct and proxied answers are byte-identical whenever they are made.
DATE = "Tue, 01 Jul 2025 12:00:00 GMT"
BINARY = bytes(range(256)) * 8
GZIPPED = gzip.compress(b'{"outputs": [{"name": "out", "data": [1, 2, 3]}]}' * 20, mtime=0)
LEAN_MODELS = ("chunky", "gz", "bin", "e500")
CHUNKS = [b"first chunk;", b"second chunk;", bytes(range(200))]


@dataclass
class Seen:
    """What the upstream received, in order."""

    requests: list[tuple[str, str, list[tuple[str, str]], bytes]] = field(default_factory=list)

    def last_headers(self) -> list[tuple[str, str]]:
        return self.requests[-1][2]


def upstream_app(seen: Seen) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        seen.requests.append((request.method, request.path_qs, list(request.headers.items()), body))
        resp: web.StreamResponse = await handler(request)
        if not resp.prepared:
            resp.headers["Date"] = DATE
        return resp

    async def infer(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return web.Response(status=400, text="bad json: " + raw[:40].decode(errors="replace"))
        out: dict[str, Any] = {
            "model_name": request.match_info["name"],
            "outputs": [{"name": "out", "datatype": "FP64", "shape": [1], "data": [0.5]}],
        }
        if isinstance(doc, dict) and "id" in doc:
            out["id"] = doc["id"]
        return web.Response(
            body=orjson.dumps(out),
            content_type="application/json",
            headers={"Set-Cookie": "session=upstream-secret", "X-Upstream": "yes"},
        )

    async def predict_v1(request: web.Request) -> web.Response:
        doc = orjson.loads(await request.read())
        return web.json_response({"predictions": [1] * len(doc.get("instances", []))})

    async def ready(request: web.Request) -> web.Response:
        return web.Response(status=200, text="")

    async def binary(request: web.Request) -> web.Response:
        return web.Response(body=BINARY, content_type="application/octet-stream")

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(
            body=GZIPPED, content_type="application/json", headers={"Content-Encoding": "gzip"}
        )

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain", "Date": DATE})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for chunk in CHUNKS:
            await resp.write(chunk)
            await asyncio.sleep(0.005)
        await resp.write_eof()
        return resp

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.Response(
            status=code, body=f'{{"code": {code}}}'.encode(), content_type="application/json"
        )

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"headers": list(request.headers.items())})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.Response(text="late")

    async def plain(request: web.Request) -> web.Response:
        doc = orjson.loads(await request.read())
        return web.json_response({"result": {"score": 0.25, "echo": doc}})

    async def infer_error(request: web.Request) -> web.Response:
        return web.Response(
            status=500, body=b'{"error": "model crashed"}', content_type="application/json"
        )

    app = web.Application(middlewares=[record])
    # capture candidates answering like the pass-through cases (the lean client's path)
    app.router.add_post("/v2/models/chunky/infer", chunked)
    app.router.add_post("/v2/models/gz/infer", gzipped)
    app.router.add_post("/v2/models/bin/infer", binary)
    app.router.add_post("/v2/models/e500/infer", infer_error)
    app.router.add_post("/v2/models/{name}/infer", infer)
    app.router.add_post("/v2/models/{name}/versions/{v}/infer", infer)
    app.router.add_get("/v2/models/{name}/ready", ready)
    app.router.add_get("/v2/health/live", ready)
    app.router.add_post("/v1/models/{name}:predict", predict_v1)
    app.router.add_get("/bin", binary)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/chunked", chunked)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_route("*", "/echo", echo)
    app.router.add_post("/v2/models/slow/infer", slow)
    app.router.add_get("/slow", slow)
    app.router.add_post("/api/plain/predict", plain)
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def run_upstream(seen: Seen) -> AsyncIterator[str]:
    runner = web.AppRunner(upstream_app(seen), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def make_settings(upstream: str, rate: float = 1.0, **proxy: Any) -> Settings:
    return Settings(
        proxy=proxy,
        models=[
            {"name": "tab", "upstream": upstream, "sample_rate": rate, "version": "v1"},
            {"name": "slow", "upstream": upstream, "sample_rate": rate},
            *({"name": n, "upstream": upstream, "sample_rate": rate} for n in LEAN_MODELS),
            {"name": "kv1", "upstream": upstream, "protocol": "kserve_v1", "sample_rate": rate},
            {
                "name": "plain",
                "upstream": upstream,
                "protocol": "json",
                "path_prefix": "/api/plain",
                "sample_rate": rate,
            },
        ],
    )


@dataclass
class Proxy:
    url: str
    app: ProxyApp
    sink: Any
    registry: CollectorRegistry

    async def captured(self, n: int, timeout_s: float = 10.0) -> list[Any]:
        """The sink's items once it holds ``n`` of them.

        Capture is handed over after the response is sent, so a client on the
        same loop can read its answer before the proxy's handler has resumed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.sink.items) < n and loop.time() < deadline:
            await asyncio.sleep(0.001)
        return list(self.sink.items)


@asynccontextmanager
async def run_proxy(settings: Settings, sink: CaptureSink | None = None) -> AsyncIterator[Proxy]:
    """ProxyApp under a real uvicorn (httptools) on a free port, in the running loop."""
    sink = sink if sink is not None else ListSink()
    registry = CollectorRegistry()
    app = ProxyApp(settings, sink, ProxyMetrics(registry))
    await app.startup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    try:
        yield Proxy(f"http://127.0.0.1:{sock.getsockname()[1]}", app, sink, registry)
    finally:
        server.should_exit = True
        await task
        await app.shutdown()
        sock.close()
