"""Record payloads as plain JSON on PostgreSQL (faster bulk loads; never queried inside).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ("features", "prediction", "scores", "inputs")


def _retype(to: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps JSON as text either way
    for col in COLUMNS:
        op.execute(f"ALTER TABLE records ALTER COLUMN {col} TYPE {to} USING {col}::{to}")


def upgrade() -> None:
    _retype("json")


def downgrade() -> None:
    _retype("jsonb")
