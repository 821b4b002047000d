"""Several writers and ingestors on one PostgreSQL: every record stored exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from driftscope.capture.exchange import Exchange
from driftscope.capture.spool import SpoolReader
from driftscope.ingest import Ingestor, IngestStats
from services.mlserver import MLServerInfo

from .harness import (
    Backend,
    assert_records_match,
    config_dict,
    migrate,
    real_exchanges,
    settings_of,
    spool_in_subprocess,
    wait_until,
)

pytestmark = pytest.mark.services

ROWS = 2


@pytest.fixture(scope="module")
def exchanges(mlserver: MLServerInfo) -> list[Exchange]:
    return real_exchanges(mlserver, 120, ROWS, prefix="conc", seed=5)


def test_two_writer_processes_and_two_ingestors_store_each_record_once(
    postgres_db_url: str, exchanges: list[Exchange], mlserver: MLServerInfo, tmp_path: Path
) -> None:
    migrate(postgres_db_url)
    backend = Backend("postgres", postgres_db_url, f"file://{tmp_path / 'blobs'}")
    cfg = config_dict(tmp_path, backend, mlserver.url)
    settings = settings_of(cfg)
    spool = Path(cfg["capture"]["spool_dir"])
    # two replicas; a client retry sent the last 20 requests to both
    first, second = exchanges[:60], exchanges[60:]
    overlap = exchanges[40:60]

    stop = threading.Event()
    ingestors: list[Ingestor] = []
    threads: list[threading.Thread] = []
    for _ in range(2):  # two ingestors on the same spool, each with its own connections
        store, blobs = backend.open()
        store.ensure_models(settings.models)
        ing = Ingestor(settings, store, blobs, SpoolReader(spool))
        ingestors.append(ing)
        threads.append(threading.Thread(target=ing.run_forever, args=(stop, 0.02), daemon=True))
    for t in threads:
        t.start()
    try:
        writers = [
            threading.Thread(target=spool_in_subprocess, args=(spool, part, tmp_path))
            for part in (first, second + overlap)
        ]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        reader = SpoolReader(spool)
        wait_until(lambda: reader.depth() == (0, 0), "both ingestors to empty the spool")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)

    total = IngestStats()
    for ing in ingestors:
        total.add(ing.totals)
    unique = len(exchanges) * ROWS
    assert total.records == unique  # inserted, summed over both ingestors
    assert total.duplicates >= len(overlap) * ROWS
    store, blobs = backend.open()
    try:
        assert store.count_records("clf") == unique
        assert_records_match(store, exchanges)
    finally:
        store.close()
        for ing in ingestors:
            ing.store.close()
