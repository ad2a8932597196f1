"""Alembic's environment: runs migrations on the connection `luot init` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from server.storage.db import normalise_url
from server.storage.tables import metadata

config = context.config


def run() -> None:
    """Online migrations only: Luot always migrates a live database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(normalise_url(config.get_main_option("sqlalchemy.url") or ""))
    with engine.begin() as conn:
        _migrate(conn)


def _migrate(connection: object) -> None:
    """Batch mode lets SQLite alter tables by copying them."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
