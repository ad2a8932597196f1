"""Group commit on SQLite: writers share a transaction, yet each one's error stays its own."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from server.engine.clock import SystemClock
from server.engine.engine import QueueEngine
from server.engine.events import CollectingSink
from server.storage.db import Database
from server.storage.repository import SqlRepository
from tests import dbs

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A SQLite file with a parent table and a child table whose key is checked at commit."""
    database = Database(f"sqlite:///{tmp_path / 'group.db'}")
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY, who TEXT)")
        conn.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER"
            " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
    yield database
    database.dispose()


def rows(db: Database, table: str) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(text(f"SELECT * FROM {table} ORDER BY id")))


def in_one_transaction(db: Database, first: Callable[[Any], None], second: Callable[[Any], None]):
    """Runs `first` as the leader and `second` as a writer that joins its transaction;
    returns what each raised (None when it returned)."""
    outcome: dict[str, BaseException | None] = {}
    second_waits = threading.Event()

    def run(name: str, body: Callable[[Any], None], hold: bool) -> None:
        try:
            with db.write() as conn:
                body(conn)
                if hold:  # keep the connection until the other writer queues for it
                    second_waits.wait(5)
            outcome[name] = None
        except BaseException as error:
            outcome[name] = error

    leader = threading.Thread(target=run, args=("first", first, True))
    leader.start()
    until(lambda: db.group.writers >= 1)
    follower = threading.Thread(target=run, args=("second", second, False))
    follower.start()
    until(lambda: db.group.queued >= 1)
    second_waits.set()
    leader.join(10)
    follower.join(10)
    return outcome["first"], outcome["second"]


def insert(who: str) -> Callable[[Any], None]:
    return lambda conn: conn.execute(text("INSERT INTO parent (who) VALUES (:w)"), {"w": who})


def until(condition: Callable[[], bool]) -> None:
    """Waits for another thread to bring the condition about."""
    while not condition():
        time.sleep(0.001)


def writer_thread(
    db: Database, outcome: dict[str, BaseException | None], name: str, body: Callable[[Any], None]
) -> threading.Thread:
    """A daemon thread running `body` as one writer, recording what it raised under `name`
    (a writer left waiting then fails its test, not the whole run)."""

    def write() -> None:
        try:
            with db.write() as conn:
                body(conn)
            outcome[name] = None
        except BaseException as error:
            outcome[name] = error

    return threading.Thread(target=write, daemon=True)


def test_a_failing_writer_undoes_only_its_own_work(db: Database) -> None:
    def fails(conn: Any) -> None:
        insert("second")(conn)
        raise ValueError("refused")

    first, second = in_one_transaction(db, insert("first"), fails)
    assert first is None
    assert isinstance(second, ValueError)
    assert [r.who for r in rows(db, "parent")] == ["first"]
    assert (db.group.transactions, db.group.writers) == (1, 2)


def test_a_failed_commit_fails_every_writer_and_keeps_nothing(db: Database) -> None:
    def orphan(conn: Any) -> None:
        conn.execute(text("INSERT INTO child (parent_id) VALUES (999)"))  # refused at COMMIT

    first, second = in_one_transaction(db, insert("first"), orphan)
    assert first is not None and "FOREIGN KEY" in str(first)
    assert second is first
    assert rows(db, "parent") == [] and rows(db, "child") == []
    assert db.group.transactions == 1
    with db.write() as conn:  # the next transaction works
        insert("after")(conn)
    assert [r.who for r in rows(db, "parent")] == ["after"]


def test_concurrent_issuers_share_commits_and_numbers_stay_exact(tmp_path: Path) -> None:
    url, drop = dbs.fresh("sqlite", tmp_path)
    dbs.prepare(url)
    db = Database(url)
    engine = QueueEngine(SqlRepository(db), SystemClock(), CollectingSink())
    numbers: list[str] = []
    start = threading.Barrier(8)

    def issuer() -> None:
        start.wait()
        for _ in range(25):
            numbers.append(engine.issue("TPHT")[0]["number"])

    threads = [threading.Thread(target=issuer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, 201)]
    assert db.group.writers == 200
    assert db.group.transactions < 200  # some commits were shared
    db.dispose()
    drop()


