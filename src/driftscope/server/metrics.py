"""Prometheus exposition for ``/metrics``.

Proxy counters live in each worker (``ProxyMetrics``); ingest counters live
in the ingest process. With several processes (``driftscope serve`` always
runs one ingest process beside its workers) prometheus_client's multiprocess
mode aggregates them: ``PROMETHEUS_MULTIPROC_DIR`` is set by the runner
before any process imports prometheus_client. Figures that belong to no
process (spool depth, stored records, capture errors kept in the database)
are read at scrape time by :class:`ScrapeCollector`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from driftscope.errors import PluginError, StorageError

if TYPE_CHECKING:
    from driftscope.capture.spool import SpoolReader
    from driftscope.storage.base import RecordStore

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The folder of prometheus_client's multiprocess mode, when it is on."""
    path = os.environ.get(MULTIPROC_ENV)
    return path if path else None


class ScrapeCollector(Collector):
    """Gauges read when Prometheus scrapes: spool depth, stored records, capture errors."""

    def __init__(
        self,
        reader: Callable[[], SpoolReader | None],
        store: Callable[[], RecordStore | None],
    ) -> None:
        self._reader = reader
        self._store = store

    def collect(self) -> Iterator[Metric]:
        reader = self._reader()
        if reader is not None:
            segments, size = reader.depth()
            yield GaugeMetricFamily(
                "driftscope_spool_segments", "Spool segments waiting for ingest", value=segments
            )
            yield GaugeMetricFamily(
                "driftscope_spool_bytes", "Bytes in the spool waiting for ingest", value=size
            )
        store = self._store()
        if store is None:
            return
        up = GaugeMetricFamily("driftscope_database_up", "1 when the database answered the scrape")
        errors: dict[str, int] | None = None
        try:
            models = store.list_models()
            try:
                errors = store.count_capture_errors()
            except PluginError:  # a store that cannot count them
                errors = None
        except StorageError as exc:
            log.warning("metrics: database unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        records = GaugeMetricFamily(
            "driftscope_records_stored", "Records stored in the database", labels=["model"]
        )
        for m in models:
            records.add_metric([str(m["name"])], float(m.get("records", 0) or 0))
        yield records
        if errors is not None:
            family = GaugeMetricFamily(
                "driftscope_capture_errors_stored",
                "Captured exchanges ingest could not decode (kept for inspection)",
                labels=["model"],
            )
            for model, count in sorted(errors.items()):
                family.add_metric([model], float(count))
            yield family


def scrape_registry(collector: ScrapeCollector, local: CollectorRegistry) -> CollectorRegistry:
    """The registry ``/metrics`` renders: every process's metrics plus the scrape-time gauges.

    ``local`` holds this process's metrics; in multiprocess mode it is not rendered
    (its values reach the aggregate through the multiprocess files instead).
    """
    path = multiprocess_dir()
    if path is None:
        local.register(collector)
        return local
    registry = CollectorRegistry()
    registry.register(_CollectFirst(local))  # flushes this process's pending counts to its files
    MultiProcessCollector(registry, path=path)
    registry.register(collector)
    return registry


class _CollectFirst:
    """Collects ``local`` and renders nothing of it: its collectors' side effects run first."""

    def __init__(self, local: CollectorRegistry) -> None:
        self.local = local

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> list[Metric]:
        for _ in self.local.collect():
            pass
        return []


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


class IngestMetrics:
    """Counters of the ingest process (aggregated through multiprocess mode)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else CollectorRegistry()
        self.exchanges = Counter(
            "driftscope_ingested_exchanges", "Exchanges read from the spool", registry=reg
        )
        self.records = Counter(
            "driftscope_ingested_records", "Records stored by ingest", registry=reg
        )
        self.duplicates = Counter(
            "driftscope_ingest_duplicates", "Records already stored (replayed)", registry=reg
        )
        self.capture_errors = Counter(
            "driftscope_capture_errors",
            "Exchanges ingest could not decode",
            registry=reg,
        )
