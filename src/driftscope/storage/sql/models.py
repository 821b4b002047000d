"""The database schema (SQLAlchemy Core tables), one for SQLite and PostgreSQL.

JSON columns are JSONB on PostgreSQL, except the record payloads (plain JSON, see
``RecordJSON``). Numeric features are stored typed (``feature_layout`` /
``feature_values``, migration 0005, see ``typed.py``). Times are stored in UTC and read back
as timezone-aware datetimes. The migrations in ``migrations/versions`` create
exactly these tables; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: An auto-incrementing key on both dialects (SQLite needs INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")
JSONType = JSON().with_variant(JSONB(), "postgresql")
NAME = 200
#: Record payloads are plain JSON on PostgreSQL too (migration 0003): they are bulk-loaded
#: with COPY and read whole, never queried inside, and COPY into ``json`` skips the
#: conversion to JSONB's binary form (measured about 1.6x faster; benchmarks/ingest).
RecordJSON = JSON()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


models = Table(
    "models",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("task", String(64), nullable=False),
    Column("protocol", String(64), nullable=False),
    Column("config", JSONType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("version", String(NAME), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    UniqueConstraint("model", "version"),
)

records = Table(
    "records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("model_version", String(NAME)),
    Column("request_id", String(NAME), nullable=False),
    Column("row_index", Integer, nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("features", RecordJSON),
    # typed features (0005): packed float64 values and their layout (storage/sql/typed.py);
    # set instead of ``features`` when every feature is a number or None
    Column("feature_layout", BigInteger),
    Column("feature_values", LargeBinary),
    Column("prediction", RecordJSON),
    Column("scores", RecordJSON),
    Column("inputs", RecordJSON),
    Column("latency_ms", Float),
    Column("status", Integer),
    Column("error", Text),
    # also the index the ground-truth join uses (by request id)
    UniqueConstraint("model", "request_id", "row_index"),
    # also serves queries by model and version (a filter on model_version): the
    # (model, model_version, ts) index cost a B-tree insert per row (dropped in 0006)
    Index(None, "model", "ts"),
)

#: Layouts of typed feature rows (0005): names in order and int positions, keyed by the
#: first 63 bits of the SHA-256 of ``layout`` (no foreign key: one check per row on COPY).
feature_layouts = Table(
    "feature_layouts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("layout", JSONType, nullable=False),
)

ground_truth = Table(
    "ground_truth",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("request_id", String(NAME), nullable=False),
    Column("row_index", Integer, nullable=False),
    Column("value", JSONType),
    Column("ts", UTCDateTime(), nullable=False),
    Column("source", String(64), nullable=False),
    UniqueConstraint("model", "request_id", "row_index"),
)

capture_errors = Table(
    "capture_errors",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("model", String(NAME), nullable=False),
    Column("request_id", String(NAME), nullable=False),
    Column("status", Integer),
    Column("message", Text, nullable=False),
    Column("payloads", JSONType),  # blob refs of the raw request and response
    # one row per exchange, however often its segment is replayed
    UniqueConstraint("model", "request_id", "ts"),
)

reference_datasets = Table(
    "reference_datasets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("columns", JSONType, nullable=False),
    Column("parquet", LargeBinary, nullable=False),
    Index(None, "model", "created_at"),
)

monitoring_results = Table(
    "monitoring_results",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("run_at", UTCDateTime(), nullable=False),
    Column("chunk_index", Integer),
    Column("chunk_key", String(NAME)),
    Column("chunk_start", UTCDateTime()),
    Column("chunk_end", UTCDateTime()),
    Column("n", Integer),
    Column("segment", String(NAME)),
    Column("column", String(NAME)),
    Column("method", String(64)),
    Column("metric", String(64)),
    Column("value", Float),
    Column("p_value", Float),
    Column("lower_threshold", Float),
    Column("upper_threshold", Float),
    Column("alert", Boolean),
    Index(None, "model", "run_at"),
    Index(None, "model", "metric", "column", "chunk_start"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("rule", String(NAME), nullable=False),
    Column("severity", String(32), nullable=False),
    Column("column", String(NAME)),
    Column("method", String(64)),
    Column("metric", String(64)),
    Column("value", Float),
    Column("message", Text, nullable=False),
    Column("details", JSONType),
    # what the alert is about (rule, series, chunk or record): raised once per key (0002)
    Column("key", String(2 * NAME)),
    Index(None, "model", "ts"),
    Index(None, "model", "key", unique=True),
)

#: Records sent to a labeling tool (0004): one row per record and tool, the tool's task id
#: once created; ``status`` is ``pending``, ``sent``, ``labeled`` or ``failed``.
label_tasks = Table(
    "label_tasks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("request_id", String(NAME), nullable=False),
    Column("row_index", Integer, nullable=False),
    Column("tool", String(64), nullable=False),
    Column("project", String(NAME), nullable=False),
    Column("task_id", String(NAME)),
    Column("status", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("model", "request_id", "row_index", "tool"),
    Index(None, "model", "status"),
)

#: One row per monitoring run of one model (scheduled or on demand), for the status API.
monitoring_runs = Table(
    "monitoring_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model", String(NAME), nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("records", Integer),
    Column("results", Integer),
    Column("alerts", Integer),
    Column("error", Text),
    Column("details", JSONType),
    Index(None, "model", "started_at"),
)
