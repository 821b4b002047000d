"""The on-disk spool: round trip, rotation, torn tails, adoption of a dead worker's segment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capture.helpers import CHILD, exchange
from driftscope.capture.exchange import Exchange
from driftscope.capture.spool import (
    MAGIC,
    SpoolReader,
    SpoolWriter,
    decode_exchange,
    encode_exchange,
    frame,
)
from driftscope.errors import StorageError

TESTS = str(Path(__file__).resolve().parents[1])


def _writer(root: Path, max_bytes: int = 1 << 20, max_age: float = 3600) -> SpoolWriter:
    return SpoolWriter(root, segment_max_bytes=max_bytes, segment_max_age_s=max_age)


def _all(reader: SpoolReader) -> list[Exchange]:
    return [ex for seg in reader.ready_segments() for ex in reader.read(seg)]


def test_encode_decode_round_trip_keeps_bytes() -> None:
    for i in range(6):
        ex = exchange(i, size=300 + i)
        assert decode_exchange(encode_exchange(ex)) == ex
    empty = Exchange("m", "json", "", "GET", "/", 0.0, 0.0, 200)
    assert decode_exchange(encode_exchange(empty)) == empty
    with pytest.raises(StorageError, match="malformed spool record"):
        decode_exchange(b"\x05\x00")


def test_write_close_read_done(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.append([exchange(i) for i in range(5)])
    w.append([exchange(i) for i in range(5, 8)])
    reader = SpoolReader(tmp_path)
    assert reader.ready_segments() == []  # open segment of a live writer
    assert reader.depth()[0] == 1
    w.close()
    (seg,) = reader.ready_segments()
    assert seg.name.endswith(".seg") and seg.read_bytes().startswith(MAGIC)
    assert reader.read(seg) == [exchange(i) for i in range(8)]
    reader.done(seg)
    assert reader.ready_segments() == [] and reader.depth() == (0, 0)
    assert list(tmp_path.iterdir()) == []  # the closed writer's folder is cleaned up


def test_reader_of_missing_root(tmp_path: Path) -> None:
    reader = SpoolReader(tmp_path / "absent")
    assert reader.ready_segments() == [] and reader.depth() == (0, 0)


def test_rotation_by_size(tmp_path: Path) -> None:
    w = _writer(tmp_path, max_bytes=2048)
    for i in range(30):
        w.append([exchange(i, size=200)])
    w.close()
    reader = SpoolReader(tmp_path)
    segments = reader.ready_segments()
    assert len(segments) > 3
    assert all(s.stat().st_size < 2048 + 1024 for s in segments)
    assert [ex.request_id for ex in _all(reader)] == [f"r-{i}" for i in range(30)]


def test_rotation_by_age(tmp_path: Path) -> None:
    w = _writer(tmp_path, max_age=0.01)
    w.append([exchange(1)])
    w.maybe_rotate()  # too young: stays open
    reader = SpoolReader(tmp_path)
    assert reader.ready_segments() == []
    time.sleep(0.02)
    w.maybe_rotate()
    assert len(reader.ready_segments()) == 1 and w.segment is None
    w.append([exchange(2)])  # a new segment, sorted after the first
    w.close()
    assert [ex.request_id for ex in _all(reader)] == ["r-1", "r-2"]


@pytest.mark.parametrize("cut", [1, 5, 8, 30])
def test_torn_tail_is_dropped(tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture) -> None:
    w = _writer(tmp_path)
    w.append([exchange(i) for i in range(4)])
    w.close()
    reader = SpoolReader(tmp_path)
    (seg,) = reader.ready_segments()
    with seg.open("ab") as f:
        f.write(frame(encode_exchange(exchange(99)))[:cut])
    assert [ex.request_id for ex in reader.read(seg)] == [f"r-{i}" for i in range(4)]
    assert "torn" in caplog.text


def test_corrupt_record_ends_the_segment(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.append([exchange(i) for i in range(3)])
    w.close()
    reader = SpoolReader(tmp_path)
    (seg,) = reader.ready_segments()
    data = bytearray(seg.read_bytes())
    data[-5] ^= 0xFF  # a flipped bit in the last record
    seg.write_bytes(bytes(data))
    assert [ex.request_id for ex in reader.read(seg)] == ["r-0", "r-1"]


def test_not_a_segment_is_skipped(tmp_path: Path) -> None:
    seg = tmp_path / "x.seg"
    seg.write_bytes(b"garbage that is not a spool")
    assert SpoolReader(tmp_path).read(seg) == []


def test_two_writers_in_one_process_are_apart(tmp_path: Path) -> None:
    a, b = _writer(tmp_path), _writer(tmp_path)
    assert a.dir != b.dir
    a.append([exchange(1)])
    b.append([exchange(2)])
    a.close()
    reader = SpoolReader(tmp_path)
    assert [ex.request_id for ex in _all(reader)] == ["r-1"]  # b is alive and open
    b.close()
    assert sorted(ex.request_id for ex in _all(reader)) == ["r-1", "r-2"]


def test_dead_workers_open_segment_is_adopted(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    code = CHILD.format(tests=TESTS, root=str(root), n=7)
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert child.stdout is not None
        open_segment = Path(child.stdout.readline().strip())
        assert open_segment.name.endswith(".seg.open")
        reader = SpoolReader(root)
        assert reader.ready_segments() == []  # alive: its lock is held
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    # a half-written frame, as a kill -9 in the middle of a write leaves it
    with open_segment.open("ab") as f:
        f.write(frame(encode_exchange(exchange(100)))[:40])
    assert reader.ready_segments() == [open_segment]
    assert [ex.request_id for ex in reader.read(open_segment)] == [f"r-{i}" for i in range(7)]
    reader.done(open_segment)
    assert reader.ready_segments() == []
    assert list(root.iterdir()) == []  # the dead worker's empty folder is removed
