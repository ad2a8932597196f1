"""no speed tables: waiting_lines and sites.catalog_version go

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 02:10:00

The waiting counts come from the tickets' line index (as fast for a center's few hundred
waiting tickets), and the catalogue is read in each transaction instead of cached.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Applies this revision."""
    op.drop_table("waiting_lines")
    # SQLite (3.35 and later) drops a column in place; a batch would copy the sites table,
    # which the other tables' foreign keys forbid.
    op.execute("ALTER TABLE sites DROP COLUMN catalog_version")


def downgrade() -> None:
    """Reverts this revision (the line counts are counted again from the tickets)."""
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("catalog_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "waiting_lines",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("target_counter_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_waiting_lines_site_id_sites")
        ),
        sa.PrimaryKeyConstraint(
            "site_id",
            "day",
            "service_id",
            "target_counter_id",
            "priority",
            name=op.f("pk_waiting_lines"),
        ),
    )
    op.execute(
        "INSERT INTO waiting_lines (site_id, day, service_id, target_counter_id, priority, waiting)"
        " SELECT site_id, day, service_id, COALESCE(target_counter_id, 0),"
        " CASE WHEN priority IS NULL THEN 0 ELSE 1 END, count(*)"
        " FROM tickets WHERE status = 'waiting'"
        " GROUP BY site_id, day, service_id, COALESCE(target_counter_id, 0),"
        " CASE WHEN priority IS NULL THEN 0 ELSE 1 END"
    )
