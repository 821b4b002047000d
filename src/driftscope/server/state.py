"""What one server process holds: the store, the capture queue and spool, the proxy."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from prometheus_client import CollectorRegistry

from driftscope.capture.queue import CaptureQueue
from driftscope.capture.spool import SpoolReader, SpoolWriter
from driftscope.collector import ProxyApp
from driftscope.collector.metrics import ProxyMetrics
from driftscope.config.settings import Settings
from driftscope.errors import StorageError
from driftscope.server.metrics import ScrapeCollector, scrape_registry
from driftscope.storage import open_store

if TYPE_CHECKING:
    from driftscope.storage.base import RecordStore

log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] == "sqlite"


def prepare_database(settings: Settings, store: RecordStore | None = None) -> None:
    """Migrate an embedded SQLite database to head and record the configured models.

    PostgreSQL is migrated by ``driftscope db upgrade`` (an operator's decision), so
    only the models are recorded there. A failed migration stops the start; a
    database that cannot record the models does not (traffic does not depend on
    it, and ingest keeps the records in the spool until it answers).
    """
    own = store is None
    store = store or open_store(settings.storage.database_url)
    try:
        if is_sqlite(settings.storage.database_url):
            store.upgrade()
        try:
            store.ensure_models(settings.models)
        except StorageError as exc:
            log.warning("could not record the configured models (continuing): %s", exc)
    finally:
        if own:
            store.close()


class ServerState:
    """Built by ``create_app``; opened by the ASGI lifespan, closed after the queue drained."""

    def __init__(self, settings: Settings, *, prepare_db: bool = True) -> None:
        self.settings = settings
        self.prepare_db = prepare_db
        self.store: RecordStore | None = None
        self.reader = SpoolReader(Path(settings.capture.spool_dir))
        self.writer: SpoolWriter | None = None
        self.queue: CaptureQueue | None = None
        self.proxy: ProxyApp | None = None
        self.local_registry = CollectorRegistry()
        self.proxy_metrics = ProxyMetrics(self.local_registry)
        collector = ScrapeCollector(lambda: self.reader, lambda: self.store)
        self.registry = scrape_registry(collector, self.local_registry)
        #: on-demand monitoring runs computing in threads; shutdown waits for them
        self.jobs: set[asyncio.Future[Any]] = set()

    def track(self, job: asyncio.Future[Any]) -> None:
        """Keep a background job until it ends; log a failure nobody awaited."""
        self.jobs.add(job)

        def done(fut: asyncio.Future[Any]) -> None:
            self.jobs.discard(fut)
            if not fut.cancelled() and fut.exception() is not None:
                log.warning("background monitoring run failed: %s", fut.exception())

        job.add_done_callback(done)

    async def startup(self) -> None:
        settings = self.settings
        self.store = open_store(settings.storage.database_url)
        if self.prepare_db:
            await anyio.to_thread.run_sync(prepare_database, settings, self.store)
        cap = settings.capture
        self.writer = SpoolWriter(
            Path(cap.spool_dir),
            segment_max_bytes=cap.segment_max_bytes,
            segment_max_age_s=cap.segment_max_age_s,
        )
        self.queue = CaptureQueue(
            self.writer, maxsize=cap.queue_size, flush_interval_s=cap.flush_interval_s
        )
        await self.queue.start()
        self.proxy = ProxyApp(settings, self.queue, self.proxy_metrics)
        await self.proxy.startup()
        log.info(
            "worker %d ready: %d model(s), spool %s",
            os.getpid(),
            len(settings.models),
            cap.spool_dir,
        )

    async def shutdown(self) -> None:
        """Close the upstream pool, then drain the queue into the spool (nothing is dropped)."""
        if self.proxy is not None:
            await self.proxy.shutdown()
        if self.jobs:  # a run in a thread cannot be cancelled: let it record its end
            await asyncio.gather(*self.jobs, return_exceptions=True)
        if self.queue is not None:
            await self.queue.stop()
            log.info(
                "worker %d drained: %d captured, %d written to the spool, %d dropped",
                os.getpid(),
                self.queue.submitted,
                self.queue.written,
                self.queue.dropped,
            )
        if self.store is not None:
            self.store.close()

    def require_store(self) -> RecordStore:
        if self.store is None:
            raise StorageError("the database is not open yet (server starting)")
        return self.store

    def readiness(self) -> dict[str, str]:
        """Problems that make this process not ready, by check name (empty when ready)."""
        problems: dict[str, str] = {}
        try:
            self.require_store().ping()
        except StorageError as exc:
            problems["database"] = str(exc)
        spool = Path(self.settings.capture.spool_dir)
        try:
            spool.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=spool, prefix=".readyz-"):
                pass
        except OSError as exc:
            problems["spool"] = f"spool folder {str(spool)!r} is not writable: {exc}"
        if self.proxy is None:
            problems["proxy"] = "the proxy has not started"
        return problems
