"""The bounded capture queue: never blocks, counts drops, flushes in batches, drains on stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from capture.helpers import exchange
from driftscope.capture.queue import CaptureQueue
from driftscope.capture.sink import CaptureSink, ListSink
from driftscope.capture.spool import SpoolReader, SpoolWriter


def _queue(root: Path, maxsize: int = 100, interval: float = 0.01) -> CaptureQueue:
    writer = SpoolWriter(root, segment_max_bytes=1 << 20, segment_max_age_s=0.05)
    return CaptureQueue(writer, maxsize=maxsize, flush_interval_s=interval)


def _ids(root: Path) -> list[str]:
    reader = SpoolReader(root)
    return [ex.request_id for seg in reader.ready_segments() for ex in reader.read(seg)]


def test_sinks_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(_queue(tmp_path), CaptureSink)
    assert isinstance(ListSink(), CaptureSink)


async def test_full_queue_drops_and_counts(tmp_path: Path) -> None:
    q = _queue(tmp_path, maxsize=3)  # not started: nothing leaves the queue
    results = [q.submit(exchange(i)) for i in range(5)]
    assert results == [True, True, True, False, False]
    assert (q.submitted, q.dropped, q.written, len(q)) == (3, 2, 0, 3)
    await q.stop()
    assert _ids(tmp_path) == ["r-0", "r-1", "r-2"] and q.written == 3


async def test_flusher_writes_in_batches_and_rotates_on_age(tmp_path: Path) -> None:
    q = _queue(tmp_path)
    await q.start()
    for i in range(10):
        assert q.submit(exchange(i))
    reader = SpoolReader(tmp_path)
    for _ in range(400):  # the flusher closes the segment once it is older than 50 ms
        if reader.ready_segments():
            break
        await asyncio.sleep(0.01)
    assert _ids(tmp_path) == [f"r-{i}" for i in range(10)]
    assert q.written == 10 and len(q) == 0
    await q.stop()


async def test_stop_drains_everything(tmp_path: Path) -> None:
    q = _queue(tmp_path, maxsize=10_000, interval=60)  # the flusher would not run in time
    await q.start()
    for i in range(500):
        q.submit(exchange(i))
    await q.stop()
    assert _ids(tmp_path) == [f"r-{i}" for i in range(500)]
    assert (q.submitted, q.written, q.dropped) == (500, 500, 0)
    assert not q.submit(exchange(9999)) and q.dropped == 1  # stopped: refused, counted
    await q.stop()  # idempotent


async def test_failed_write_counts_as_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    q = _queue(tmp_path)
    q.writer.close()  # every append now fails
    q.submit(exchange(1))
    q.submit(exchange(2))
    await q.flush()
    assert (q.written, q.dropped) == (0, 2)
    assert "2 captured exchange(s) lost" in caplog.text


def _encode(i: int) -> bytes:
    from driftscope.capture.spool import encode_exchange

    if i < 0:
        raise ValueError("cannot encode")
    return encode_exchange(exchange(i))


async def test_deferred_items_are_encoded_at_flush_counted_and_bounded(tmp_path: Path) -> None:
    q = _queue(tmp_path, maxsize=4)  # not started: nothing leaves the queue until stop
    results = [
        q.submit_deferred(_encode, (1,)),
        q.submit(exchange(2)),
        q.submit_deferred(_encode, (-1,)),  # fails on the writer side: dropped, logged
        q.submit_deferred(_encode, (3,)),
        q.submit_deferred(_encode, (4,)),  # over the bound
    ]
    assert results == [True, True, True, True, False]
    assert (q.submitted, q.dropped, len(q)) == (4, 1, 4)
    await q.stop()
    assert _ids(tmp_path) == ["r-1", "r-2", "r-3"]
    assert (q.written, q.dropped) == (3, 2)
    assert not q.submit_deferred(_encode, (5,)) and q.dropped == 3  # stopped: refused
