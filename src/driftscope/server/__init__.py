"""The driftscope server: one ASGI app for the proxy and the management API.

``create_app`` is imported lazily so the CLI can use the light modules
(auth, runner) without loading FastAPI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from driftscope.server.app import create_app

        return create_app
    raise AttributeError(f"module 'driftscope.server' has no attribute {name!r}")
