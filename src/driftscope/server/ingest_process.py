"""The ingest process of ``driftscope serve``: spool -> database, until told to stop.

It also runs the monitoring scheduler (one place for N workers, so results are
computed once per interval): a thread calling
:func:`driftscope.service.monitoring.scheduled_pass` every
``monitoring.interval_s`` when ``monitoring.enabled``.

With a ``labeling`` section and models opting in, a third thread sends new
records to the labeling tool every ``labeling.interval_s``
(:class:`driftscope.service.labeling.LabelingSync`).

It ignores SIGINT and SIGTERM: the supervisor stops it only after every
worker has drained its queue into the spool, so the final drain sees all of
it. If the supervisor dies, it drains and exits on its own.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path

from driftscope.capture.spool import SpoolReader
from driftscope.config.settings import Settings
from driftscope.errors import DriftscopeError
from driftscope.ingest import Ingestor, IngestStats
from driftscope.server.metrics import IngestMetrics
from driftscope.storage import open_blob_store, open_store

log = logging.getLogger("driftscope.ingest")

#: Cap of the pause between final-drain attempts while the database is down.
_DRAIN_RETRY_S = 2.0


def _sync_metrics(metrics: IngestMetrics, seen: IngestStats, totals: IngestStats) -> None:
    """Add what ingest did since the last call to the prometheus counters."""
    for name in ("exchanges", "records", "duplicates", "capture_errors"):
        delta = getattr(totals, name) - getattr(seen, name)
        if delta > 0:
            getattr(metrics, name).inc(delta)
            setattr(seen, name, getattr(seen, name) + delta)


def final_drain(ingestor: Ingestor, timeout_s: float) -> IngestStats:
    """Drain the spool, retrying while storage fails, for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    total = IngestStats()
    while True:
        stats = ingestor.drain()
        total.add(stats)
        if not stats.retry:
            return total
        left = deadline - time.monotonic()
        if left <= 0:
            segments = len(ingestor.reader.ready_segments())
            log.error("database still unavailable: %d segment(s) stay in the spool", segments)
            return total
        time.sleep(min(_DRAIN_RETRY_S, left))


def main(settings: Settings, stop: MpEvent, parent_pid: int, drain_timeout_s: float = 60.0) -> None:
    """Process target."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")

    store = open_store(settings.storage.database_url)
    storage = settings.storage
    blobs = open_blob_store(
        storage.blob_url, endpoint_url=storage.s3_endpoint_url, region=storage.s3_region
    )
    reader = SpoolReader(Path(settings.capture.spool_dir))
    ingestor = Ingestor(settings, store, blobs, reader)
    metrics = IngestMetrics()
    seen = IngestStats()

    halt = threading.Event()
    thread = threading.Thread(
        target=ingestor.run_forever,
        args=(halt, settings.capture.ingest_interval_s),
        name="ingest",
        daemon=True,
    )
    thread.start()
    scheduler_thread = None
    if settings.monitoring.enabled and settings.models:
        from driftscope.service.monitoring import Scheduler

        scheduler_thread = threading.Thread(
            target=Scheduler(settings, store).run_forever,
            args=(halt,),
            name="monitoring-scheduler",
            daemon=True,
        )
        scheduler_thread.start()
    labeling_thread = None
    if settings.labeling is not None:
        from driftscope.service.labeling import LabelingSync, labeling_models

        if labeling_models(settings):
            try:
                sync = LabelingSync(settings, store)
            except DriftscopeError as exc:  # ingest goes on; labels can still be posted
                log.error("labeling sync not started: %s", exc)
            else:
                labeling_thread = threading.Thread(
                    target=sync.run_forever, args=(halt,), name="labeling-sync", daemon=True
                )
                labeling_thread.start()
    while not stop.wait(0.5):
        _sync_metrics(metrics, seen, ingestor.totals)
        if os.getppid() != parent_pid:
            log.warning("the supervisor is gone; draining and exiting")
            break
    halt.set()
    thread.join()
    if scheduler_thread is not None:
        scheduler_thread.join()  # a pass in progress finishes and records its run
    if labeling_thread is not None:
        labeling_thread.join()  # a send in progress marks what it sent
    final_drain(ingestor, drain_timeout_s)
    _sync_metrics(metrics, seen, ingestor.totals)
    log.info(
        "ingest drained: %d exchanges, %d records stored, %d duplicates, %d capture errors",
        ingestor.totals.exchanges,
        ingestor.totals.records,
        ingestor.totals.duplicates,
        ingestor.totals.capture_errors,
    )
    store.close()
    blobs.close()
