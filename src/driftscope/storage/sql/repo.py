"""The SQL record store: SQLite or PostgreSQL through one SQLAlchemy schema."""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, text, tuple_
from sqlalchemy.exc import SQLAlchemyError

from driftscope.errors import StorageError
from driftscope.storage.base import (
    AlertRow,
    CaptureErrorRow,
    MonitoringRun,
    RecordStore,
)
from driftscope.storage.sql import engine as eng
from driftscope.storage.sql import frames, typed
from driftscope.storage.sql import models as t
from driftscope.storage.sql.label_tasks import LabelTasksMixin
from driftscope.types import RESULT_COLUMNS, BlobRef, GroundTruth, Record

if TYPE_CHECKING:
    import pandas as pd

    from driftscope.config.settings import ModelSettings

log = logging.getLogger(__name__)

_RECORD_KEY = ["model", "request_id", "row_index"]
#: Keys per IN (...) query when looking records up by key.
_KEY_CHUNK = 500
_MIGRATION_LOCK = 0x64726966  # "drif"
_UPGRADE_LOCK = threading.Lock()


def _now() -> datetime:
    return datetime.now(UTC)


def _record_key(p: tuple[Any, ...]) -> tuple[Any, Any, Any]:
    return p[0], p[2], p[3]  # model, request_id, row_index of a record_params row


_key_of = attrgetter("model", "request_id", "row_index")


def _flat(units: list[Record | eng.RowBlock]) -> list[Record]:
    """Records, blocks of rows (``RecordRows``) turned into theirs."""
    if all(isinstance(u, Record) for u in units):
        return units  # type: ignore[return-value]
    out: list[Record] = []
    for u in units:
        if isinstance(u, Record):
            out.append(u)
        else:
            out.extend(u.records())
    return out


def _ordered(units: list[Record | eng.RowBlock]) -> list[Record | eng.RowBlock]:
    """``units`` in record key order, blocks kept whole unless two units overlap (the
    same request twice in one batch): then every record on its own, sorted."""
    ordered = sorted(units, key=_key_of)
    prev: Any = None
    end = 0
    for u in ordered:
        if prev is not None and u.request_id == prev.request_id and u.model == prev.model:
            if u.row_index < end:
                return sorted(_flat(units), key=_key_of)
        prev = u
        end = u.row_index + (1 if isinstance(u, Record) else len(u))
    return ordered


@dataclass(slots=True)
class PreparedRecords:
    """A batch of records made ready for :meth:`SQLRecordStore.write_prepared`."""

    #: the records, or blocks of rows standing for theirs
    records: list[Record | eng.RowBlock]
    #: how many records
    count: int
    #: in key order: a binary COPY stream (PostgreSQL, :func:`engine.pg_copy_data`) or
    #: driver rows (:func:`engine.record_params`)
    rows: list[tuple[Any, ...]] | bytes
    #: the feature layouts the typed rows point to, by id (None: poisoned meanwhile)
    layouts: dict[int, typed.Layout | None]
    #: (model, version) pairs seen
    versions: list[tuple[str, str]]


