"""ProcessLock: writers of several processes take turns, and a waiting gevent worker runs on."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from server.storage import db as db_module
from server.storage.db import Database
from server.storage.process_lock import ProcessLock, lock_path

ROOT = Path(__file__).resolve().parents[2]

# A gevent process (as under gunicorn) that waits for the lock held by the test, while one of
# its greenlets ticks; it reports how long it waited and how often the greenlet ran meanwhile.
WAITER = """
from gevent import monkey; monkey.patch_all()
import gevent, json, sys, time
from pathlib import Path
from server.storage.process_lock import ProcessLock
ticks = 0
def tick():
    global ticks
    while True:
        ticks += 1
        gevent.sleep(0.005)
gevent.spawn(tick)
gevent.sleep(0.01)
lock = ProcessLock(Path(sys.argv[1]))
print("waiting", flush=True)
began, before = time.monotonic(), ticks
lock.acquire()
print(json.dumps({"waited": time.monotonic() - began, "ticks": ticks - before}), flush=True)
lock.release()
"""


def test_a_gevent_process_waits_for_the_holder_and_keeps_serving_meanwhile(tmp_path: Path):
    held = ProcessLock(tmp_path / "db-writer.lock")
    held.acquire()
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WAITER), str(tmp_path / "db-writer.lock")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as waiter:
        assert waiter.stdout is not None
        assert waiter.stdout.readline().strip() == "waiting"
        time.sleep(0.5)
        held.release()
        report = json.loads(waiter.stdout.readline())
        assert waiter.wait(timeout=10) == 0
    assert report["waited"] >= 0.4  # it did wait for the holder
    assert report["ticks"] >= 20  # and its other greenlets ran while it waited (~100 if free)


def test_a_forked_child_takes_its_own_turn(tmp_path: Path) -> None:
    lock = ProcessLock(tmp_path / "db-writer.lock")
    lock.acquire()  # the file is open before the fork: the child must not share its lock
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: it may only get the lock once the parent lets go
        os.close(read)
        lock.acquire()
        os.write(write, b"%f" % time.monotonic())
        os._exit(0)
    os.close(write)
    time.sleep(0.3)
    released_at = time.monotonic()
    lock.release()
    got_at = float(os.read(read, 64))
    os.waitpid(pid, 0)
    assert got_at >= released_at


def test_the_lock_file_lies_beside_the_database_and_memory_has_none(tmp_path: Path) -> None:
    assert lock_path(str(tmp_path / "luot.db")) == tmp_path / "luot.db-writer.lock"
    assert lock_path(":memory:") is None and lock_path(None) is None and lock_path("") is None
    db = Database(f"sqlite:///{tmp_path / 'luot.db'}")
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    assert (tmp_path / "luot.db-writer.lock").exists()
    db.dispose()


def test_a_writer_that_cannot_begin_ends_its_turn(tmp_path: Path, monkeypatch) -> None:
    """Another program (sqlite-utils, say) holds SQLite's write lock longer than a writer's
    patience: the writer fails, and its turn must end with it, or every other process of
    the center would wait for ever."""
    url = f"sqlite:///{tmp_path / 'luot.db'}"
    db = Database(url)
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    foreign = sqlite3.connect(tmp_path / "luot.db", isolation_level=None)
    foreign.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(db_module, "LOCK_PATIENCE_SECONDS", 0.2)
    with pytest.raises(db_module.BUSY_ERRORS, match="locked"), db.write() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    foreign.rollback()
    foreign.close()
    free = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(tmp_path / "luot.db-writer.lock")], timeout=10
    )
    assert free.returncode == 0  # another process gets the turn at once
    with db.write() as conn:  # and this one goes on writing
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    db.dispose()


TRY_LOCK = "import fcntl, sys; fcntl.flock(open(sys.argv[1], 'a'), fcntl.LOCK_EX | fcntl.LOCK_NB)"
