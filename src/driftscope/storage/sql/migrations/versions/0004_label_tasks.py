"""Labeling-tool tasks: which records were sent to which tool, project and task.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from driftscope.storage.sql.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_tasks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("task_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_label_tasks"),
        sa.UniqueConstraint(
            "model",
            "request_id",
            "row_index",
            "tool",
            name="uq_label_tasks_model_request_id_row_index_tool",
        ),
    )
    op.create_index("ix_label_tasks_model_status", "label_tasks", ["model", "status"])


def downgrade() -> None:
    op.drop_index("ix_label_tasks_model_status", table_name="label_tasks")
    op.drop_table("label_tasks")
