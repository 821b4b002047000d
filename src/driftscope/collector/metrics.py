"""Prometheus metrics of the proxy (one set per worker process)."""

from __future__ import annotations

import threading
from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import Metric

#: Upstream latency buckets: fine below 10 ms where a healthy model server answers.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class ProxyMetrics:
    """Request, capture and drop counters and the upstream latency histogram, per model.

    The hot path only bumps plain ints in dicts (one histogram bucket found by
    bisection); :meth:`flush` hands the increments since the last flush to the
    prometheus children (in multiprocess mode: the mmap'ed value files). A
    flush runs before every collection of ``registry`` (so a scrape or
    ``get_sample_value`` sees every request counted so far) and periodically
    from the proxy (:class:`~driftscope.collector.app.ProxyApp`, for
    multiprocess mode, where another process reads the files). Counts are
    cumulative and only the event loop writes them; a flush from another
    thread reads them, so nothing is lost or counted twice.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()  # one flush at a time
        registry.register(_Flusher(self))  # first: collected before the metrics below
        self.requests = Counter(
            "driftscope_requests",
            "Requests proxied, by model and status sent to the client",
            ["model", "status"],
            registry=registry,
        )
        self.captured = Counter(
            "driftscope_captured",
            "Exchanges handed to the capture queue",
            ["model"],
            registry=registry,
        )
        self.dropped = Counter(
            "driftscope_dropped",
            "Sampled exchanges dropped because the capture queue was full",
            ["model"],
            registry=registry,
        )
        self.upstream_latency = Histogram(
            "driftscope_upstream_latency_seconds",
            "Upstream round trip as seen by the proxy",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # cumulative local counts (event loop only) and what was flushed of them
        self._requests: dict[tuple[str, int], int] = {}
        self._captured: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        self._buckets: dict[str, list[int]] = {}  # per model, one count per bucket (+Inf last)
        self._sums: dict[str, float] = {}
        self._flushed: dict[tuple[object, ...], float] = {}

    def request(self, model: str, status: int, latency_s: float | None) -> None:
        """Count one answered request; ``latency_s`` is None when no upstream answered."""
        key = (model, status)
        counts = self._requests
        counts[key] = counts.get(key, 0) + 1
        if latency_s is not None:
            buckets = self._buckets.get(model)
            if buckets is None:
                buckets = self._buckets[model] = [0] * (len(LATENCY_BUCKETS) + 1)
                self._sums[model] = 0.0
            buckets[bisect_left(LATENCY_BUCKETS, latency_s)] += 1
            self._sums[model] += latency_s

    def capture(self, model: str, accepted: bool) -> None:
        """Count one sampled exchange: accepted by the sink, or dropped."""
        counts = self._captured if accepted else self._dropped
        counts[model] = counts.get(model, 0) + 1

    def flush(self) -> None:
        """Add the counts since the last flush to the prometheus metrics (any thread)."""
        with self._lock:
            flushed = self._flushed
            for (model, status), n in self._requests.copy().items():
                rkey: tuple[object, ...] = ("requests", model, status)
                self._add(flushed, rkey, n, self.requests, model, str(status))
            for model, n in self._captured.copy().items():
                self._add(flushed, ("captured", model), n, self.captured, model)
            for model, n in self._dropped.copy().items():
                self._add(flushed, ("dropped", model), n, self.dropped, model)
            for model, buckets in self._buckets.copy().items():
                counts = list(buckets)  # a snapshot: the loop may count on meanwhile
                total = self._sums[model]
                hist = self.upstream_latency.labels(model)
                for i, n in enumerate(counts):
                    bkey: tuple[object, ...] = ("bucket", model, i)
                    delta = n - flushed.get(bkey, 0)
                    if delta:
                        hist._buckets[i].inc(delta)
                        flushed[bkey] = n
                skey: tuple[object, ...] = ("sum", model)
                delta_sum = total - flushed.get(skey, 0.0)
                if delta_sum:
                    hist._sum.inc(delta_sum)
                    flushed[skey] = total

    @staticmethod
    def _add(
        flushed: dict[tuple[object, ...], float],
        key: tuple[object, ...],
        n: int,
        family: Counter,
        *labels: str,
    ) -> None:
        delta = n - flushed.get(key, 0)
        if delta:
            family.labels(*labels).inc(delta)
            flushed[key] = n


class _Flusher:
    """Registered first in the registry: every collection flushes the local counts first."""

    def __init__(self, metrics: ProxyMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> list[Metric]:
        self.metrics.flush()
        return []
