"""uvicorn factory for the benchmark: ProxyApp + CaptureQueue + SpoolWriter, nothing else.

    BENCH_UPSTREAM=http://127.0.0.1:P BENCH_RATE=0.1 BENCH_SPOOL=dir BENCH_STATS=dir \
    uvicorn --app-dir benchmarks/proxy --factory collector_app:create ...

At shutdown (SIGTERM) each worker drains its queue into the spool and writes its
counters to ``BENCH_STATS/<pid>.json`` (requests proxied, sampled, dropped, written).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from driftscope.capture.queue import CaptureQueue
from driftscope.capture.spool import SpoolWriter
from driftscope.collector import ProxyApp, ProxyMetrics
from driftscope.config.settings import Settings


class BenchApp:
    """Lifespan: build the capture pipeline in the worker; http: straight to the proxy."""

    def __init__(self, settings: Settings, stats_dir: Path) -> None:
        self.settings = settings
        self.stats_dir = stats_dir
        self.registry = CollectorRegistry()
        self.queue: CaptureQueue | None = None
        self.proxy: ProxyApp | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.proxy is not None:
            await self.proxy(scope, receive, send)
            return
        if scope["type"] != "lifespan":
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _startup(self) -> None:
        cap = self.settings.capture
        writer = SpoolWriter(
            cap.spool_dir,
            segment_max_bytes=cap.segment_max_bytes,
            segment_max_age_s=cap.segment_max_age_s,
        )
        self.queue = CaptureQueue(writer, cap.queue_size, cap.flush_interval_s)
        await self.queue.start()
        self.proxy = ProxyApp(self.settings, self.queue, ProxyMetrics(self.registry))
        await self.proxy.startup()

    async def _shutdown(self) -> None:
        assert self.proxy is not None and self.queue is not None
        await self.proxy.shutdown()
        await self.queue.stop()
        requests = sum(
            s.value
            for metric in self.registry.collect()
            if metric.name == "driftscope_requests"
            for s in metric.samples
            if s.name == "driftscope_requests_total"
        )
        stats = {
            "pid": os.getpid(),
            "requests": int(requests),
            "sampled": self.queue.submitted + self.queue.dropped,
            "submitted": self.queue.submitted,
            "dropped": self.queue.dropped,
            "written": self.queue.written,
        }
        self.stats_dir.mkdir(parents=True, exist_ok=True)
        (self.stats_dir / f"{os.getpid()}.json").write_bytes(orjson.dumps(stats))


def create() -> BenchApp:
    settings = Settings(
        models=[
            {
                "name": "bench",
                "upstream": os.environ["BENCH_UPSTREAM"],
                "sample_rate": float(os.environ["BENCH_RATE"]),
            }
        ],
        capture={"spool_dir": os.environ["BENCH_SPOOL"]},
    )
    return BenchApp(settings, Path(os.environ["BENCH_STATS"]))
