"""SocketSink: turns the engine's committed events into Socket.IO emits to rooms."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from flask_socketio import SocketIO

from server.engine.events import CounterChanged, Event, QueueChanged, TicketCalled, TicketsChanged

from .names import Emit, Namespace, site_room, ticket_room
from .namespaces import Followers

log = logging.getLogger(__name__)


class Views(Protocol):
    """What the sink reads to fill its emits (the engine's `Queries`)."""

    def updated_views(
        self,
        moved: Collection[str],
        followed: Collection[str],
        lines: Collection[tuple[str, int]],
    ) -> dict[str, dict[str, Any]]:
        """`ticket_updated` bodies of the tickets a commit changed."""
        ...

    def hall_counter(self, code: str) -> dict[str, Any]:
        """One counter as the hall sees it."""
        ...

    def waiting_counts(self) -> dict[str, int]:
        """Waiting tickets per service code."""
        ...


#: queue_changed goes out at most this often per site; the last change is always sent.
QUEUE_INTERVAL_SECONDS = 0.1


class SocketSink:
    """The engine's EventSink for a running server; never lets a delivery error escape."""

    def __init__(self, socketio: SocketIO, followers: Followers) -> None:
        self.socketio = socketio
        self.followers = followers
        self.views: Views | None = None  # bound once the engine exists
        self._queue_lock = threading.Lock()
        self._queue_pending: set[int] = set()
        self._queue_sent_at: dict[int, float] = {}
        self._queue_last: dict[int, dict[str, int]] = {}
        self._tasks: list[Any] = []

    def publish(self, events: Sequence[Event]) -> None:
        """Emits each event to the rooms that care, in order."""
        try:
            for event in events:
                self._emit(event)
        except Exception:  # a display that misses one event redraws from `state` later
            log.exception("could not deliver events")

    def _emit(self, event: Event) -> None:
        """One event to its rooms."""
        emit = self.socketio.emit
        if isinstance(event, TicketCalled):
            emit(
                Emit.TICKET_CALLED.value,
                event.payload,
                namespace=Namespace.DISPLAY.value,
                to=site_room(event.site_id),
            )
        elif isinstance(event, QueueChanged):
            self._schedule_queue_changed(event.site_id)
        elif isinstance(event, TicketsChanged):
            assert self.views is not None
            followed = self.followers.codes()
            views = self.views.updated_views(event.lookup_codes, followed, event.lines)
            for code, body in views.items():
                emit(
                    Emit.TICKET_UPDATED.value,
                    body,
                    namespace=Namespace.TICKET.value,
                    to=ticket_room(code),
                )
        elif isinstance(event, CounterChanged):
            assert self.views is not None
            emit(
                Emit.COUNTER_CHANGED.value,
                self.views.hall_counter(event.counter_code),
                namespace=Namespace.DISPLAY.value,
                to=site_room(event.site_id),
            )

    def _schedule_queue_changed(self, site_id: int) -> None:
        """Sends the counts now if none went out lately, else once when the interval ends."""
        with self._queue_lock:
            if site_id in self._queue_pending:
                return  # the scheduled send will count this change too
            self._queue_pending.add(site_id)
        since = time.monotonic() - self._queue_sent_at.get(site_id, 0.0)
        delay = max(0.0, QUEUE_INTERVAL_SECONDS - since)
        task = self.socketio.start_background_task(self._send_queue_changed, site_id, delay)
        self._tasks = [t for t in self._tasks if _running(t)] + [task]

    def drain(self, timeout: float = 2.0) -> None:
        """Waits for scheduled sends (before the database closes, at shutdown or in tests)."""
        for task in self._tasks:
            task.join(timeout)
        self._tasks = []

    def _send_queue_changed(self, site_id: int, delay: float) -> None:
        """Counts after the pending flag is down, so no committed change goes unsent."""
        try:
            if delay:
                self.socketio.sleep(delay)
            with self._queue_lock:
                self._queue_pending.discard(site_id)
            self._queue_sent_at[site_id] = time.monotonic()
            assert self.views is not None
            waiting = self.views.waiting_counts()
            # A count can already include a commit whose own signal is still on its way; the
            # send that signal schedules then finds nothing new, and displays need no repeat.
            if self._queue_last.get(site_id) == waiting:
                return
            self._queue_last[site_id] = waiting
            self.socketio.emit(
                Emit.QUEUE_CHANGED.value,
                {"waiting": waiting},
                namespace=Namespace.DISPLAY.value,
                to=site_room(site_id),
            )
        except Exception:  # displays redraw from `state` on their next connect
            log.exception("could not send queue_changed")


def _running(task: Any) -> bool:
    """A thread (threading mode) or a greenlet (gevent) that has not finished."""
    if hasattr(task, "is_alive"):
        return bool(task.is_alive())
    return not getattr(task, "dead", True)
