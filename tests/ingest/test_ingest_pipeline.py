"""Ingest's writer thread: batch N is written while batch N+1 is decoded, still exactly once.

With the SQL store on PostgreSQL (``pipelines_writes``), ``Ingestor`` writes each
batch in a writer thread, one batch in flight; on SQLite in its own thread, as
before. Either way a write that fails keeps the segment, no later batch of it is
written, and the replay stores the rest once.
"""

from __future__ import annotations

import threading

import pytest

from driftscope.errors import StorageError
from driftscope.ingest import Ingestor
from driftscope.storage.sql.repo import SQLRecordStore
from ingest.conftest import oip_exchange, settings_for


class _Recording(SQLRecordStore):
    """The real SQL store; records which thread wrote each batch, fails one write on demand."""

    fail_on: int | None = None
    before_write = None  # called with the batch number (from 1) before it is written

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.writes: list[tuple[int, int]] = []  # (thread id, batch size)

    def write_prepared(self, prepared):
        self.writes.append((threading.get_ident(), prepared.count))
        if self.before_write is not None:
            self.before_write(len(self.writes))
        if len(self.writes) == self.fail_on:
            raise StorageError("database went away (test)")
        return super().write_prepared(prepared)


@pytest.fixture
def recording(storage_pair):
    store = _Recording(storage_pair.database_url)
    store.upgrade()
    _, blobs = storage_pair.open()
    yield store, blobs
    store.close()
    blobs.close()


def test_batches_are_written_by_the_writer_thread(recording, reader):
    store, blobs = recording
    reader.add([oip_exchange(f"r{i}", rows=3, seed=i) for i in range(6)])  # 18 rows
    reader.add([oip_exchange(f"s{i}", rows=2, seed=i) for i in range(2)])  # 4 rows
    stats = Ingestor(settings_for(batch_size=7), store, blobs, reader).drain()
    assert (stats.records, stats.duplicates, stats.segments) == (22, 0, 2)
    assert [n for _, n in store.writes] == [7, 7, 4, 4]
    threads = {tid for tid, _ in store.writes}
    if store.pipelines_writes():
        assert threading.get_ident() not in threads
    else:
        assert threads == {threading.get_ident()}
    assert store.count_records() == 22 and reader.segments == {}


def test_a_failed_write_keeps_the_segment_and_stops_its_later_batches(recording, reader):
    store, blobs = recording
    store.fail_on = 2
    segment = reader.add([oip_exchange(f"r{i}", rows=3, seed=i) for i in range(10)])  # 30 rows
    ing = Ingestor(settings_for(batch_size=7), store, blobs, reader)
    stats = ing.run_once()
    assert stats.retry and stats.segments == 0
    assert reader.ready_segments() == [segment]
    # batch 1 committed, batch 2 failed, and nothing after it was written
    assert len(store.writes) == 2 and store.count_records() == 7
    store.fail_on = None
    stats = ing.run_once()
    assert not stats.retry and (stats.records, stats.duplicates) == (23, 7)
    assert store.count_records() == 30 and reader.segments == {}


def test_duplicates_within_pipelined_batches_are_counted(recording, reader):
    store, blobs = recording
    exchanges = [oip_exchange(f"r{i}", rows=4, seed=i) for i in range(5)]  # 20 rows
    ing = Ingestor(settings_for(batch_size=3), store, blobs, reader)
    reader.add(exchanges[:3])
    assert ing.run_once().records == 12
    reader.add(exchanges)  # the first three again, then two new ones
    stats = ing.run_once()
    assert (stats.records, stats.duplicates) == (8, 12)
    assert store.count_records() == 20


def test_a_segment_goes_only_once_its_records_are_committed(recording, reader):
    store, blobs = recording
    seen_at_done: list[int] = []
    done = reader.done

    def checked_done(segment):
        seen_at_done.append(store.count_records())
        done(segment)

    reader.done = checked_done
    for s in range(3):  # 10, 10 and 10 rows: the last batch of each is still in flight
        reader.add([oip_exchange(f"s{s}r{i}", rows=2, seed=i) for i in range(5)])
    stats = Ingestor(settings_for(batch_size=7), store, blobs, reader).run_once()
    assert (stats.segments, stats.records, stats.exchanges) == (3, 30, 15)
    assert seen_at_done == [10, 20, 30]


def test_a_failed_last_batch_keeps_its_segment_and_the_next(recording, reader):
    store, blobs = recording
    store.fail_on = 2  # the second (last) batch of the first segment
    first = reader.add([oip_exchange(f"a{i}", rows=2, seed=i) for i in range(5)])  # 7 + 3
    second = reader.add([oip_exchange(f"b{i}", rows=3, seed=i) for i in range(2)])  # 6
    ing = Ingestor(settings_for(batch_size=7), store, blobs, reader)
    stats = ing.run_once()
    assert stats.retry and stats.segments == 0
    assert reader.ready_segments() == [first, second]
    assert len(store.writes) == 2 and store.count_records() == 7
    store.fail_on = None
    stats = ing.run_once()
    assert not stats.retry and stats.segments == 2
    assert (stats.records, stats.duplicates) == (9, 7)
    assert store.count_records() == 16 and reader.segments == {}


def test_unset_batch_size_is_the_stores_own(recording, reader):
    store, blobs = recording
    from driftscope.config.settings import Settings

    unset = Ingestor(Settings(models=settings_for().models), store, blobs, reader)
    expected = 20_000 if store.pipelines_writes() else 2_000  # PostgreSQL's COPY, SQLite
    assert unset.batch_size == store.preferred_batch_size == expected
    assert Ingestor(settings_for(batch_size=7), store, blobs, reader).batch_size == 7


def test_the_next_segment_is_decoded_while_the_last_batch_is_written(recording, reader):
    # a segment's last batch is written while the next segment is read and decoded; the
    # segment goes (its capture errors stored first) only once that batch is committed.
    # SQLite is written from the decoding thread: there the next segment is read after.
    from dataclasses import replace

    store, blobs = recording
    pipelined = store.pipelines_writes()
    bad = replace(oip_exchange("bad", rows=1), request_body=b"{")
    first = reader.add([*[oip_exchange(f"a{i}", rows=2, seed=i) for i in range(5)], bad])
    second = reader.add([oip_exchange(f"b{i}", rows=3, seed=i) for i in range(3)])  # 9 rows
    second_read = threading.Event()
    read, done = reader.read, reader.done
    at_done: list[tuple[str, int, int]] = []
    overlapped: list[bool] = []

    def reading(segment):
        if segment == second:
            second_read.set()
        return read(segment)

    def done_checked(segment):
        at_done.append((segment.name, store.count_records(), len(store.list_capture_errors())))
        done(segment)

    def before_write(n):
        if n == 2:  # the first segment's last batch (3 of its 10 rows)
            overlapped.append(second_read.wait(10) if pipelined else second_read.is_set())

    reader.read, reader.done = reading, done_checked
    store.before_write = before_write
    stats = Ingestor(settings_for(batch_size=7), store, blobs, reader).run_once()
    assert overlapped == [pipelined]
    assert [n for _, n in store.writes] == [7, 3, 7, 2]
    assert at_done == [(first.name, 10, 1), (second.name, 19, 1)]
    assert (stats.segments, stats.records, stats.capture_errors, stats.exchanges) == (2, 19, 1, 9)
    assert reader.segments == {} and not stats.retry
