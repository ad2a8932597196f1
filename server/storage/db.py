"""Database engines: SQLite in WAL with synchronous=FULL, or PostgreSQL, from one URL; one
write transaction at a time per process."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

#: How long a writer keeps trying to take SQLite's write lock held by another process.
LOCK_PATIENCE_SECONDS = 30.0


def normalise_url(url: str) -> str:
    """postgresql:// and postgres:// use psycopg 3; sqlite:/// paths get their folder made."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url[len("sqlite:///") :]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded database."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine set up for Luot's transactions on either database."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # timeout=0: a busy file lock must never block inside C (it would freeze gevent);
        # writers wait for it in Python instead, see `sqlite_write`.
        engine = create_engine(
            url, connect_args={"timeout": 0, "check_same_thread": False}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL with synchronous=FULL: an issued ticket survives a power cut."""
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    # Another process closing its last connection (a checkpoint) can hold the file briefly.
    patiently(lambda: cursor.execute("PRAGMA journal_mode=WAL"), sqlite3.OperationalError)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


#: What a busy SQLite lock raises: the driver's error, or SQLAlchemy's wrapping of it.
BUSY_ERRORS = (sqlite3.OperationalError, OperationalError)


def patiently(
    attempt: Callable[[], Any],
    error: type[Exception] | tuple[type[Exception], ...],
    undo: Callable[[], Any] = lambda: None,
) -> Any:
    """Retries an attempt while SQLite reports a busy lock, sleeping in Python (gevent yields)."""
    deadline = time.monotonic() + LOCK_PATIENCE_SECONDS
    pause = 0.0005
    while True:
        try:
            return attempt()
        except error as failure:
            if not _busy(failure) or time.monotonic() > deadline:
                raise
            undo()
            time.sleep(pause)
            pause = min(pause * 2, 0.02)


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN IMMEDIATE for writes: take the write lock first, never upgrade a read lock."""
    write = conn.get_execution_options().get("luot_write", False)
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # straight to sqlite3: it is hot


def _busy(error: Exception) -> bool:
    """SQLite said another connection holds the lock."""
    message = str(getattr(error, "orig", error)).lower()
    return "locked" in message or "busy" in message


class NestedWrite(RuntimeError):
    """A write transaction was asked for inside another one of the same thread (or greenlet).

    On SQLite it would wait for ever for the lock its own outer transaction holds, and on
    PostgreSQL for its own row lock: it is refused at once instead."""


class Database:
    """An Engine whose write transactions run one at a time in the process."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **kwargs)
        self.sqlite = is_sqlite(self.engine)
        # Under gunicorn's gevent worker threading is monkey-patched, so a writer that waits
        # for this lock lets the worker's other greenlets run.
        self._lock = threading.Lock()
        self._writer: int | None = None  # the thread (or greenlet) inside `write`

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: this process's lock, then the database's (BEGIN IMMEDIATE
        on SQLite, retried while another process writes); committed when the block ends,
        rolled back if it raises."""
        me = threading.get_ident()
        if self._writer == me:
            raise NestedWrite("a write transaction cannot open inside another one")
        with self._lock:
            self._writer = me
            try:
                with self.engine.connect().execution_options(luot_write=True) as conn:
                    if self.sqlite:
                        patiently(conn.begin, BUSY_ERRORS, conn.rollback)
                    else:
                        conn.begin()
                    try:
                        yield conn
                    except BaseException:
                        conn.rollback()
                        raise
                    conn.commit()
            finally:
                self._writer = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one snapshot (SQLite's WAL; REPEATABLE READ on PostgreSQL)."""
        with self.engine.connect() as conn:
            if not self.sqlite:  # one snapshot for the whole read, as SQLite's WAL gives
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            if self.sqlite:
                # Take the WAL snapshot now, retrying through a checkpoint's brief lock.
                def begin() -> None:
                    conn.begin()
                    conn.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1")

                patiently(begin, BUSY_ERRORS, conn.rollback)
            else:
                conn.begin()
            try:
                yield conn
            finally:
                conn.rollback()  # nothing to keep: a read never commits

    def ping(self) -> None:
        """Raises if the database does not answer."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Closes the pooled connections."""
        self.engine.dispose()
