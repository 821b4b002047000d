"""Fixtures for the server tests: a real upstream, settings on tmp_path, the ASGI lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from driftscope.config.settings import Settings

from .upstream import Seen, make_upstream, serve_in_thread


@pytest.fixture
def seen() -> Seen:
    return []


@pytest.fixture
def upstream_url(seen: Seen) -> Iterator[str]:
    with serve_in_thread(make_upstream(seen)) as url:
        yield url


def settings_doc(tmp_path: Path, upstream: str, sample_rate: float = 1.0) -> dict[str, Any]:
    return {
        "server": {"host": "127.0.0.1", "port": 0},
        "capture": {
            "spool_dir": str(tmp_path / "spool"),
            "segment_max_age_s": 0.2,
            "ingest_interval_s": 0.1,
        },
        "storage": {
            "database_url": f"sqlite:///{tmp_path / 'ds.db'}",
            "blob_url": f"file://{tmp_path / 'blobs'}",
        },
        "models": [
            {
                "name": "m",
                "version": "v1",
                "upstream": upstream,
                "task": "regression",
                "sample_rate": sample_rate,
                "schema": {"features": [{"name": "a"}, {"name": "b"}]},
            }
        ],
    }


@pytest.fixture
def settings(tmp_path: Path, upstream_url: str) -> Settings:
    return Settings.model_validate(settings_doc(tmp_path, upstream_url))


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Drive an ASGI app's lifespan (httpx's ASGITransport does not)."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        await from_app.put(message)

    task = asyncio.create_task(app({"type": "lifespan"}, to_app.get, send))
    await to_app.put({"type": "lifespan.startup"})
    started = await from_app.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        done = await from_app.get()
        await task
        assert done["type"] == "lifespan.shutdown.complete", done
