"""The ingest worker: replays closed spool segments into the record store.

A segment is deleted (``reader.done``) only after everything decoded from it
is committed: records, and capture errors with their raw payloads in the blob
store. If the database or the blob store fails, the segment stays and the
next run replays it; the unique key (model, request id, row) makes the replay
store each record once.

Inputs a codec hands over as attachments (images) go into the blob store
before their records are stored (``Record.inputs``); blobs are
content-addressed, so a replay writes the same objects again and no more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import orjson

from driftscope.capture.exchange import Exchange
from driftscope.codecs import Attachment, get_codec
from driftscope.codecs.base import RecordRows
from driftscope.config.settings import Settings
from driftscope.errors import CodecError, PluginError, StorageError
from driftscope.storage.base import BlobStore, CaptureErrorRow, RecordStore
from driftscope.types import BlobRef, Record

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 30.0


class SegmentReader(Protocol):
    """What ingest needs of ``driftscope.capture.spool.SpoolReader``."""

    def ready_segments(self) -> list[Path]: ...

    def read(self, segment: Path) -> list[Exchange]: ...

    def done(self, segment: Path) -> None: ...


@dataclass(slots=True)
class IngestStats:
    """What one run did. ``retry`` is True when storage failed and segments were kept."""

    exchanges: int = 0
    records: int = 0
    duplicates: int = 0
    capture_errors: int = 0
    retry: bool = False
    segments: int = 0

    def add(self, other: IngestStats) -> None:
        for f in fields(self):
            if f.name == "retry":
                self.retry = self.retry or other.retry
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


#: records per database batch when neither the settings nor the store name one
DEFAULT_BATCH_SIZE = 2000


class Ingestor:
    """Spool -> codec -> store, in batches of ``settings.capture.batch_size`` records."""

    def __init__(
        self, settings: Settings, store: RecordStore, blobs: BlobStore, reader: SegmentReader
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.reader = reader
        self.batch_size = settings.capture.batch_size or int(
            getattr(store, "preferred_batch_size", DEFAULT_BATCH_SIZE)
        )
        #: cumulative figures since start (the server exposes them as metrics)
        self.totals = IngestStats()

    def run_once(self) -> IngestStats:
        """Ingest every segment that is ready now; never raises for storage failures.

        One writer for all of them: a segment's last batch may still be written while
        the next segment is read and decoded; the segment is finished (capture errors
        stored, deleted, counted) once that batch is committed (:meth:`_BatchWriter.
        after_writes`). A storage failure keeps the segment it hit and every later one.
        """
        stats = IngestStats()
        segment: Path | None = None
        try:
            with _BatchWriter(self.store) as writer:
                for segment in self.reader.ready_segments():
                    self._segment(segment, stats, writer)
                writer.finish()  # every batch committed, every segment finished (or raises)
        except StorageError as exc:
            log.warning(
                "ingest: storage unavailable, keeping %s (and any segment not yet "
                "finished) for retry: %s",
                segment,
                exc,
            )
            stats.retry = True
        self.totals.add(stats)
        return stats

    def drain(self) -> IngestStats:
        """Run until no segment is left (or storage fails: then ``retry`` is set)."""
        total = IngestStats()
        while True:
            stats = self.run_once()
            total.add(stats)
            if stats.retry or stats.segments == 0:
                return total

    def run_forever(self, stop: threading.Event, interval_s: float) -> None:
        """Ingest until ``stop`` is set, backing off exponentially while storage is down."""
        failures = 0
        while not stop.is_set():
            try:
                stats = self.run_once()
            except Exception:  # a bug must not kill the thread that empties the spool
                log.exception("ingest: unexpected failure")
                stats = IngestStats(retry=True)
            if stats.retry:
                failures += 1
                stop.wait(min(interval_s * 2**failures, _MAX_BACKOFF_S))
            else:
                failures = 0
                if stats.segments == 0:
                    stop.wait(interval_s)

    # -- one segment -----------------------------------------------------------------------

    def _segment(self, segment: Path, stats: IngestStats, writer: _BatchWriter) -> None:
        """Decode and store one segment; delete it only once all of it is committed.

        Records are stored in batches of ``batch_size`` as they are decoded (only a
        batch or two is held at a time, which keeps the garbage collector's work
        small). With a store that pipelines its writes (:class:`_BatchWriter`), a batch
        is written by a writer thread while the next one is decoded, the segment's last
        batch while the next segment is decoded. A storage failure propagates (after
        the batch in flight, if any, has finished) and the segment stays for a replay,
        which the unique record key makes idempotent. Capture errors are stored after
        the records (all of them committed), still before the segment goes.
        """
        exchanges = self.reader.read(segment)
        pending: list[Record | RecordRows] = []  # records, or blocks of rows standing for them
        held = 0  # records in pending
        errors: list[CaptureErrorRow] = []
        batch_size = self.batch_size
        tally = _Tally()
        blocks = writer.takes_record_rows
        for ex in exchanges:
            try:
                records, attachments = self._decode(ex, blocks)
            except CodecError as exc:
                log.warning(
                    "capture error: model=%s request_id=%s: %s", ex.model, ex.request_id, exc
                )
                errors.append(self._capture_error(ex, str(exc)))
            except Exception as exc:  # a codec plugin's bug must not jam the spool
                log.exception("codec failure: model=%s request_id=%s", ex.model, ex.request_id)
                message = f"codec failure: {type(exc).__name__}: {exc}"
                errors.append(self._capture_error(ex, message))
            else:
                if isinstance(records, RecordRows):
                    if records.values:
                        pending.append(records)
                        held += len(records)
                else:
                    if attachments:  # outside the try: a blob store failure keeps it
                        self._put_attachments(records, attachments)
                    pending.extend(records)
                    held += len(records)
            while held >= batch_size:
                batch, pending = _take(pending, batch_size)
                held -= batch_size
                writer.add(batch, batch_size, tally)
        if pending:
            writer.add(pending, held, tally)
        n_exchanges = len(exchanges)
        del exchanges, pending

        def finished() -> None:
            """Once every batch of the segment is committed (StorageError propagates)."""
            if errors:
                self.store.add_capture_errors(errors)
            # everything is committed: only now may the segment go
            self.reader.done(segment)
            stats.segments += 1
            stats.exchanges += n_exchanges
            stats.records += tally.inserted
            stats.duplicates += tally.decoded - tally.inserted
            stats.capture_errors += len(errors)

        writer.after_writes(finished)

    def _decode(
        self, ex: Exchange, blocks: bool = False
    ) -> tuple[list[Record] | RecordRows, list[Attachment] | None]:
        """The exchange's records (``blocks``: or one block of rows, where the codec can)."""
        model = self.settings.model(ex.model)
        if model is None:
            raise CodecError(f"model {ex.model!r} is not configured")
        protocol = ex.protocol or model.protocol.value
        try:
            codec = get_codec(protocol)
        except PluginError as exc:
            raise CodecError(f"no codec for protocol {protocol!r}: {exc}") from exc
        if getattr(codec, "attachments", False):
            records, attachments = codec.decode_with_attachments(ex, model)
            for att in attachments:  # a plugin's bad row is its capture error, not a jam
                if not 0 <= att.row < len(records):
                    raise CodecError(
                        f"codec {protocol!r} returned an attachment for row {att.row} "
                        f"of {len(records)} records"
                    )
            return records, attachments
        decode_rows = getattr(codec, "decode_rows", None) if blocks else None
        if decode_rows is not None:
            return decode_rows(ex, model), None
        return codec.decode(ex, model), None

    def _put_attachments(self, records: list[Record], attachments: list[Attachment]) -> None:
        """Each attachment into the blob store, its reference into its record's inputs."""
        put = self.blobs.put
        for att in attachments:
            ref = put(att.data, media_type=att.media_type)  # StorageError propagates
            rec = records[att.row]
            rec.inputs = [
                *rec.inputs,
                BlobRef(ref.uri, ref.sha256, att.media_type, ref.size, att.name),
            ]

    def _capture_error(self, ex: Exchange, message: str) -> CaptureErrorRow:
        """Keep the raw payloads and headers in the blob store (StorageError propagates)."""
        payloads: list[BlobRef] = []
        for name, body, headers in (
            ("request", ex.request_body, ex.request_headers),
            ("response", ex.response_body, ex.response_headers),
        ):
            media = headers.get("content-type", "application/octet-stream")
            ref = self.blobs.put(body, media_type=media)
            payloads.append(
                BlobRef(uri=ref.uri, sha256=ref.sha256, media_type=media, size=ref.size, name=name)
            )
        meta = {
            "method": ex.method,
            "path": ex.path,
            "status": ex.status,
            "error": ex.error,
            "request_headers": ex.request_headers,
            "response_headers": ex.response_headers,
        }
        ref = self.blobs.put(orjson.dumps(meta), media_type="application/json")
        payloads.append(BlobRef(ref.uri, ref.sha256, ref.media_type, ref.size, name="exchange"))
        return CaptureErrorRow(
            model=ex.model,
            request_id=ex.request_id,
            message=message,
            timestamp=datetime.fromtimestamp(ex.received_at, UTC),
            payloads=payloads,
            status=ex.status,
        )


