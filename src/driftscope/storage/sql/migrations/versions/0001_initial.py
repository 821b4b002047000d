"""Initial schema: models, versions, records, ground truth, capture errors, reference
datasets, monitoring results, alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from driftscope.storage.sql.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def _json(name: str, nullable: bool = True) -> sa.Column[object]:
    kind = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    return sa.Column(name, kind, nullable=nullable)


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def _name(name: str, length: int = 200, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "models",
        _name("name"),
        _name("task", 64),
        _name("protocol", 64),
        _json("config", nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("name", name="pk_models"),
    )
    op.create_table(
        "model_versions",
        _id(),
        _name("model"),
        _name("version"),
        _ts("first_seen"),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.UniqueConstraint("model", "version", name="uq_model_versions_model_version"),
    )
    op.create_table(
        "records",
        _id(),
        _name("model"),
        _name("model_version", nullable=True),
        _name("request_id"),
        sa.Column("row_index", sa.Integer(), nullable=False),
        _ts("ts"),
        _json("features"),
        _json("prediction"),
        _json("scores"),
        _json("inputs"),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.UniqueConstraint(
            "model", "request_id", "row_index", name="uq_records_model_request_id_row_index"
        ),
    )
    op.create_index("ix_records_model_ts", "records", ["model", "ts"])
    op.create_index(
        "ix_records_model_model_version_ts", "records", ["model", "model_version", "ts"]
    )
    op.create_table(
        "ground_truth",
        _id(),
        _name("model"),
        _name("request_id"),
        sa.Column("row_index", sa.Integer(), nullable=False),
        _json("value"),
        _ts("ts"),
        _name("source", 64),
        sa.PrimaryKeyConstraint("id", name="pk_ground_truth"),
        sa.UniqueConstraint(
            "model", "request_id", "row_index", name="uq_ground_truth_model_request_id_row_index"
        ),
    )
    op.create_table(
        "capture_errors",
        _id(),
        _ts("ts"),
        _name("model"),
        _name("request_id"),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        _json("payloads"),
        sa.PrimaryKeyConstraint("id", name="pk_capture_errors"),
        sa.UniqueConstraint(
            "model", "request_id", "ts", name="uq_capture_errors_model_request_id_ts"
        ),
    )
    op.create_table(
        "reference_datasets",
        _id(),
        _name("model"),
        _ts("created_at"),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        _json("columns", nullable=False),
        sa.Column("parquet", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reference_datasets"),
    )
    op.create_index(
        "ix_reference_datasets_model_created_at", "reference_datasets", ["model", "created_at"]
    )
    op.create_table(
        "monitoring_results",
        _id(),
        _name("model"),
        _ts("run_at"),
        sa.Column("chunk_index", sa.Integer(), nullable=True),
        _name("chunk_key", nullable=True),
        _ts("chunk_start", nullable=True),
        _ts("chunk_end", nullable=True),
        sa.Column("n", sa.Integer(), nullable=True),
        _name("segment", nullable=True),
        _name("column", nullable=True),
        _name("method", 64, nullable=True),
        _name("metric", 64, nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("lower_threshold", sa.Float(), nullable=True),
        sa.Column("upper_threshold", sa.Float(), nullable=True),
        sa.Column("alert", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_monitoring_results"),
    )
    op.create_index("ix_monitoring_results_model_run_at", "monitoring_results", ["model", "run_at"])
    op.create_index(
        "ix_monitoring_results_model_metric_column_chunk_start",
        "monitoring_results",
        ["model", "metric", "column", "chunk_start"],
    )
    op.create_table(
        "alerts",
        _id(),
        _name("model"),
        _ts("ts"),
        _name("rule"),
        _name("severity", 32),
        _name("column", nullable=True),
        _name("method", 64, nullable=True),
        _name("metric", 64, nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        _json("details"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_model_ts", "alerts", ["model", "ts"])


def downgrade() -> None:
    for table in (
        "alerts",
        "monitoring_results",
        "reference_datasets",
        "capture_errors",
        "ground_truth",
        "records",
        "model_versions",
        "models",
    ):
        op.drop_table(table)
