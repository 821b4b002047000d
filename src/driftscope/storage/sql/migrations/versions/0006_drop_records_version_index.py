"""Drop the ``(model, model_version, ts)`` index on records.

Every query by version is also by model (and time): ``(model, ts)`` serves it with a
filter on ``model_version``. One B-tree insert less per stored row: on PostgreSQL
about 1.7 us of the server's 10 us per row (benchmarks/ingest, sixth round).
The downgrade builds the index again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_records_model_model_version_ts", table_name="records")


def downgrade() -> None:
    op.create_index(
        "ix_records_model_model_version_ts", "records", ["model", "model_version", "ts"]
    )
