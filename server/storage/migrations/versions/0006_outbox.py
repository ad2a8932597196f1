"""outbox: the events of each command, with the site's sequence numbers

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 02:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.storage.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Applies this revision."""
    op.add_column("sites", sa.Column("event_seq", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "outbox",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_outbox_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "seq", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_kind", "outbox", ["site_id", "kind", "seq"], unique=False)


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_index("ix_outbox_kind", table_name="outbox")
    op.drop_table("outbox")
    op.execute("ALTER TABLE sites DROP COLUMN event_seq")