class _BatchWriter:
    """Stores one segment's batches, each in its own transaction, at most one in flight.

    A store whose class defines ``prepare_records`` (the CPU work, no database
    access), ``write_prepared`` (the transaction) and ``pipelines_writes`` returning
    True (the SQL store on PostgreSQL) gets its batches written by a writer thread:
    ``add`` prepares batch N+1 in the caller's thread, waits for batch N's write to
    finish (re-raising its error), then hands N+1 to the thread and returns, so the
    caller decodes the next batch while the database works. While the thread waits on
    the database it does not hold the GIL; the work it does hold it for is small (the
    rows are already encoded). Any other store (SQLite, or a wrapper that only defines
    ``add_records``) is written synchronously by ``add_records``, from records.
    Leaving the ``with`` block waits for the batch in flight either way, so nothing is
    written behind the caller's back once it decides about the segment.
    """

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        #: what to run once the batches added so far are committed, in order
        self._after: list[Callable[[], None]] = []
        cls = type(store)
        prepare = getattr(cls, "prepare_records", None)
        write = getattr(cls, "write_prepared", None)
        pipelines = getattr(cls, "pipelines_writes", None)
        self._split = (
            (prepare.__get__(store), write.__get__(store))
            if prepare is not None
            and write is not None
            and pipelines is not None
            and pipelines(store)
            else None
        )
        #: the store's prepare_records takes blocks of rows (codecs.base.RecordRows)
        self.takes_record_rows = self._split is not None and bool(
            getattr(cls, "takes_record_rows", False)
        )
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: tuple[Future[int], _Tally] | None = None

    def __enter__(self) -> _BatchWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # the batch in flight finishes (or fails) first

    def add(self, batch: list[Record | RecordRows], count: int, tally: _Tally) -> None:
        """Store ``batch`` (``count`` records; blocks only if ``takes_record_rows``);
        ``tally`` counts its records and, once committed, the new ones."""
        tally.decoded += count
        if self._split is None:
            tally.inserted += self.store.add_records(batch)  # type: ignore[arg-type]
            return
        prepare, write = self._split
        prepared = prepare(batch)
        self._wait()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="driftscope-ingest-writer")
        self._inflight = (self._pool.submit(write, prepared), tally)

    def after_writes(self, then: Callable[[], None]) -> None:
        """Run ``then`` once every batch added so far is committed: now if none is in
        flight, else in the caller's thread at the next wait (the next ``add`` or
        ``finish``), after the ``then`` given before. Not at all if a write fails."""
        if self._inflight is None and not self._after:
            then()
        else:
            self._after.append(then)

    def finish(self) -> None:
        """Wait until every batch is committed and everything waiting on them has run."""
        self._wait()

    def _wait(self) -> None:
        if self._inflight is not None:
            (future, tally), self._inflight = self._inflight, None
            try:
                tally.inserted += future.result()  # that batch's StorageError raises here
            except BaseException:
                self._after.clear()  # its segment and the later ones stay
                raise
        while self._after:
            self._after.pop(0)()


@dataclass(slots=True)
class _Tally:
    """One segment's records: decoded, and newly stored by its committed batches."""

    decoded: int = 0
    inserted: int = 0


def _take(
    units: list[Record | RecordRows], n: int
) -> tuple[list[Record | RecordRows], list[Record | RecordRows]]:
    """The first ``n`` records of ``units`` and the rest (a block may be split in two)."""
    taken = 0
    for i, unit in enumerate(units):
        k = len(unit) if isinstance(unit, RecordRows) else 1
        if taken + k > n:  # only a block: a record has k = 1 and taken < n here
            assert isinstance(unit, RecordRows)
            head, tail = unit.split(n - taken)
            return [*units[:i], head], [tail, *units[i + 1 :]]
        taken += k
        if taken == n:
            return units[: i + 1], units[i + 1 :]
    return units, []
