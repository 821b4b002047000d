"""Storage outages during ingest: PostgreSQL restarted, S3 unreachable. The spool holds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from driftscope.capture.exchange import Exchange
from driftscope.capture.spool import SpoolReader, SpoolWriter
from driftscope.ingest import Ingestor
from driftscope.storage import open_blob_store, open_store
from services.mlserver import MLServerInfo
from services.postgres import PostgresServer
from services.s3 import SeaweedS3

from .harness import (
    Backend,
    Collector,
    assert_records_match,
    assert_rows_stored,
    config_dict,
    malformed_exchange,
    migrate,
    post_rows,
    real_exchanges,
    settings_of,
    wait_until,
)

pytestmark = pytest.mark.services

ROWS = 4


@pytest.fixture(scope="module")
def exchanges(mlserver: MLServerInfo) -> list[Exchange]:
    return real_exchanges(mlserver, 60, ROWS, prefix="out", seed=11)


def test_postgres_restarted_mid_ingest_loses_nothing(
    postgres_factory: Callable[[], PostgresServer],
    exchanges: list[Exchange],
    mlserver: MLServerInfo,
    tmp_path: Path,
) -> None:
    pg = postgres_factory()
    url = pg.url(pg.create_database("ds"))
    migrate(url)
    cfg = config_dict(
        tmp_path, Backend("postgres", url, f"file://{tmp_path / 'blobs'}"), mlserver.url
    )
    settings = settings_of(cfg)
    spool = Path(cfg["capture"]["spool_dir"])
    store = open_store(url)
    blobs = open_blob_store(cfg["storage"]["blob_url"])
    store.ensure_models(settings.models)
    reader = SpoolReader(spool)
    ingestor = Ingestor(settings, store, blobs, reader)
    writer = SpoolWriter(spool, segment_max_bytes=4 * 1024, segment_max_age_s=60)
    stop = threading.Event()
    thread = threading.Thread(target=ingestor.run_forever, args=(stop, 0.05), daemon=True)
    thread.start()
    batches = [exchanges[i : i + 5] for i in range(0, len(exchanges), 5)]
    try:
        for batch in batches[:4]:
            writer.append(batch)
            writer.maybe_rotate()
        wait_until(lambda: ingestor.totals.records > 0, "ingest to store the first records")

        pg.stop()  # the database goes away while ingest is running
        for batch in batches[4:8]:
            writer.append(batch)
            writer.maybe_rotate()
        wait_until(lambda: ingestor.totals.retry, "ingest to notice the database is down")
        held = reader.depth()
        assert held[0] > 0 and held[1] > 0  # the spool holds what could not be stored

        pg.start()  # same data folder, same port
        for batch in batches[8:]:
            writer.append(batch)
            writer.maybe_rotate()
        writer.close()
        wait_until(lambda: reader.depth() == (0, 0), "the spool to be replayed", timeout_s=120)
    finally:
        stop.set()
        thread.join(timeout=60)
    rest = ingestor.drain()
    assert not rest.retry
    assert store.count_records("clf") == len(exchanges) * ROWS
    assert ingestor.totals.records == len(exchanges) * ROWS
    assert_records_match(store, exchanges)
    store.close()


def test_s3_unreachable_for_a_while_loses_nothing(
    s3_factory: Callable[[], SeaweedS3],
    postgres_db_url: str,
    exchanges: list[Exchange],
    mlserver: MLServerInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3 = s3_factory()
    for key, value in s3.info.env().items():
        monkeypatch.setenv(key, value)
    migrate(postgres_db_url)
    backend = Backend("postgres", postgres_db_url, f"s3://{s3.info.bucket}/outage", s3.info)
    cfg = config_dict(tmp_path, backend, mlserver.url)
    settings = settings_of(cfg)
    spool = Path(cfg["capture"]["spool_dir"])
    store = open_store(postgres_db_url)
    blobs = open_blob_store(
        backend.blob_url,
        endpoint_url=s3.info.endpoint_url,
        region=s3.info.region,
        max_attempts=2,
        connect_timeout_s=1.0,
        read_timeout_s=5.0,
    )
    store.ensure_models(settings.models)
    reader = SpoolReader(spool)
    ingestor = Ingestor(settings, store, blobs, reader)
    bad = [malformed_exchange(f"bad-{i}") for i in range(3)]
    # capture errors need the blob store (their raw payloads go there)
    mixed = exchanges[:20] + bad[:1] + exchanges[20:40] + bad[1:] + exchanges[40:]
    writer = SpoolWriter(spool, segment_max_bytes=4 * 1024, segment_max_age_s=60)
    try:
        s3.stop()
        for i in range(0, len(mixed), 5):
            writer.append(mixed[i : i + 5])
            writer.maybe_rotate()
        writer.close()
        before = reader.depth()
        stats = ingestor.run_once()
        assert stats.retry
        assert stats.capture_errors == 0
        after = reader.depth()
        assert 0 < after[0] < before[0]  # segments before the first capture error went in
        assert store.count_records("clf") < len(exchanges) * ROWS

        s3.start()
        stats = ingestor.drain()
        assert not stats.retry
        assert reader.depth() == (0, 0)
        assert ingestor.totals.capture_errors == len(bad)
        assert store.count_records("clf") == len(exchanges) * ROWS
        assert_records_match(store, exchanges)
        errors = {e.request_id: e for e in store.list_capture_errors("clf")}
        assert set(errors) == {b.request_id for b in bad}
        for b in bad:
            payload = {p.name: p for p in errors[b.request_id].payloads}["request"]
            assert payload.uri.startswith(f"s3://{s3.info.bucket}/outage/")
            assert blobs.get(payload.uri) == b.request_body
    finally:
        store.close()
        blobs.close()


def test_collector_keeps_serving_while_postgres_restarts(
    postgres_factory: Callable[[], PostgresServer],
    mlserver: MLServerInfo,
    collector_factory: Callable[..., Collector],
    tmp_path: Path,
) -> None:
    pg = postgres_factory()
    url = pg.url(pg.create_database("ds"))
    migrate(url)
    backend = Backend("postgres", url, f"file://{tmp_path / 'blobs'}")
    cfg = config_dict(tmp_path, backend, mlserver.url)
    collector = collector_factory(cfg)
    ids = [f"pgr-{i}" for i in range(90)]
    post_rows(collector.url, mlserver, ids[:30])

    pg.stop()
    post_rows(collector.url, mlserver, ids[30:60])  # every answer still 200
    reader = SpoolReader(Path(cfg["capture"]["spool_dir"]))
    wait_until(lambda: reader.depth()[0] > 0, "the spool to hold the captures")

    pg.start()
    post_rows(collector.url, mlserver, ids[60:])
    assert collector.stop() == 0  # drained into the database that came back
    assert reader.depth() == (0, 0)
    store = open_store(url)
    try:
        assert_rows_stored(store, ids)
    finally:
        store.close()
