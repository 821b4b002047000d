"""Ingest: spool segments -> records, exactly once, through storage failures."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import replace

import orjson
import pytest

from driftscope.errors import StorageError
from driftscope.ingest import Ingestor, IngestStats
from driftscope.storage.sql.engine import sqlite_file
from ingest.conftest import FEATURES, oip_exchange, settings_for


@pytest.fixture
def parts(storage_pair):
    store, blobs = storage_pair.open(busy_timeout_ms=50)
    yield storage_pair, store, blobs
    store.close()
    blobs.close()


def _expected_features(ex):
    doc = orjson.loads(ex.request_body)
    return [dict(zip(FEATURES, row, strict=True)) for row in doc["inputs"][0]["data"]]


def test_segments_become_records(parts, reader):
    _, store, blobs = parts
    exchanges = [oip_exchange(f"r{i}", rows=1 + i % 4, seed=i, t=1.7e9 + i) for i in range(12)]
    for k in range(0, 12, 4):
        reader.add(exchanges[k : k + 4])
    stats = Ingestor(settings_for(), store, blobs, reader).drain()
    total_rows = sum(1 + i % 4 for i in range(12))
    assert stats == IngestStats(exchanges=12, records=total_rows, segments=3)
    assert reader.segments == {} and len(reader.done_calls) == 3
    got = store.query_records("tab", limit=1000)
    assert len(got) == total_rows
    by_key = {(r.request_id, r.row_index): r for r in got}
    for ex in exchanges:
        resp = orjson.loads(ex.response_body)
        for i, feats in enumerate(_expected_features(ex)):
            rec = by_key[(ex.request_id, i)]
            assert rec.features == feats
            assert rec.prediction == resp["outputs"][0]["data"][i]
            p = resp["outputs"][1]["data"][i]
            assert rec.scores == {"no": p[0], "yes": p[1]}
            assert (rec.model_version, rec.latency_ms, rec.status) == ("v1", 1.25, 200)
            assert rec.timestamp.timestamp() == ex.received_at


def test_replayed_duplicates_are_not_stored_twice(parts, reader):
    _, store, blobs = parts
    ing = Ingestor(settings_for(), store, blobs, reader)
    exchanges = [oip_exchange(f"r{i}", rows=2, seed=i) for i in range(5)]
    reader.add(exchanges)
    assert ing.run_once().records == 10
    reader.add(exchanges[2:])  # the same exchanges again (a crash before done())
    stats = ing.run_once()
    assert (stats.records, stats.duplicates) == (0, 6)
    assert store.count_records() == 10
    assert ing.totals.records == 10 and ing.totals.duplicates == 6


class _FailOnSecondBatch:
    """The real store; before its second batch, ``breaker`` breaks the real database."""

    def __init__(self, store, breaker):
        self._store, self._breaker, self.calls = store, breaker, 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    def add_records(self, records):
        self.calls += 1
        if self.calls == 2:
            self._breaker()
        return self._store.add_records(records)


def _lock(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


@pytest.mark.parametrize("fault", ["locked", "removed"])
def test_sqlite_fault_mid_segment_keeps_it_and_replays_once(fault, tmp_path, reader):
    from storage.store_backends import StoragePair

    pair = StoragePair(f"sqlite:///{tmp_path / 'db.sqlite'}", f"file://{tmp_path / 'blobs'}")
    store, blobs = pair.open(busy_timeout_ms=50)
    db = sqlite_file(pair.database_url)
    aside = tmp_path / "db.aside"
    held = []

    def breaker():
        if fault == "locked":
            held.append(_lock(db))
        else:
            os.rename(db, aside)

    flaky = _FailOnSecondBatch(store, breaker)
    segment = reader.add([oip_exchange(f"r{i}", rows=3, seed=i) for i in range(6)])  # 18 rows
    ing = Ingestor(settings_for(batch_size=7), flaky, blobs, reader)
    stats = ing.run_once()
    assert stats.retry and stats.segments == 0
    assert reader.ready_segments() == [segment]  # kept for the replay
    # storage comes back: the first batch (7 rows) was committed, the replay adds the rest once
    if fault == "locked":
        held.pop().execute("ROLLBACK")
    else:
        os.rename(aside, db)
    assert store.count_records() == 7
    stats = ing.run_once()
    assert not stats.retry and (stats.records, stats.duplicates) == (11, 7)
    assert store.count_records() == 18 and reader.segments == {}
    store.close()


def test_database_down_keeps_every_segment(parts, reader, caplog):
    pair, store, blobs = parts
    segments = [reader.add([oip_exchange(f"r{i}", rows=1, seed=i)]) for i in range(3)]

    class Down:
        def __getattr__(self, name):
            def fail(*a, **k):
                raise StorageError("connection refused")

            return fail

    with caplog.at_level(logging.WARNING, logger="driftscope.ingest"):
        stats = Ingestor(settings_for(), Down(), blobs, reader).drain()
    assert stats.retry and stats.records == 0
    assert reader.ready_segments() == segments
    assert "keeping" in caplog.text and "connection refused" in caplog.text
    stats = Ingestor(settings_for(), store, blobs, reader).drain()
    assert stats.records == 3 and not stats.retry and store.count_records() == 3


def test_codec_errors_are_kept_with_their_payloads(parts, reader, caplog):
    _, store, blobs = parts
    good = oip_exchange("good", rows=2)
    broken = replace(oip_exchange("broken", rows=2, t=1.7e9 + 5), request_body=b'{"inputs": 5')
    bad_tensor = replace(
        oip_exchange("bad-tensor", rows=1, t=1.7e9 + 6),
        request_body=orjson.dumps(
            {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2]}]}
        ),
    )
    stranger = replace(oip_exchange("stranger", rows=1, t=1.7e9 + 7), model="unknown-model")
    reader.add([good, broken, bad_tensor, stranger])
    with caplog.at_level(logging.WARNING, logger="driftscope.ingest"):
        stats = Ingestor(settings_for(), store, blobs, reader).run_once()
    assert (stats.exchanges, stats.records, stats.capture_errors) == (4, 2, 3)
    assert reader.segments == {}
    for rid in ("broken", "bad-tensor", "stranger"):
        assert f"request_id={rid}" in caplog.text
    errors = {e.request_id: e for e in store.list_capture_errors()}
    assert set(errors) == {"broken", "bad-tensor", "stranger"}
    assert "request: not valid JSON" in errors["broken"].message
    assert "shape [1, 3] needs 3 elements, data has 2" in errors["bad-tensor"].message
    assert "model 'unknown-model' is not configured" in errors["stranger"].message
    refs = {r.name: r for r in errors["broken"].payloads}
    assert blobs.get(refs["request"].uri) == broken.request_body
    assert blobs.get(refs["response"].uri) == broken.response_body
    meta = orjson.loads(blobs.get(refs["exchange"].uri))
    assert meta["path"] == "/v2/models/tab/infer" and meta["status"] == 200
    # a replay of the same segment does not duplicate the capture errors
    reader.add([broken])
    Ingestor(settings_for(), store, blobs, reader).run_once()
    assert len(store.list_capture_errors()) == 3


def test_blob_store_down_keeps_the_segment(parts, reader, tmp_path):
    _, store, _ = parts
    from driftscope.storage.blob.local import LocalBlobStore

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the blob folder should be")
    reader.add([replace(oip_exchange("broken", rows=1), request_body=b"{")])
    stats = Ingestor(settings_for(), store, LocalBlobStore(blocked), reader).run_once()
    assert stats.retry and len(reader.ready_segments()) == 1
    assert store.list_capture_errors() == []


def test_kserve_v1_exchanges(parts, reader):
    _, store, blobs = parts
    ex = replace(
        oip_exchange("k1", rows=1),
        model="v1model",
        protocol="kserve_v1",
        path="/v1/models/v1model:predict",
        request_body=orjson.dumps({"instances": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}),
        response_body=orjson.dumps({"predictions": [0.5, 0.25]}),
    )
    reader.add([ex])
    assert Ingestor(settings_for(), store, blobs, reader).run_once().records == 2
    assert [r.features for r in store.query_records("v1model")] == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "y"},
    ]


def test_run_forever_stops_and_ingests(parts, reader):
    _, store, blobs = parts
    ing = Ingestor(settings_for(), store, blobs, reader)
    stop = threading.Event()
    thread = threading.Thread(target=ing.run_forever, args=(stop, 0.01))
    thread.start()
    try:
        reader.add([oip_exchange("late", rows=4, seed=3)])
        for _ in range(500):
            if store.count_records() == 4:
                break
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert store.count_records() == 4


def test_a_codec_bug_becomes_a_capture_error(parts, reader, monkeypatch):
    _, store, blobs = parts

    class Buggy:
        def decode(self, exchange, model):
            raise ZeroDivisionError("plugin bug")

    monkeypatch.setattr("driftscope.ingest.worker.get_codec", lambda protocol: Buggy())
    reader.add([oip_exchange("r1", rows=1)])
    stats = Ingestor(settings_for(), store, blobs, reader).run_once()
    assert (stats.capture_errors, stats.retry, reader.segments) == (1, False, {})
    (err,) = store.list_capture_errors()
    assert err.message == "codec failure: ZeroDivisionError: plugin bug"


def test_ingested_tabular_rows_are_stored_typed_and_read_back_equal(parts, reader):
    # the OIP v2 FP64 rows take the typed columns (0005); a replay of the same segment
    # through the staging path stores nothing twice and the values stay the same
    _, store, blobs = parts
    exchanges = [oip_exchange(f"r{i}", rows=3, seed=i, t=1.7e9 + i) for i in range(6)]
    reader.add(exchanges)
    assert Ingestor(settings_for(), store, blobs, reader).drain().records == 18
    with store.engine.connect() as conn:
        kinds = conn.exec_driver_sql(
            "SELECT count(*), count(features), count(feature_layout) FROM records"
        ).one()
    assert tuple(kinds) == (18, 0, 18)
    got = {(r.request_id, r.row_index): r.features for r in store.query_records("tab", limit=99)}
    want = {(ex.request_id, i): f for ex in exchanges for i, f in enumerate(_expected_features(ex))}
    assert got == want
    reader.add(exchanges)
    stats = Ingestor(settings_for(), store, blobs, reader).drain()
    assert (stats.records, stats.duplicates) == (0, 18)
    frame = store.records_frame("tab")
    assert list(frame.columns[4 : 4 + len(FEATURES)]) == FEATURES
    assert frame[FEATURES].dtypes.tolist() == ["float64"] * len(FEATURES)
