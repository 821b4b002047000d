"""Proxy metrics: counted locally, handed to prometheus on collect and periodically."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram

from collector.harness import make_settings
from driftscope.capture.sink import ListSink
from driftscope.collector import ProxyApp, ProxyMetrics
from driftscope.collector.metrics import LATENCY_BUCKETS

LATENCIES = [0.0, 0.0004, 0.0005, 0.00051, 0.001, 0.7, 1.0, 59.9, 60.0, 61.0, 1e6]


def _samples(registry: CollectorRegistry, name: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in registry.collect()
        if metric.name == name
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_histogram_and_counters_match_direct_prometheus_figures() -> None:
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    reference = CollectorRegistry()
    direct = Histogram(
        "driftscope_upstream_latency_seconds",
        "ref",
        ["model"],
        buckets=LATENCY_BUCKETS,
        registry=reference,
    )
    for i, latency in enumerate(LATENCIES):
        metrics.request("m", 200 if i % 3 else 502, latency)
        direct.labels("m").observe(latency)
    metrics.request("m", 504, None)  # no upstream answer: counted, not observed
    metrics.capture("m", True)
    metrics.capture("m", True)
    metrics.capture("m", False)
    name = "driftscope_upstream_latency_seconds"
    assert _samples(registry, name) == _samples(reference, name)  # flushed by the collection
    get = registry.get_sample_value
    assert get("driftscope_requests_total", {"model": "m", "status": "200"}) == 7
    assert get("driftscope_requests_total", {"model": "m", "status": "502"}) == 4
    assert get("driftscope_requests_total", {"model": "m", "status": "504"}) == 1
    assert get("driftscope_captured_total", {"model": "m"}) == 2
    assert get("driftscope_dropped_total", {"model": "m"}) == 1
    metrics.flush()  # again, with nothing new: nothing counted twice
    metrics.request("m", 200, 0.002)
    assert get("driftscope_requests_total", {"model": "m", "status": "200"}) == 8
    assert get(name + "_count", {"model": "m"}) == len(LATENCIES) + 1
    assert get(name + "_bucket", {"model": "m", "le": "0.0025"}) == 6


def test_flushes_from_another_thread_lose_nothing() -> None:
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    stop = threading.Event()

    def flusher() -> None:
        while not stop.is_set():
            metrics.flush()

    thread = threading.Thread(target=flusher)
    thread.start()
    try:
        for i in range(50_000):
            metrics.request("m", 200, 0.001 * (i % 7))
            metrics.capture("m", i % 5 != 0)
    finally:
        stop.set()
        thread.join()
    get = registry.get_sample_value
    assert get("driftscope_requests_total", {"model": "m", "status": "200"}) == 50_000
    assert get("driftscope_upstream_latency_seconds_count", {"model": "m"}) == 50_000
    assert get("driftscope_captured_total", {"model": "m"}) == 40_000
    assert get("driftscope_dropped_total", {"model": "m"}) == 10_000


async def test_the_proxy_flushes_periodically_and_at_shutdown(upstream: str) -> None:
    metrics = ProxyMetrics(CollectorRegistry())
    app = ProxyApp(make_settings(upstream), ListSink(), metrics)
    child = metrics.requests.labels("tab", "200")
    await app.startup()
    try:
        metrics.request("tab", 200, 0.001)
        for _ in range(200):  # no collection: only the proxy's own timer can flush
            if child._value.get() == 1:
                break
            await asyncio.sleep(0.05)
        assert child._value.get() == 1
        metrics.request("tab", 200, 0.001)
    finally:
        await app.shutdown()
    assert child._value.get() == 2  # the last flush at shutdown


MULTIPROCESS = """
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from driftscope.collector import ProxyMetrics

metrics = ProxyMetrics(CollectorRegistry())
for _ in range(3):
    metrics.request("m", 200, 0.001)
metrics.capture("m", False)
aggregate = CollectorRegistry()
MultiProcessCollector(aggregate)
get = aggregate.get_sample_value
before = get("driftscope_requests_total", {"model": "m", "status": "200"})
metrics.flush()
after = get("driftscope_requests_total", {"model": "m", "status": "200"})
count = get("driftscope_upstream_latency_seconds_count", {"model": "m"})
print(before, after, count, get("driftscope_dropped_total", {"model": "m"}))


class Nothing:
    def describe(self):
        return []

    def collect(self):
        return []


from driftscope.server.metrics import scrape_registry

local = CollectorRegistry()
served = ProxyMetrics(local)
served.request("s", 201, 0.001)
scraped = scrape_registry(Nothing(), local)  # the /metrics registry flushes this process first
print(scraped.get_sample_value("driftscope_requests_total", {"model": "s", "status": "201"}))
"""


def test_multiprocess_value_files_get_the_flushed_counts(tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["None", "3.0", "3.0", "1.0", "1.0"]
