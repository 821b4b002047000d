"""Prometheus metrics of the proxy (one set per worker process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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

    Label children are cached so the hot path does one dict lookup per figure.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
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
        self._requests: dict[tuple[str, int], Counter] = {}
        self._captured: dict[str, Counter] = {}
        self._dropped: dict[str, Counter] = {}
        self._latency: dict[str, Histogram] = {}

    def request(self, model: str, status: int, latency_s: float | None) -> None:
        """Count one answered request; ``latency_s`` is None when no upstream answered."""
        key = (model, status)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.requests.labels(model, str(status))
        child.inc()
        if latency_s is not None:
            hist = self._latency.get(model)
            if hist is None:
                hist = self._latency[model] = self.upstream_latency.labels(model)
            hist.observe(latency_s)

    def capture(self, model: str, accepted: bool) -> None:
        """Count one sampled exchange: accepted by the sink, or dropped."""
        cache, family = (
            (self._captured, self.captured) if accepted else (self._dropped, self.dropped)
        )
        child = cache.get(model)
        if child is None:
            child = cache[model] = family.labels(model)
        child.inc()
