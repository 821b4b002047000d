"""``create_app(settings)``: one ASGI app for the proxy and the management API.

A tiny raw-ASGI router sends the management paths (``/api/v1/*``,
``/metrics``, ``/healthz``, ``/readyz``, ``/openapi.json``, ``/docs`` and the
dashboard at ``/``) to a FastAPI app and every other path straight to the
collector's ``ProxyApp``, so proxied requests pay one string check, not
FastAPI's routing and middleware.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import Receive, Scope, Send

import driftscope
from driftscope.config.settings import Settings
from driftscope.errors import DriftscopeError
from driftscope.server.api.v1 import build_api_router, build_webhook_router
from driftscope.server.auth import TokenCheck
from driftscope.server.dashboard import dashboard_page
from driftscope.server.errors import driftscope_error_handler
from driftscope.server.metrics import render
from driftscope.server.state import ServerState

log = logging.getLogger(__name__)

#: Exact paths served by the management app; ``/api/v1`` and below too.
MANAGEMENT_PATHS = frozenset(
    {"/", "/metrics", "/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect"}
)
API_PREFIX = "/api/v1"


def is_management_path(path: str) -> bool:
    return path in MANAGEMENT_PATHS or path == API_PREFIX or path.startswith(API_PREFIX + "/")


class Router:
    """Dispatch by path: management paths to FastAPI, everything else to the proxy."""

    def __init__(self, state: ServerState, management: FastAPI) -> None:
        self.state = state
        self.management = management

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            if is_management_path(scope["path"]):
                await self.management(scope, receive, send)
                return
            proxy = self.state.proxy
            if proxy is None:  # the lifespan has not run (or failed)
                await _unavailable(send)
                return
            await proxy(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.state.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.state.shutdown()
                except Exception as exc:
                    log.exception("shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _unavailable(send: Send) -> None:
    body = b'{"error":"ServiceUnavailable","detail":"driftscope is not started"}'
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_management_app(state: ServerState) -> FastAPI:
    """The FastAPI app: REST API, health, metrics, OpenAPI and the dashboard root."""
    token = TokenCheck.from_settings(state.settings)
    app = FastAPI(
        title="driftscope",
        version=driftscope.__version__,
        description="Management API of the driftscope collector.",
        redoc_url=None,
    )
    app.state.ds = state
    app.add_exception_handler(DriftscopeError, driftscope_error_handler)
    app.include_router(build_api_router(token))
    app.include_router(build_webhook_router())  # shared-secret header instead of the token

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Database reachable and spool writable")
    def readyz() -> JSONResponse:
        problems = state.readiness()
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        dependencies=[Depends(token)],
        response_class=Response,
    )
    def metrics() -> Response:
        return Response(render(state.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def dashboard(request: Request) -> HTMLResponse:
        return HTMLResponse(dashboard_page(state, token.enabled))

    return app


def create_app(settings: Settings, *, prepare_db: bool = True) -> Any:
    """The ASGI app serving the proxy and the management API for ``settings``.

    ``prepare_db`` migrates an embedded SQLite database at startup; the
    multi-process runner does that once before starting its workers and
    passes False.
    """
    state = ServerState(settings, prepare_db=prepare_db)
    return Router(state, build_management_app(state))
