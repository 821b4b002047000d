"""A tiny OIP v2 upstream of the tests' own, and a uvicorn runner on a free port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: What the upstream saw: (path, authorization header) per request.
Seen = list[tuple[str, str | None]]


def make_upstream(seen: Seen | None = None, delay_s: float = 0.0) -> Starlette:
    """``/v2/models/{name}/infer``: the sum of each row as ``out`` (FP64), id echoed."""

    async def infer(request: Request) -> Response:
        if seen is not None:
            seen.append((request.url.path, request.headers.get("authorization")))
        if delay_s:
            await asyncio.sleep(delay_s)
        doc = orjson.loads(await request.body())
        tensor = doc["inputs"][0]
        n, width = tensor["shape"]
        data = tensor["data"]
        sums = [float(sum(data[i * width : (i + 1) * width])) for i in range(n)]
        body: dict[str, Any] = {
            "model_name": request.path_params["name"],
            "outputs": [{"name": "out", "datatype": "FP64", "shape": [n], "data": sums}],
        }
        if "id" in doc:
            body["id"] = doc["id"]
        return Response(orjson.dumps(body), media_type="application/json")

    async def other(request: Request) -> Response:
        if seen is not None:
            seen.append((request.url.path, request.headers.get("authorization")))
        return Response(b"upstream says hi", status_code=404, media_type="text/plain")

    return Starlette(
        routes=[
            Route("/v2/models/{name}/infer", infer, methods=["POST"]),
            Route("/{path:path}", other, methods=["GET", "POST"]),
        ]
    )


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_in_thread(app: Any, lifespan: str = "off") -> Iterator[str]:
    """Run ``app`` on uvicorn in a background thread; yields its base URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
