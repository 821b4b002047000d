"""Typed feature storage: packed float64 values plus a layout id for numeric rows.

Rows written before keep their JSON ``features`` and are read as before; new numeric
rows fill ``feature_layout`` / ``feature_values`` instead (storage/sql/typed.py).
The downgrade writes typed rows back into ``features`` before dropping the columns.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_layouts",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("layout", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_layouts"),
    )
    op.add_column("records", sa.Column("feature_layout", sa.BigInteger(), nullable=True))
    op.add_column("records", sa.Column("feature_values", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    import orjson

    from driftscope.storage.sql.typed import Layout, decode

    conn = op.get_bind()
    layouts = {
        int(i): Layout.from_json(v)
        for i, v in conn.execute(sa.text("SELECT id, layout FROM feature_layouts"))
    }
    select = sa.text(
        "SELECT id, feature_layout, feature_values FROM records "
        "WHERE feature_layout IS NOT NULL AND id > :after ORDER BY id LIMIT 5000"
    )
    update = sa.text("UPDATE records SET features = :f WHERE id = :id")
    after = 0
    while rows := conn.execute(select, {"after": after}).all():
        conn.execute(
            update,
            [
                {"id": r.id, "f": orjson.dumps(decode(layouts[int(r[1])], r[2])).decode()}
                for r in rows
            ],
        )
        after = rows[-1].id
    op.drop_column("records", "feature_values")
    op.drop_column("records", "feature_layout")
    op.drop_table("feature_layouts")
