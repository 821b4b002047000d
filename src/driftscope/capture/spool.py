"""The append-only spool on local disk between the capture queue and ingest.

Layout: ``root/<worker-id>/`` per writing process, holding ``.lock`` (an
``flock`` held while the process lives) and segment files named
``<time_ns>-<seq>.seg``. A segment is ``….seg.open`` while written and renamed
to ``….seg`` once closed (after an fsync), so a closed segment is complete.
The open segment of a dead worker (its lock is free) is adopted by the reader.

A segment starts with :data:`MAGIC`, then frames::

    frame   = u32 payload length | u32 crc32(payload) | payload
    payload = u32 meta length | u32 request-body length
              | meta (orjson) | request body | response body

Bodies stay bytes (binary tensors, gzip). A frame cut short by a kill -9 or
with a bad CRC ends the segment: what follows is dropped and logged.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import time
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from driftscope.capture.exchange import Exchange
from driftscope.errors import StorageError

log = logging.getLogger(__name__)

MAGIC = b"DSSPOOL1"
LOCK_NAME = ".lock"
CLOSED_SUFFIX = ".seg"
OPEN_SUFFIX = ".seg.open"
_FRAME = struct.Struct("<II")  # payload length, crc32
_PARTS = struct.Struct("<II")  # meta length, request-body length


def encode_exchange(ex: Exchange) -> bytes:
    """The payload of one frame (no length or CRC)."""
    return encode_payload(
        {
            "model": ex.model,
            "protocol": ex.protocol,
            "request_id": ex.request_id,
            "method": ex.method,
            "path": ex.path,
            "received_at": ex.received_at,
            "latency_ms": ex.latency_ms,
            "status": ex.status,
            "model_version": ex.model_version,
            "request_headers": ex.request_headers,
            "response_headers": ex.response_headers,
            "forced": ex.forced,
            "error": ex.error,
        },
        ex.request_body,
        ex.response_body,
    )


def encode_payload(meta: dict[str, Any], request_body: bytes, response_body: bytes) -> bytes:
    """A frame payload from the :class:`Exchange` fields other than the bodies, and the bodies.

    ``meta`` must hold exactly the keys :func:`encode_exchange` writes (what
    :func:`decode_exchange` passes to ``Exchange``).
    """
    data = orjson.dumps(meta)
    return b"".join((_PARTS.pack(len(data), len(request_body)), data, request_body, response_body))


def decode_exchange(payload: bytes) -> Exchange:
    """Inverse of :func:`encode_exchange`; raises StorageError on a malformed payload."""
    try:
        meta_len, req_len = _PARTS.unpack_from(payload, 0)
        start = _PARTS.size
        meta: dict[str, Any] = orjson.loads(payload[start : start + meta_len])
        body_at = start + meta_len
        if body_at + req_len > len(payload):
            raise ValueError("request body runs past the payload")
        return Exchange(
            request_body=bytes(payload[body_at : body_at + req_len]),
            response_body=bytes(payload[body_at + req_len :]),
            **meta,
        )
    except (struct.error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise StorageError(f"malformed spool record: {exc}") from exc


def frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def frames(payloads: Sequence[bytes]) -> bytes:
    """``payloads`` framed and concatenated (one copy of each payload)."""
    pack, crc32 = _FRAME.pack, zlib.crc32
    parts: list[bytes] = []
    for payload in payloads:
        parts.append(pack(len(payload), crc32(payload)))
        parts.append(payload)
    return b"".join(parts)


class SpoolWriter:
    """Appends framed exchanges to this process's own segment files.

    Not thread-safe: one caller at a time (the capture queue's flusher).
    """

    def __init__(self, root: Path, *, segment_max_bytes: int, segment_max_age_s: float) -> None:
        self.root = Path(root)
        self.segment_max_bytes = segment_max_bytes
        self.segment_max_age_s = segment_max_age_s
        self.worker_id = f"w{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.root.mkdir(parents=True, exist_ok=True)
        # lock first under a hidden name, then rename: readers never see an unlocked live folder
        tmp = self.root / f".{self.worker_id}.tmp"
        tmp.mkdir()
        self._lock_fd = os.open(tmp / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.dir = self.root / self.worker_id
        tmp.rename(self.dir)
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._opened = 0.0
        self._seq = 0
        self.closed = False

    @property
    def segment(self) -> Path | None:
        """The open segment, if any."""
        return self._path

    def append(self, exchanges: Sequence[Exchange]) -> None:
        """Frame ``exchanges`` and write them in one go (flushed to the OS, not fsynced)."""
        self.append_payloads([encode_exchange(ex) for ex in exchanges])

    def append_payloads(self, payloads: Sequence[bytes]) -> None:
        """Frame encoded payloads (:func:`encode_payload`) and write them in one ``write``."""
        if self.closed:
            raise StorageError(f"spool writer {self.worker_id} is closed")
        if not payloads:
            return
        data = frames(payloads)
        fd = self._fd if self._fd is not None else self._open()
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        self._size += len(data)
        if self._size >= self.segment_max_bytes:
            self._close_segment()

    def maybe_rotate(self) -> None:
        """Close the open segment when it reached its size or age bound."""
        if self._fd is None:
            return
        if (
            self._size >= self.segment_max_bytes
            or time.monotonic() - self._opened >= self.segment_max_age_s
        ):
            self._close_segment()

    def close(self) -> None:
        """Close the open segment (ready for ingest) and release the worker folder."""
        if self.closed:
            return
        self._close_segment()
        self.closed = True
        try:
            if not any(p.name != LOCK_NAME for p in self.dir.iterdir()):
                (self.dir / LOCK_NAME).unlink()
                self.dir.rmdir()
        except OSError:
            pass  # a reader may be cleaning up at the same moment
        os.close(self._lock_fd)

    def _open(self) -> int:
        self._seq += 1
        name = f"{time.time_ns():020d}-{self._seq:06d}"
        path = self.dir / (name + OPEN_SUFFIX)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        os.write(fd, MAGIC)
        self._fd, self._path = fd, path
        self._size = len(MAGIC)
        self._opened = time.monotonic()
        return fd

    def _close_segment(self) -> None:
        if self._fd is None or self._path is None:
            return
        fd, path = self._fd, self._path
        self._fd = self._path = None
        os.fsync(fd)
        os.close(fd)
        path.rename(path.with_name(path.name[: -len(".open")]))


def _lock_free(folder: Path) -> bool:
    """True when no live process holds the folder's lock (its writer is gone)."""
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also releases the lock taken just now
    return True


class SpoolReader:
    """Finds segments ready for ingest, reads them, deletes them once committed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _folders(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except FileNotFoundError:
            return []

    def ready_segments(self) -> list[Path]:
        """Closed segments of every worker plus open ones of dead workers, oldest first."""
        ready: list[Path] = []
        for folder in self._folders():
            try:
                names = [p for p in folder.iterdir() if p.name != LOCK_NAME]
            except FileNotFoundError:
                continue
            closed = [p for p in names if p.name.endswith(CLOSED_SUFFIX)]
            opened = [p for p in names if p.name.endswith(OPEN_SUFFIX)]
            ready.extend(closed)
            if (opened or not closed) and _lock_free(folder):
                if opened:
                    ready.extend(opened)
                    log.debug("adopting %d open segment(s) of dead worker %s", len(opened), folder)
                elif not names:
                    self._remove_folder(folder)
        return sorted(ready, key=lambda p: p.name)

    def read(self, segment: Path) -> list[Exchange]:
        """Every intact record of ``segment``; a torn or corrupt tail is dropped and logged."""
        data = segment.read_bytes()
        if not data.startswith(MAGIC):
            if len(data) >= len(MAGIC):
                log.error("spool segment %s is not a driftscope spool segment: skipped", segment)
            return []
        out: list[Exchange] = []
        pos, end = len(MAGIC), len(data)
        view = memoryview(data)
        while pos < end:
            if end - pos < _FRAME.size:
                log.warning("spool segment %s: torn frame header at byte %d dropped", segment, pos)
                break
            length, crc = _FRAME.unpack_from(data, pos)
            start = pos + _FRAME.size
            payload = view[start : start + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                log.warning(
                    "spool segment %s: torn or corrupt record at byte %d: %d byte(s) dropped",
                    segment,
                    pos,
                    end - pos,
                )
                break
            try:
                out.append(decode_exchange(bytes(payload)))
            except StorageError as exc:
                log.error("spool segment %s: record at byte %d skipped: %s", segment, pos, exc)
            pos = start + length
        return out

    def done(self, segment: Path) -> None:
        """Delete a segment whose records are committed."""
        segment.unlink(missing_ok=True)

    def depth(self) -> tuple[int, int]:
        """Segments on disk (open ones included) and their total size in bytes."""
        count = size = 0
        for folder in self._folders():
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.name.endswith((CLOSED_SUFFIX, OPEN_SUFFIX)):
                    try:
                        size += entry.stat().st_size
                    except FileNotFoundError:
                        continue
                    count += 1
        return count, size

    @staticmethod
    def _remove_folder(folder: Path) -> None:
        try:
            (folder / LOCK_NAME).unlink(missing_ok=True)
            folder.rmdir()
        except OSError:
            pass  # a file appeared or another reader got there first