def test_an_interrupted_leader_still_ends_its_transaction(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leader killed while it waits for more writers (gevent kills greenlets at shutdown)
    still commits what its transaction holds, and the next transaction works."""
    from server.storage import group_commit

    def killed(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(group_commit.time, "sleep", killed)
    with pytest.raises(KeyboardInterrupt), db.write() as conn:
        insert("interrupted")(conn)
    monkeypatch.undo()
    assert [r.who for r in rows(db, "parent")] == ["interrupted"]
    with db.write() as conn:
        insert("next")(conn)
    assert [r.who for r in rows(db, "parent")] == ["interrupted", "next"]
    assert (db.group.transactions, db.group.writers) == (2, 2)


def test_a_transaction_takes_at_most_max_writers(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten writers queued behind a busy one go in transactions of at most MAX_WRITERS."""
    from server.storage import group_commit

    monkeypatch.setattr(group_commit, "MAX_WRITERS", 3)
    sizes: list[int] = []  # writers in each transaction, read as it commits
    event.listen(db.engine, "commit", lambda _conn: sizes.append(db.group.writers - sum(sizes)))
    everyone_queued = threading.Event()

    def write(n: int) -> None:
        with db.write() as conn:
            insert(f"w{n}")(conn)
            if n == 0:  # the first one holds the connection until the others wait for it
                everyone_queued.wait(10)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(10)]
    threads[0].start()
    until(lambda: db.group.writers >= 1)
    for thread in threads[1:]:
        thread.start()
    until(lambda: db.group.queued >= 9)
    everyone_queued.set()
    for thread in threads:
        thread.join(10)
    assert sum(sizes) == 10 and max(sizes) == 3, sizes
    assert len(rows(db, "parent")) == 10


def test_a_transaction_broken_by_one_writer_ends_and_the_queued_writer_goes_on(
    db: Database,
) -> None:
    """A writer that breaks the shared transaction itself (here: a raw ROLLBACK, so its
    savepoint is gone) fails the transaction for all of its writers; a writer queued
    meanwhile is not left waiting for it, and runs in the next transaction."""
    outcome: dict[str, BaseException | None] = {}
    queued = threading.Event()

    def leader_body(conn: Any) -> None:
        insert("leader")(conn)
        queued.wait(10)  # hold the connection until both others wait for it

    def breaks(conn: Any) -> None:
        conn.exec_driver_sql("ROLLBACK")

    threads = {
        "leader": writer_thread(db, outcome, "leader", leader_body),
        "breaks": writer_thread(db, outcome, "breaks", breaks),
        "later": writer_thread(db, outcome, "later", insert("later")),
    }
    threads["leader"].start()
    until(lambda: db.group.writers >= 1)
    threads["breaks"].start()
    until(lambda: db.group.queued >= 1)
    threads["later"].start()
    until(lambda: db.group.queued >= 2)
    queued.set()
    for thread in threads.values():
        thread.join(5)
    assert not any(t.is_alive() for t in threads.values()), "a writer was left waiting"
    assert outcome["leader"] is not None and outcome["breaks"] is outcome["leader"]
    assert outcome["later"] is None
    assert [r.who for r in rows(db, "parent")] == ["later"]


def test_a_leader_interrupted_while_a_writer_runs_still_ends_the_transaction(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leader of a full transaction is interrupted while it waits for the last writer
    to finish: it still commits for that writer, then raises; the next writer goes on."""
    from server.storage import group_commit

    monkeypatch.setattr(group_commit, "MAX_WRITERS", 2)
    interrupted = threading.Event()

    class InterruptedOnce(threading.Condition):
        """The leader's condition; its first wait in `_close` is interrupted."""

        def wait(self, timeout: float | None = None) -> bool:
            if sys._getframe(1).f_code.co_name == "_close" and not interrupted.is_set():
                interrupted.set()
                raise KeyboardInterrupt
            return super().wait(timeout)

    outcome: dict[str, BaseException | None] = {}
    follower_runs, release = threading.Event(), threading.Event()

    def leader_body(conn: Any) -> None:
        insert("leader")(conn)
        until(lambda: db.group.queued >= 1)  # hold the connection until the follower waits
        db.group._leader = InterruptedOnce(db.group._lock)

    def follower_body(conn: Any) -> None:
        insert("follower")(conn)
        follower_runs.set()
        release.wait(10)  # still running when the leader, its transaction full, closes it

    leader = writer_thread(db, outcome, "leader", leader_body)
    follower = writer_thread(db, outcome, "follower", follower_body)
    leader.start()
    until(lambda: db.group.writers >= 1)
    follower.start()
    follower_runs.wait(10)
    interrupted.wait(10)  # the leader was interrupted while the follower still ran
    release.set()
    leader.join(5)
    follower.join(5)
    assert not leader.is_alive() and not follower.is_alive()
    assert isinstance(outcome["leader"], KeyboardInterrupt)
    assert outcome["follower"] is None
    assert [r.who for r in rows(db, "parent")] == ["leader", "follower"]
    with db.write() as conn:  # the next transaction works
        insert("next")(conn)
    assert [r.who for r in rows(db, "parent")] == ["leader", "follower", "next"]
