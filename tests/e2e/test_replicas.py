"""Two ``driftscope serve`` replicas writing to one PostgreSQL + S3; Prometheus scraping one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from services.mlserver import MLServerInfo
from services.prometheus import PrometheusServer
from services.s3 import S3Info

from .harness import Backend, Collector, assert_rows_stored, config_dict, migrate, post_rows

pytestmark = pytest.mark.services


def test_two_collectors_one_postgres_every_record_once(
    postgres_db_url: str,
    s3_env: S3Info,
    s3_prefix: str,
    mlserver: MLServerInfo,
    collector_factory: Callable[..., Collector],
    tmp_path: Path,
) -> None:
    migrate(postgres_db_url)
    backend = Backend("postgres", postgres_db_url, s3_prefix, s3_env)
    replicas = [
        collector_factory(config_dict(tmp_path / name, backend, mlserver.url), name=name)
        for name in ("a", "b")
    ]
    ids = [f"rep-{i}" for i in range(80)]
    # each replica gets half the traffic, and both get the last 10 ids (a client retry
    # sending the same request, with the same answer, through the other replica)
    parts = [ids[:40], ids[40:]]
    threads = [
        threading.Thread(target=post_rows, args=(c.url, mlserver, part))
        for c, part in zip(replicas, parts, strict=True)
    ]
    threads.append(threading.Thread(target=post_rows, args=(replicas[0].url, mlserver, ids[70:])))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in replicas:
        assert c.stop() == 0

    store, blobs = backend.open()
    try:
        assert_rows_stored(store, ids)
    finally:
        store.close()
        blobs.close()


def test_prometheus_scrapes_the_collector(
    prometheus: PrometheusServer,
    mlserver: MLServerInfo,
    collector_factory: Callable[..., Collector],
    tmp_path: Path,
) -> None:
    backend = Backend(
        "sqlite", f"sqlite:///{tmp_path / 'driftscope.db'}", f"file://{tmp_path / 'blobs'}"
    )
    collector = collector_factory(config_dict(tmp_path, backend, mlserver.url))
    post_rows(collector.url, mlserver, [f"prom-{i}" for i in range(7)])

    prometheus.set_targets([collector.url.removeprefix("http://")], job="driftscope")
    expr = 'sum(driftscope_requests_total{job="driftscope", model="clf"})'
    result = prometheus.wait_for(expr)
    assert float(result[0]["value"][1]) == 7.0
    by_status = prometheus.wait_for('driftscope_requests_total{job="driftscope", model="clf"}')
    assert {r["metric"]["status"] for r in by_status} == {"200"}
