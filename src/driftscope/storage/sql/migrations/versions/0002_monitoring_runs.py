"""Monitoring in the service: a run table for the status API, alert keys for dedup.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from driftscope.storage.sql.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("key", sa.String(400), nullable=True))
    op.create_index("ix_alerts_model_key", "alerts", ["model", "key"], unique=True)
    op.create_table(
        "monitoring_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=True),
        sa.Column("results", sa.Integer(), nullable=True),
        sa.Column("alerts", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name="pk_monitoring_runs"),
    )
    op.create_index(
        "ix_monitoring_runs_model_started_at", "monitoring_runs", ["model", "started_at"]
    )


def downgrade() -> None:
    op.drop_table("monitoring_runs")
    op.drop_index("ix_alerts_model_key", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("key")
