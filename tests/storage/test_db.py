"""Database: one write transaction at a time per process, safe under gevent on SQLite."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.engine.clock import SystemClock
from server.engine.engine import QueueEngine
from server.engine.events import CollectingSink
from server.storage import db as db_module
from server.storage import tables as t
from server.storage.db import Database, NestedWrite
from server.storage.repository import SqlRepository

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A Database on the fresh demo database (SQLite and PostgreSQL)."""
    database = Database(db_url)
    yield database
    database.dispose()


def sites(db: Database) -> int:
    """How many sites the database holds."""
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.sites)).scalar_one())


def test_a_nested_write_is_refused_at_once_and_the_outer_one_goes_on(db: Database) -> None:
    began = time.monotonic()
    with db.write() as conn:
        with pytest.raises(NestedWrite, match="inside another"), db.write():
            pass  # pragma: no cover - never entered
        conn.execute(t.sites.insert().values(code="second", name="Hai", timezone="UTC"))
    assert time.monotonic() - began < 5  # refused, not waited for (SQLite would wait for ever)
    assert sites(db) == 2
    with db.write():  # and the lock was let go
        pass


def test_a_nested_engine_command_is_refused(db: Database) -> None:
    engine = QueueEngine(SqlRepository(db), SystemClock(), CollectingSink())
    with db.write(), pytest.raises(NestedWrite):
        engine.issue("TPHT")
    view, created = engine.issue("TPHT")
    assert created and view["number"] == "A001"


def test_a_write_that_raises_keeps_nothing_and_the_next_one_works(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), db.write() as conn:
        conn.execute(t.sites.insert().values(code="lost", name="Mất", timezone="UTC"))
        _ = 1 / 0
    assert sites(db) == 1
    with db.write() as conn:
        conn.execute(t.sites.insert().values(code="kept", name="Giữ", timezone="UTC"))
    assert sites(db) == 2


# A gevent process (as under gunicorn) whose greenlets issue tickets while one ticks; the
# test holds SQLite's write lock from outside for a while first. It reports how its writes
# and its ticker fared.
GEVENT_WRITERS = """
from gevent import monkey; monkey.patch_all()
import gevent, json, sys, time
from server.engine.clock import SystemClock
from server.engine.engine import QueueEngine
from server.engine.events import CollectingSink
from server.storage.db import Database
from server.storage.repository import SqlRepository
db = Database(sys.argv[1])
engine = QueueEngine(SqlRepository(db), SystemClock(), CollectingSink())
ticks = 0
def tick():
    global ticks
    while True:
        ticks += 1
        gevent.sleep(0.005)
gevent.spawn(tick)
gevent.sleep(0.01)
print("writing", flush=True)
began, before = time.monotonic(), ticks
numbers = [g.value[0]["number"] for g in gevent.joinall(
    [gevent.spawn(engine.issue, "TPHT") for _ in range(20)], raise_error=True)]
print(json.dumps({"waited": time.monotonic() - began, "ticks": ticks - before,
                  "numbers": numbers}), flush=True)
db.dispose()
"""


@pytest.mark.sqlite_only
def test_gevent_writers_wait_for_another_process_without_freezing_the_worker(
    db_url: str,
) -> None:
    """timeout=0 and the cooperative retry: while another process holds the write lock, the
    greenlets wait in Python, the worker's other greenlets run, and every write lands once."""
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(GEVENT_WRITERS), db_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as writers:
        assert writers.stdout is not None
        assert writers.stdout.readline().strip() == "writing"
        time.sleep(0.5)
        holder.execute("ROLLBACK")
        report = json.loads(writers.stdout.readline())
        assert writers.wait(timeout=30) == 0
    holder.close()
    assert report["waited"] >= 0.4  # they did wait for the other process
    assert report["ticks"] >= 20  # and the worker's other greenlets ran meanwhile (~100 free)
    assert sorted(report["numbers"]) == [f"A{n:03d}" for n in range(1, 21)]


@pytest.mark.sqlite_only
def test_a_writer_that_cannot_begin_gives_up_and_lets_the_next_one_in(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program holding SQLite's write lock past the patience: the write fails with
    the lock error, and leaves this process's lock free for the next write."""
    monkeypatch.setattr(db_module, "LOCK_PATIENCE_SECONDS", 0.2)
    database = Database(db_url)
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(db_module.BUSY_ERRORS, match="locked"), database.write():
            pass  # pragma: no cover - never entered
        holder.execute("ROLLBACK")
        with database.write() as conn:
            conn.execute(t.sites.insert().values(code="after", name="Sau", timezone="UTC"))
        assert sites(database) == 2
    finally:
        holder.close()
        database.dispose()
