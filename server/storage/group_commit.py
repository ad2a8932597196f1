"""Group commit: writers that come while a write transaction is open share its commit.

SQLite in WAL with synchronous=FULL syncs its log at every commit, and under gevent the whole
worker waits for that sync. So one transaction serves every writer that is ready: each writer
runs alone on the connection inside its own savepoint (its error undoes only its own work),
and every writer of the transaction returns once the shared commit is durable. When a
writer finishes and nobody is waiting, the first writer (the leader) lets the other
greenlets run once; if still nobody comes, it commits. A transaction takes at most
MAX_WRITERS writers, so the commit of a busy moment is never put off for long.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection

#: Writers one transaction takes at most (each waits for all of them before it returns).
MAX_WRITERS = 32


@dataclass
class _Batch:
    """One open transaction and the writers that joined it."""

    ended: threading.Condition  # its writers wait here for the commit
    conn: Connection | None = None
    writers: int = 0
    closed: bool = False  # committing: nobody joins any more
    done: bool = False
    error: BaseException | None = None  # the commit failed: every writer gets this


class GroupCommit:
    """Hands out one write transaction at a time, shared by the writers ready to use it."""

    def __init__(
        self, begin: Callable[[], Connection], end: Callable[[Connection, bool], None]
    ) -> None:
        self._begin = begin  # a connection with its write transaction begun
        self._end_with = end  # takes the connection back (False: it may be broken)
        # Under gunicorn's gevent worker threading is monkey-patched: waiting yields. Each
        # waiter has its own condition, so a change wakes only whom it concerns (one wake-up
        # for all waiters cost a 16-kiosk burst ~5% of its time).
        self._lock = threading.RLock()  # an RLock knows its owner: a Lock is probed to notify
        self._turn = threading.Condition(self._lock)  # queued writers, for the connection
        self._leader = threading.Condition(self._lock)  # the leader, for its writers to end
        self._batch: _Batch | None = None
        self._running = False  # a writer (or the commit) has the connection
        self._queued = 0
        self.transactions = 0  # committed or rolled back, since start
        self.writers = 0

    @property
    def queued(self) -> int:
        """Writers waiting for the connection now."""
        return self._queued

    @contextmanager
    def writer(self) -> Iterator[Connection]:
        """The shared connection, inside this writer's savepoint; returns after the commit."""
        batch, leader = self._join()
        own_error: BaseException | None = None
        try:
            if leader:
                batch.conn = self._begin()
            assert batch.conn is not None
            driver = batch.conn.connection.driver_connection
            assert driver is not None
            driver.execute("SAVEPOINT luot_writer")
            try:
                yield batch.conn
            except BaseException as error:
                own_error = error
                driver.execute("ROLLBACK TO luot_writer")
            driver.execute("RELEASE luot_writer")
        except BaseException as error:  # no transaction, or the savepoint failed
            if batch.error is None and error is not own_error:
                batch.error = error
        finally:
            with self._lock:
                # A failed transaction takes nobody else; its writers all get its error.
                batch.closed = batch.closed or batch.error is not None
                self._running = False
                self._turn.notify()
                self._leader.notify()
        if leader:
            self._finish(batch)
        else:
            with self._lock:
                while not batch.done:
                    batch.ended.wait()
        if batch.error is not None:
            raise batch.error
        if own_error is not None:
            raise own_error

    def _join(self) -> tuple[_Batch, bool]:
        """Waits for the connection; joins the open transaction or starts one (as leader)."""
        with self._lock:
            self._queued += 1
            try:
                while self._running or not self._open(self._batch):
                    self._turn.wait()
            except BaseException:  # killed while it waits: the leader must stop counting on it
                self._queued -= 1
                self._leader.notify()
                self._turn.notify()  # the wake-up it may have taken goes to the next one
                raise
            self._queued -= 1
            self._running = True
            leader = self._batch is None
            if self._batch is None:
                self._batch = _Batch(threading.Condition(self._lock))
            self._batch.writers += 1
            self.writers += 1
            if not self._open(self._batch):  # full: its leader stops gathering and closes it
                self._leader.notify()
            return self._batch, leader

    @staticmethod
    def _open(batch: _Batch | None) -> bool:
        """No transaction (a writer starts one), or one that takes more writers."""
        return batch is None or not (batch.closed or batch.writers >= MAX_WRITERS)

    def _finish(self, batch: _Batch) -> None:
        """The leader takes in the writers that are ready, then commits (or rolls back).
        The transaction ends even if the leader is interrupted while it gathers (a greenlet
        killed at shutdown): the writers that joined have done their work and wait for it."""
        try:
            self._gather(batch)
        finally:
            self._close(batch)

    def _gather(self, batch: _Batch) -> None:
        """Lets the ready writers run in the open transaction until none comes any more."""
        while self._open(batch):  # not full, not failed (a failure closes it)
            time.sleep(0)  # let the other greenlets reach `writer()`
            with self._lock:
                if not self._queued and not self._running:
                    return
                # Until the connection is free and nobody waits, unless the transaction
                # takes nobody more (full, or failed: its queued writers wait for its end).
                while (self._queued or self._running) and self._open(batch):
                    self._leader.wait()

    def _close(self, batch: _Batch) -> None:
        """Takes the connection once the last writer is done, and ends the transaction. An
        interruption while a writer still runs waits for it, ends the transaction, and is
        raised after: a transaction left open would keep every later writer waiting."""
        interruption: BaseException | None = None
        with self._lock:
            batch.closed = True
            while self._running:
                try:
                    self._leader.wait()
                except BaseException as error:
                    interruption = interruption or error
            self._running = True
        try:
            if batch.conn is not None:
                self._end(batch)
        finally:
            with self._lock:
                self._batch, self._running, batch.done = None, False, True
                self.transactions += 1
                batch.ended.notify_all()
                self._turn.notify()  # the next leader
        if interruption is not None:
            raise interruption

    def _end(self, batch: _Batch) -> None:
        """Commits, or rolls back a failed transaction; a connection that cannot even roll
        back is discarded rather than handed to the next transaction."""
        conn = batch.conn
        assert conn is not None
        try:
            if batch.error is None:
                conn.commit()
        except BaseException as error:
            batch.error = error
        try:
            if batch.error is not None:
                conn.rollback()
                # A refused COMMIT (a deferred constraint) leaves SQLite's transaction open.
                driver = conn.connection.driver_connection
                if getattr(driver, "in_transaction", False):
                    driver.execute("ROLLBACK")  # type: ignore[union-attr]
        except BaseException:
            conn.invalidate()
        finally:
            self._end_with(conn, batch.error is None)  # always: it ends the process's turn