class SQLRecordStore(LabelTasksMixin, RecordStore):
    """Records and everything around them in one SQL database.

    Writes are batched ``INSERT ... ON CONFLICT DO NOTHING`` (executemany), so
    replaying a spool segment stores each record once. Every database failure
    surfaces as :class:`StorageError` (the caller keeps its data and retries).
    Numeric feature rows are stored typed (packed float64 plus a layout id, see
    ``typed.py``), the others as JSON; reading gives the same features either way.
    """

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 5000,
        pool_size: int = 5,
        copy: bool = True,
        typed_features: bool = True,
    ) -> None:
        self.url = url
        #: PostgreSQL: bulk-load records with COPY through a staging table
        self.copy = copy
        self.engine = eng.make_engine(url, busy_timeout_ms=busy_timeout_ms, pool_size=pool_size)
        self.dialect = self.engine.dialect.name
        self._file = eng.sqlite_file(url)
        self._identity = eng.file_identity(self._file) if self._file else None
        self._lock = threading.Lock()
        #: typed feature rows (typed.py): the encoder, the layout ids whose stored layout was
        #: checked against ours, and the layouts read back by id (immutable: content hashes)
        self._encoder = typed.FeatureEncoder()
        #: False: every row's features as JSON (as before 0005; the tests' reference)
        self.typed_features = typed_features
        self._checked_layouts: set[int] = set()
        self._read_layouts: dict[int, typed.Layout] = {}

    # -- plumbing --------------------------------------------------------------------------

    def _check_file(self) -> None:
        """A SQLite file deleted under us would swallow writes into an unlinked inode."""
        if self._file is None:
            return
        ident = eng.file_identity(self._file)
        if ident is None:
            self.engine.dispose()
            raise StorageError(f"SQLite database {str(self._file)!r} is missing (removed?)")
        if ident != self._identity:
            with self._lock:
                if self._identity is not None:
                    log.warning("SQLite database %s was replaced; reconnecting", self._file)
                self.engine.dispose()
                self._identity = ident

    @contextmanager
    def _tx(self, what: str) -> Iterator[Connection]:
        self._check_file()
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StorageError(f"{what} failed: {cause}") from exc

    def upgrade(self) -> None:
        with self._migration_lock():
            self._upgrade()

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """One migration at a time: in this process (alembic's ``op`` and ``context`` are
        process-global) and, for SQLite, across processes (a lock file beside the database;
        PostgreSQL takes an advisory lock instead)."""
        with _UPGRADE_LOCK:
            if self._file is None:
                yield
                return
            self._file.parent.mkdir(parents=True, exist_ok=True)
            with open(self._file.with_name(self._file.name + ".migrate-lock"), "a+b") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config

        self.engine.dispose()
        cfg = Config()
        location = resources.files("driftscope.storage.sql") / "migrations"
        cfg.set_main_option("script_location", str(location))
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    # replicas starting together migrate one after the other
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise StorageError(f"database migration failed: {exc}") from exc
        if self._file is not None:
            self._identity = eng.file_identity(self._file)

    def ping(self) -> None:
        with self._tx("ping") as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    # -- models ----------------------------------------------------------------------------

    def ensure_models(self, models: list[ModelSettings]) -> None:
        now = _now()
        rows = [
            {
                "name": m.name,
                "task": m.task.value,
                "protocol": m.protocol.value,
                "config": m.model_dump(mode="json", by_alias=True),
                "created_at": now,
                "updated_at": now,
            }
            for m in models
        ]
        versions = [
            {"model": m.name, "version": m.version, "first_seen": now} for m in models if m.version
        ]
        with self._tx("ensure_models") as conn:
            if rows:
                update = ["task", "protocol", "config", "updated_at"]
                conn.execute(eng.upsert(t.models, self.dialect, ["name"], update), rows)
            if versions:
                stmt = eng.insert_ignore(t.model_versions, self.dialect, ["model", "version"])
                conn.execute(stmt, versions)

    def list_models(self) -> list[dict[str, Any]]:
        with self._tx("list_models") as conn:
            configured = conn.execute(select(t.models).order_by(t.models.c.name)).all()
            counts: dict[str, int] = dict(
                conn.execute(
                    select(t.records.c.model, func.count()).group_by(t.records.c.model)
                ).all()
            )
            versions: dict[str, list[str]] = {}
            for model, version in conn.execute(
                select(t.model_versions.c.model, t.model_versions.c.version).order_by(
                    t.model_versions.c.first_seen, t.model_versions.c.id
                )
            ):
                versions.setdefault(model, []).append(version)
        out: dict[str, dict[str, Any]] = {}
        for row in configured:
            out[row.name] = {"name": row.name, "task": row.task, "protocol": row.protocol}
        for name in counts:
            out.setdefault(name, {"name": name, "task": None, "protocol": None})
        for name, item in out.items():
            item["versions"] = versions.get(name, [])
            item["records"] = int(counts.get(name, 0))
        return [out[k] for k in sorted(out)]

    # -- records ---------------------------------------------------------------------------

    def add_records(self, records: Sequence[Record]) -> int:
        if not records:
            return 0
        return self.write_prepared(self.prepare_records(records))

    #: ingest may hand :meth:`prepare_records` ``RecordRows`` blocks (codecs.base)
    takes_record_rows = True

    @property
    def preferred_batch_size(self) -> int:
        """Records per ingest batch unless the settings name one: binary COPY into
        PostgreSQL pays a round trip and a transaction per batch (best measured: 20000);
        SQLite's executemany gains nothing past about 2000 (benchmarks/ingest)."""
        return 20_000 if self.pipelines_writes() else 2_000

    def pipelines_writes(self) -> bool:
        """Whether ingest should write batches from a writer thread (:meth:`write_prepared`)
        while it decodes the next: PostgreSQL's COPY, where the client waits on the
        server with the GIL released. SQLite works in this process, and its driver takes
        the GIL back for every row's parameters: a thread would only add switches."""
        return self.dialect == "postgresql" and self.copy

    def prepare_records(self, records: Sequence[Record | eng.RowBlock]) -> PreparedRecords:
        """The CPU half of :meth:`add_records`, no database access: the driver rows.

        Ingest prepares the next batch while the previous one is being written
        (:meth:`write_prepared` in another thread), so the database server's work on
        one batch overlaps the decoding of the next. Thread-safe against a concurrent
        :meth:`write_prepared` of another batch. ``records`` may hold blocks of rows
        (``driftscope.codecs.base.RecordRows``) for the records they stand for.
        """
        units = list(records)
        used: set[int] = set()
        rows = self._rows(units, used)
        seen = {(r.model, r.model_version) for r in units if r.model_version}
        known = self._encoder.layouts
        # a layout missing here was poisoned by a write meanwhile: the write rebuilds
        layouts = {i: known.get(i) for i in used}
        count = sum(1 if isinstance(u, Record) else len(u) for u in units)
        return PreparedRecords(units, count, rows, layouts, sorted(seen))

    def _rows(
        self, units: list[Record | eng.RowBlock], used: set[int] | None = None
    ) -> list[tuple[Any, ...]] | bytes:
        """Driver rows in key order: a binary COPY stream for PostgreSQL, else params."""
        encoder = self._encoder if self.typed_features else None
        if self.dialect == "postgresql" and self.copy:
            # one global key order: concurrent writers with overlapping batches cannot deadlock
            return eng.pg_copy_data(_ordered(units), encoder, used)
        params = eng.record_params(_flat(units), self.dialect, encoder, used)
        params.sort(key=_record_key)
        return params

    def write_prepared(self, prepared: PreparedRecords) -> int:
        """Store a batch from :meth:`prepare_records` in one transaction; the count new."""
        if not prepared.count:
            return 0
        rows = prepared.rows
        now = _now()
        versions = [{"model": m, "version": v, "first_seen": now} for m, v in prepared.versions]
        with self._tx("add_records") as conn:
            layouts = prepared.layouts
            while not self._store_layouts(conn, layouts):
                # a layout id collision (found now or by another batch): those rows as
                # JSON, and the layouts the rebuilt rows use stored (each round poisons one)
                used: set[int] = set()
                rows = self._rows(prepared.records, used)
                layouts = {i: self._encoder.layouts.get(i) for i in used}
            if isinstance(rows, bytes):
                dbapi_conn = conn.connection.driver_connection
                inserted = eng.pg_copy_records(dbapi_conn, rows, prepared.count)
            else:
                # driver-level executemany: SQLAlchemy's per-value processing would cost 2x
                # here; both sqlite3 and psycopg sum the row counts, skipped conflicts count 0
                res = conn.exec_driver_sql(eng.records_insert_sql(self.dialect), rows)
                inserted = res.rowcount
            if versions:
                conn.execute(
                    eng.insert_ignore(t.model_versions, self.dialect, ["model", "version"]),
                    versions,
                )
        return int(inserted)

    def _store_layouts(self, conn: Connection, layouts: dict[int, typed.Layout | None]) -> bool:
        """Insert (if missing) ``layouts`` (by id); False if one id holds another layout
        in the database or was found to since the rows were built (that layout is then
        poisoned: rebuild the rows)."""
        if not layouts:
            return True
        if None in layouts.values() or not self._encoder.layouts.keys() >= layouts.keys():
            return False  # poisoned by another batch after this one was prepared
        ids = sorted(layouts)
        # every batch, not once per process: a database replaced or restored under a
        # running store must still get the layouts its rows point to (one small
        # driver-level statement per batch: SQLAlchemy's insert cost 0.3 us per record)
        known: dict[int, typed.Layout] = {i: v for i, v in layouts.items() if v is not None}
        conn.exec_driver_sql(
            eng.layouts_insert_sql(self.dialect), [(i, known[i].json_text) for i in ids]
        )
        fresh = [i for i in ids if i not in self._checked_layouts]
        if not fresh:
            return True
        c = t.feature_layouts.c
        stored = conn.execute(select(c.id, c.layout).where(c.id.in_(fresh))).all()
        ok = True
        for lid, value in stored:
            if typed.Layout.from_json(value) == known[int(lid)]:
                self._checked_layouts.add(int(lid))
            else:
                log.error("feature layout id %s collides: its rows are stored as JSON", lid)
                self._encoder.poison(int(lid))
                ok = False
        return ok

    def _layouts(self, conn: Connection, ids: Any) -> dict[int, typed.Layout]:
        """The layouts of ``ids`` (layout ids of typed rows), cached once read."""
        cache = self._read_layouts
        wanted = set(ids)
        wanted.discard(None)
        missing = sorted(int(i) for i in wanted if i not in cache)
        if missing:
            c = t.feature_layouts.c
            for lid, value in conn.execute(select(c.id, c.layout).where(c.id.in_(missing))):
                cache[int(lid)] = typed.Layout.from_json(value)
            lost = [i for i in missing if i not in cache]
            if lost:
                raise StorageError(f"feature layouts {lost} are missing from feature_layouts")
        return cache

    def query_records(
        self,
        model: str | None = None,
        version: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Record]:
        c = t.records.c
        stmt = select(t.records)
        if model is not None:
            stmt = stmt.where(c.model == model)
        if version is not None:
            stmt = stmt.where(c.model_version == version)
        if start is not None:
            stmt = stmt.where(c.ts >= start)
        if end is not None:
            stmt = stmt.where(c.ts < end)
        stmt = stmt.order_by(c.ts, c.id).limit(limit).offset(offset)
        with self._tx("query_records") as conn:
            rows = conn.execute(stmt).all()
            layouts = self._layouts(conn, (r.feature_layout for r in rows))
        return [
            Record(
                model=r.model,
                request_id=r.request_id,
                row_index=r.row_index,
                timestamp=r.ts,
                model_version=r.model_version,
                features=(
                    r.features or {}
                    if r.feature_layout is None
                    else typed.decode(layouts[int(r.feature_layout)], r.feature_values)
                ),
                prediction=r.prediction,
                scores=r.scores,
                inputs=[BlobRef(**b) for b in r.inputs or []],
                latency_ms=r.latency_ms,
                status=r.status,
                error=r.error,
            )
            for r in rows
        ]

    def count_records(self, model: str | None = None) -> int:
        stmt = select(func.count()).select_from(t.records)
        if model is not None:
            stmt = stmt.where(t.records.c.model == model)
        with self._tx("count_records") as conn:
            return int(conn.execute(stmt).scalar_one())

    def records_frame(
        self, model: str, start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        r, g = t.records.c, t.ground_truth.c
        join = t.records.outerjoin(
            t.ground_truth,
            (g.model == r.model) & (g.request_id == r.request_id) & (g.row_index == r.row_index),
        )
        stmt = (
            select(
                r.request_id,
                r.row_index,
                r.ts,
                r.model_version,
                r.features,
                r.feature_layout,
                r.feature_values,
                r.prediction,
                r.scores,
                g.value.label("target"),
                r.latency_ms,
            )
            .select_from(join)
            .where(r.model == model)
        )
        if start is not None:
            stmt = stmt.where(r.ts >= start)
        if end is not None:
            stmt = stmt.where(r.ts < end)
        with self._tx("records_frame") as conn:
            rows = conn.execute(stmt.order_by(r.ts, r.id)).all()
            layouts = self._layouts(conn, (row.feature_layout for row in rows))
        return frames.records_to_frame(rows, layouts)

    # -- ground truth, capture errors ------------------------------------------------------

    def list_ground_truth(
        self, model: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[GroundTruth]:
        c = t.ground_truth.c
        stmt = select(t.ground_truth).order_by(c.ts, c.id).limit(limit).offset(offset)
        if model is not None:
            stmt = stmt.where(c.model == model)
        with self._tx("list_ground_truth") as conn:
            rows = conn.execute(stmt).all()
        return [
            GroundTruth(
                model=r.model,
                request_id=r.request_id,
                row_index=r.row_index,
                value=r.value,
                timestamp=r.ts,
                source=r.source,
            )
            for r in rows
        ]

    def missing_record_keys(
        self, model: str, keys: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        c = t.records.c
        found: set[tuple[str, int]] = set()
        unique = list(dict.fromkeys(keys))
        with self._tx("missing_record_keys") as conn:
            for start in range(0, len(unique), _KEY_CHUNK):
                part = unique[start : start + _KEY_CHUNK]
                stmt = select(c.request_id, c.row_index).where(
                    c.model == model, tuple_(c.request_id, c.row_index).in_(part)
                )
                found.update((r, int(i)) for r, i in conn.execute(stmt))
        return [k for k in unique if k not in found]

    def count_capture_errors(self) -> dict[str, int]:
        c = t.capture_errors.c
        with self._tx("count_capture_errors") as conn:
            rows = conn.execute(select(c.model, func.count()).group_by(c.model)).all()
        return {str(m): int(n) for m, n in rows}

    def put_ground_truth(self, items: Sequence[GroundTruth]) -> int:
        if not items:
            return 0
        now = _now()
        rows = [
            {
                "model": g.model,
                "request_id": g.request_id,
                "row_index": g.row_index,
                "value": g.value,
                "ts": g.timestamp or now,
                "source": g.source,
            }
            for g in items
        ]
        stmt = eng.upsert(t.ground_truth, self.dialect, _RECORD_KEY, ["value", "ts", "source"])
        with self._tx("put_ground_truth") as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def add_capture_errors(self, errors: Sequence[CaptureErrorRow]) -> None:
        if not errors:
            return
        rows = [
            {
                "ts": e.timestamp,
                "model": e.model,
                "request_id": e.request_id,
                "status": e.status,
                "message": e.message,
                "payloads": [b.to_dict() for b in e.payloads],
            }
            for e in errors
        ]
        keys = ["model", "request_id", "ts"]
        with self._tx("add_capture_errors") as conn:
            conn.execute(eng.insert_ignore(t.capture_errors, self.dialect, keys), rows)

    def list_capture_errors(
        self, model: str | None = None, limit: int = 100
    ) -> list[CaptureErrorRow]:
        c = t.capture_errors.c
        stmt = select(t.capture_errors).order_by(c.ts.desc(), c.id.desc()).limit(limit)
        if model is not None:
            stmt = stmt.where(c.model == model)
        with self._tx("list_capture_errors") as conn:
            rows = conn.execute(stmt).all()
        return [
            CaptureErrorRow(
                model=r.model,
                request_id=r.request_id,
                message=r.message,
                timestamp=r.ts,
                payloads=[BlobRef(**b) for b in r.payloads or []],
                status=r.status,
            )
            for r in rows
        ]

    # -- reference data, results, alerts ---------------------------------------------------

    def put_reference(self, model: str, frame: pd.DataFrame) -> None:
        row = {
            "model": model,
            "created_at": _now(),
            "n_rows": len(frame),
            "columns": [str(c) for c in frame.columns],
            "parquet": frames.frame_to_parquet(frame),
        }
        with self._tx("put_reference") as conn:
            conn.execute(t.reference_datasets.insert(), row)

    def get_reference(self, model: str) -> pd.DataFrame | None:
        c = t.reference_datasets.c
        stmt = (
            select(c.parquet)
            .where(c.model == model)
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(1)
        )
        with self._tx("get_reference") as conn:
            data = conn.execute(stmt).scalar_one_or_none()
        return None if data is None else frames.parquet_to_frame(data)

    def save_results(self, model: str, run_at: datetime, results: pd.DataFrame) -> None:
        rows = frames.results_to_rows(model, run_at, results)
        if not rows:
            return
        with self._tx("save_results") as conn:
            conn.execute(t.monitoring_results.insert(), rows)

    def load_results(
        self,
        model: str,
        metric: str | None = None,
        column: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        all_runs: bool = False,
    ) -> pd.DataFrame:
        """Results of ``model``; by default only the newest run of each series.

        ``start`` / ``end`` filter on the chunk start (``start <= chunk_start < end``).
        """
        c = t.monitoring_results.c
        stmt = select(*[c[name] for name in RESULT_COLUMNS], c.run_at).where(c.model == model)
        if metric is not None:
            stmt = stmt.where(c.metric == metric)
        if column is not None:
            stmt = stmt.where(c.column == column)
        if start is not None:
            stmt = stmt.where(c.chunk_start >= start)
        if end is not None:
            stmt = stmt.where(c.chunk_start < end)
        with self._tx("load_results") as conn:
            rows = conn.execute(stmt).all()
        return frames.rows_to_results(rows, all_runs)

    def add_alerts(self, alerts: Sequence[AlertRow]) -> int:
        if not alerts:
            return 0
        rows = [
            {
                "model": a.model,
                "ts": a.timestamp,
                "rule": a.rule,
                "severity": a.severity,
                "column": a.column,
                "method": a.method,
                "metric": a.metric,
                "value": a.value,
                "message": a.message,
                "details": a.details,
                "key": a.key,
            }
            for a in alerts
        ]
        c = t.alerts.c
        with self._tx("add_alerts") as conn:
            fresh: list[dict[str, Any]] = []
            keyed: dict[tuple[str, str], dict[str, Any]] = {}
            for row in rows:
                if row["key"] is None:
                    fresh.append(row)
                else:  # one per key, also within the batch
                    keyed.setdefault((str(row["model"]), str(row["key"])), row)
            for model in sorted({m for m, _ in keyed}):
                keys = [k for m, k in keyed if m == model]
                stored: set[str] = set()
                for start in range(0, len(keys), 500):
                    part = keys[start : start + 500]
                    stmt = select(c.key).where(c.model == model, c.key.in_(part))
                    stored.update(conn.execute(stmt).scalars())
                fresh.extend(keyed[(model, k)] for k in keys if k not in stored)
            plain = [r for r in fresh if r["key"] is None]
            unique = [r for r in fresh if r["key"] is not None]
            if plain:
                conn.execute(t.alerts.insert(), plain)
            if unique:  # a concurrent run may have stored the same key meanwhile
                conn.execute(eng.insert_ignore(t.alerts, self.dialect, ["model", "key"]), unique)
        return len(fresh)

    def list_alerts(self, model: str | None = None, limit: int = 100) -> list[AlertRow]:
        c = t.alerts.c
        stmt = select(t.alerts).order_by(c.ts.desc(), c.id.desc()).limit(limit)
        if model is not None:
            stmt = stmt.where(c.model == model)
        with self._tx("list_alerts") as conn:
            rows = conn.execute(stmt).all()
        return [
            AlertRow(
                model=r.model,
                timestamp=r.ts,
                rule=r.rule,
                message=r.message,
                column=r.column,
                method=r.method,
                metric=r.metric,
                value=r.value,
                severity=r.severity,
                details=r.details or {},
                key=r.key,
            )
            for r in rows
        ]

    # -- monitoring runs -------------------------------------------------------------------

    def start_run(self, model: str, trigger: str, started_at: datetime) -> int:
        row = {"model": model, "trigger": trigger, "status": "running", "started_at": started_at}
        with self._tx("start_run") as conn:
            res = conn.execute(t.monitoring_runs.insert().returning(t.monitoring_runs.c.id), row)
            return int(res.scalar_one())

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        finished_at: datetime,
        records: int | None = None,
        results: int | None = None,
        alerts: int | None = None,
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        values = {
            "status": status,
            "finished_at": finished_at,
            "records": records,
            "results": results,
            "alerts": alerts,
            "error": error,
            "details": details or {},
        }
        stmt = t.monitoring_runs.update().where(t.monitoring_runs.c.id == run_id).values(values)
        with self._tx("finish_run") as conn:
            conn.execute(stmt)

    def list_runs(self, model: str, limit: int = 10) -> list[MonitoringRun]:
        c = t.monitoring_runs.c
        stmt = (
            select(t.monitoring_runs)
            .where(c.model == model)
            .order_by(c.started_at.desc(), c.id.desc())
            .limit(limit)
        )
        with self._tx("list_runs") as conn:
            rows = conn.execute(stmt).all()
        return [
            MonitoringRun(
                id=int(r.id),
                model=r.model,
                trigger=r.trigger,
                status=r.status,
                started_at=r.started_at,
                finished_at=r.finished_at,
                records=r.records,
                results=r.results,
                alerts=r.alerts,
                error=r.error,
                details=r.details or {},
            )
            for r in rows
        ]
