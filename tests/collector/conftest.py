"""Fixtures: the tests' own upstream and the proxy in front of it (real sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from collector.harness import Proxy, Seen, make_settings, run_proxy, run_upstream


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
async def upstream(seen: Seen) -> AsyncIterator[str]:
    async with run_upstream(seen) as url:
        yield url


@pytest.fixture
async def proxy(upstream: str) -> AsyncIterator[Proxy]:
    async with run_proxy(make_settings(upstream, timeout_s=0.3)) as p:
        yield p


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session
