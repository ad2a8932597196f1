"""Fresh databases for tests, copied from templates this process makes once: a SQLite file or
a throwaway PostgreSQL database, either just migrated or holding the demo center."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from server.engine.clock import SystemClock
from server.engine.engine import QueueEngine
from server.engine.events import CollectingSink
from server.engine.hours import ALWAYS_OPEN
from server.storage import catalog, migrate
from server.storage import demo as demo_center
from server.storage import tables as t
from server.storage.db import Database, normalise_url
from server.storage.repository import SqlRepository

#: The environment variable naming the PostgreSQL that tests may create databases on.
POSTGRES_ENV = "LUOT_TEST_POSTGRES_URL"
TIMEZONE = "Asia/Ho_Chi_Minh"

# This process's templates, made on first use: (backend, demo) -> SQLite path or database name.
_templates: dict[tuple[str, bool], str] = {}
_template_lock = threading.Lock()


def postgres_base_url() -> str | None:
    """The PostgreSQL named by LUOT_TEST_POSTGRES_URL, or None (those tests then skip)."""
    return os.environ.get(POSTGRES_ENV) or None


def _build(url: str, demo: bool) -> None:
    """Makes a new database what a template holds: migrated, and with demo, `prepare`d.
    Every connection is closed when it returns."""
    if demo:
        prepare(url)
        return
    db = Database(url)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()


def _sqlite_template(demo: bool) -> Path:
    """This process's template SQLite file, made on first use and removed at exit."""
    with _template_lock:
        if ("sqlite", demo) not in _templates:
            folder = Path(tempfile.mkdtemp(prefix="luot-templates-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / ("demo.db" if demo else "migrated.db")
            _build(f"sqlite:///{path}", demo)
            # Its last connection closed, SQLite moved the WAL into the file and deleted it,
            # so the file alone is the whole database and a copy of it is complete.
            assert not Path(f"{path}-wal").exists(), f"{path} was not closed cleanly"
            _templates["sqlite", demo] = str(path)
        return Path(_templates["sqlite", demo])


def fresh_sqlite(tmp_path: Path, demo: bool = False) -> str:
    """The URL of a new migrated SQLite file under tmp_path (with demo, `prepare`d too)."""
    path = tmp_path / f"luot-{secrets.token_hex(4)}.db"
    shutil.copyfile(_sqlite_template(demo), path)
    return f"sqlite:///{path}"


def _admin(base_url: str, sql: str) -> None:
    """Runs one statement that cannot run in a transaction (CREATE/DROP DATABASE)."""
    engine = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _with_database(base_url: str, name: str) -> str:
    """The base URL pointing at another database of the same server."""
    url = make_url(normalise_url(base_url)).set(database=name)
    return url.render_as_string(hide_password=False)


def _postgres_template(base_url: str, demo: bool) -> str:
    """The name of this process's template database, made on first use and dropped at exit."""
    with _template_lock:
        if ("postgres", demo) not in _templates:
            name = f"luot_tmpl_{secrets.token_hex(6)}"
            _admin(base_url, f'CREATE DATABASE "{name}"')
            atexit.register(_admin, base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            # CREATE DATABASE … TEMPLATE refuses a source with open sessions; _build leaves none.
            _build(_with_database(base_url, name), demo)
            _templates["postgres", demo] = name
        return _templates["postgres", demo]


def fresh_postgres(base_url: str, demo: bool = False) -> tuple[str, Callable[[], None]]:
    """A new migrated PostgreSQL database (with demo, `prepare`d too) copied from the template,
    and a callable dropping it."""
    template = _postgres_template(base_url, demo)
    name = f"luot_t_{secrets.token_hex(6)}"
    url = _with_database(base_url, name)
    try:
        _admin(base_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    except OperationalError:
        # Only when something holds a session on the template: build this one instead.
        _admin(base_url, f'CREATE DATABASE "{name}"')
        _build(url, demo)

    def drop() -> None:
        """Drops the database, closing any session still connected to it."""
        _admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def prepare(url: str, demo: bool = True) -> int:
    """Migrates, seeds the "default" site (the demo center) and opens every service always."""
    db = Database(url)
    try:
        migrate.upgrade(db)
        with db.write() as conn:
            name = demo_center.DEMO_NAME if demo else "Luot test center"
            site_id = catalog.ensure_site(conn, "default", name, TIMEZONE)
            if demo:
                demo_center.seed(conn, site_id)
            codes = list(
                conn.execute(select(t.services.c.code).where(t.services.c.site_id == site_id))
                .scalars()
                .all()
            )
        engine = QueueEngine(SqlRepository(db), SystemClock(), CollectingSink(), site_id=site_id)
        for code in codes:
            engine.update_service(code, hours=ALWAYS_OPEN, is_open=True)
    finally:
        db.dispose()
    return site_id


#: Parametrise a test over both databases; the PostgreSQL case skips without the variable.
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(postgres_base_url() is None, reason=f"{POSTGRES_ENV} is not set"),
        ],
    ),
]


def fresh(backend: str, tmp_path: Path, demo: bool = False) -> tuple[str, Callable[[], None]]:
    """A fresh migrated database of either kind (with demo, holding the demo center with every
    service open) and the callable that removes it."""
    if backend == "sqlite":
        return fresh_sqlite(tmp_path, demo), lambda: None
    base = postgres_base_url()
    if base is None:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return fresh_postgres(base, demo)
