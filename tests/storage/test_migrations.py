"""Alembic migrations build exactly tables.metadata, run twice safely, and SQLite is WAL+FULL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from server.engine.clock import SystemClock
from server.engine.engine import QueueEngine
from server.engine.events import CollectingSink
from server.storage import migrate
from server.storage import tables as t
from server.storage.db import Database
from server.storage.repository import SqlRepository
from tests import dbs


@pytest.fixture(params=dbs.BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database of each kind."""
    made, drop = dbs.fresh(request.param, tmp_path)
    yield made
    drop()


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    """A Database on the fresh database, disposed afterwards."""
    database = Database(url)
    yield database
    database.dispose()


def schema_diff(db: Database) -> list[Any]:
    """What autogenerate would change to make the live schema equal tables.metadata."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, t.metadata))


def revisions(db: Database) -> tuple[set[str], set[str]]:
    """The revisions the database is at, and the heads of the migration scripts."""
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    heads = set(ScriptDirectory.from_config(migrate.alembic_config(db)).get_heads())
    return current, heads


def test_migrations_produce_exactly_the_tables(db: Database) -> None:
    """compare_metadata finds nothing to change: migrations and tables.py agree."""
    assert schema_diff(db) == []
    current, heads = revisions(db)
    assert current == heads and len(heads) == 1


def test_upgrade_is_idempotent(url: str, db: Database) -> None:
    """A second (and third) upgrade changes nothing and keeps the data."""
    site_id = dbs.prepare(url)
    engine = QueueEngine(SqlRepository(db), SystemClock(), CollectingSink(), site_id=site_id)
    ticket, created = engine.issue("TPHT")
    assert created
    before = revisions(db)

    migrate.upgrade(db)
    assert dbs.prepare(url) == site_id  # the seed is idempotent too
    migrate.upgrade(db)

    assert revisions(db) == before
    assert schema_diff(db) == []
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.sites)).scalar_one() == 1
        services = conn.execute(select(func.count()).select_from(t.services)).scalar_one()
        assert services == 13
        numbers = conn.execute(select(t.tickets.c.number)).scalars().all()
    assert numbers == [ticket["number"]]


def test_diff_detects_drift(tmp_path: Path) -> None:
    """The comparison is not vacuous: a missing index shows up."""
    database = Database(dbs.fresh_sqlite(tmp_path))
    try:
        with database.write() as conn:
            conn.execute(text("DROP INDEX ix_tickets_line"))
        diff = schema_diff(database)
    finally:
        database.dispose()
    assert [d[0] for d in diff] == ["add_index"]
    assert diff[0][1].name == "ix_tickets_line"


def pragmas(conn: Any) -> tuple[str, int, int]:
    """journal_mode, synchronous and foreign_keys as SQLite reports them."""
    return (
        conn.exec_driver_sql("PRAGMA journal_mode").scalar_one(),
        conn.exec_driver_sql("PRAGMA synchronous").scalar_one(),
        conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one(),
    )


def test_sqlite_runs_in_wal_with_synchronous_full(tmp_path: Path) -> None:
    """Every connection Database hands out is WAL, synchronous=FULL (2), foreign keys on."""
    database = Database(dbs.fresh_sqlite(tmp_path))
    try:
        with database.write() as conn:
            assert pragmas(conn) == ("wal", 2, 1)
        with database.read() as conn:
            assert pragmas(conn) == ("wal", 2, 1)
        # A second pooled connection, opened while the first is checked out, is set up too.
        with database.engine.connect() as first, database.engine.connect() as second:
            assert pragmas(first) == pragmas(second) == ("wal", 2, 1)
    finally:
        database.dispose()
    # WAL is a property of the file: a plain connection sees it as well.
    path = Path(database.url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


def test_downgrade_below_0005_counts_the_lines_again(url: str) -> None:
    """0005 dropped the line counts; going back to 0004 counts them from the waiting tickets,
    and upgrading again drops them and keeps every ticket."""
    from alembic import command

    dbs.prepare(url)
    db = Database(url)
    try:
        engine = QueueEngine(SqlRepository(db), SystemClock(), CollectingSink())
        for code, priority in (("TPHT", None), ("TPHT", None), ("DD", None), ("TPHT", "elderly")):
            engine.issue(code, priority=priority)
        config = migrate.alembic_config(db)
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")
        with db.read() as conn:
            services = dict(conn.execute(select(t.services.c.code, t.services.c.id)).all())
            lines = {
                (r.service_id, r.target_counter_id, r.priority): r.waiting
                for r in conn.execute(
                    text(
                        "SELECT service_id, target_counter_id, priority, waiting FROM waiting_lines"
                    )
                )
            }
        tpht, dd = services["TPHT"], services["DD"]
        assert lines == {(tpht, 0, 0): 2, (tpht, 0, 1): 1, (dd, 0, 0): 1}
        migrate.upgrade(db)
        with db.read() as conn:
            assert conn.execute(select(func.count()).select_from(t.tickets)).scalar() == 4
            assert "waiting_lines" not in inspect(conn).get_table_names()
    finally:
        db.dispose()
