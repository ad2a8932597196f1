"""ProcessLock: the writers of every process on one SQLite file take turns through the kernel.

SQLite's own write lock cannot be waited for under gevent (a wait inside C freezes the
worker), so a busy lock is retried with growing sleeps: with two server processes writing,
one process kept losing the race and its p99 passed 100 ms. An exclusive `flock` on a file
beside the database is taken first instead: the kernel wakes the waiter as soon as the
holder lets go. Under gevent the wait runs in gevent's threadpool, so the worker goes on
serving (and more writers join the waiting transaction).

The holder is always a writer inside one short transaction; the kernel drops the lock of a
process that dies, and gunicorn replaces a worker stuck for longer than its timeout.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path


class ProcessLock:
    """An exclusive lock across processes (and across `Database` objects of one process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0  # a forked child opens its own file: a shared one would not exclude

    def acquire(self) -> None:
        """Takes the lock, waiting for another holder without blocking gevent's hub."""
        fd = self._file()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if _gevent_patched():
            from gevent import get_hub

            get_hub().threadpool.apply(fcntl.flock, (fd, fcntl.LOCK_EX))
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)

    def release(self) -> None:
        """Lets the next process in."""
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Closes the file (which also releases the lock)."""
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._pid = os.getpid()
        return self._fd


def _gevent_patched() -> bool:
    """True under gunicorn's gevent worker (threading is monkey-patched there)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def lock_path(database: str | None) -> Path | None:
    """The lock file beside a SQLite database file (SQLAlchemy's `url.database`); None for an
    in-memory database."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    path = Path(database).expanduser()
    return path.with_name(path.name + "-writer.lock")
