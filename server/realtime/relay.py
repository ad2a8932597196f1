"""Relay: reads the site's outbox after its own cursor and emits each event to the clients
connected to this process.

Every server process runs one. A commit in this process wakes it at once (it is the engine's
EventSink); the commits of other processes and of `luot` commands reach it at its next poll.
Nothing depends on a message queue delivering: a process that missed a wake-up, or a client
that missed an event, finds it in the outbox by its sequence number.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from flask_socketio import SocketIO

from server.engine.events import BROADCAST, Event, Kind
from server.engine.queries import Queries

from .names import Emit, Namespace, site_room, ticket_room
from .namespaces import Followers

log = logging.getLogger(__name__)

#: How often a relay looks for the commits of other processes.
POLL_SECONDS = 0.25
#: queue_changed goes out at most this often per site; the last counts are always sent.
QUEUE_INTERVAL_SECONDS = 0.1


class Relay:
    """One process's reader of the outbox; `publish` wakes it."""

    def __init__(self, socketio: SocketIO, followers: Followers) -> None:
        self.socketio = socketio
        self.followers = followers
        self.outbox: Queries | None = None  # bound once the engine exists
        self.cursor: int | None = None  # the last sequence number emitted
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one catch-up at a time
        self._queue: Event | None = None  # the latest counts, held back by the interval
        self._queue_sent_at = 0.0

    def publish(self, events: Sequence[Event]) -> None:
        """A commit of this process stored events: read them now."""
        if events:
            self._wake.set()

    def start_at_the_end(self) -> None:
        """Sets the cursor after the site's last event (a process starting owes its clients
        nothing: each gets the whole `state` when it connects)."""
        assert self.outbox is not None
        self.cursor = self.outbox.last_seq()

    def run(self) -> None:
        """Catches up whenever woken or polled, for as long as the process lives."""
        while True:
            wait = QUEUE_INTERVAL_SECONDS if self._queue is not None else POLL_SECONDS
            self._wake.wait(wait)
            self._wake.clear()
            try:
                self.catch_up()
            except Exception:  # a database hiccup: the events wait in the outbox meanwhile
                log.exception("could not read the outbox")
                time.sleep(POLL_SECONDS)

    def catch_up(self, flush: bool = False) -> None:
        """Emits every event after the cursor, in order; the counts of a burst go out once
        per interval (all of them when `flush`)."""
        assert self.outbox is not None
        with self._lock:
            if self.cursor is None:
                self.start_at_the_end()
            while True:
                assert self.cursor is not None
                batch = self.outbox.events_after(self.cursor)
                for event in batch:
                    try:
                        self._emit(event)
                    except Exception:  # one event that cannot be sent must not stop the rest
                        log.exception("could not send event %s (%s)", event.seq, event.kind)
                    self.cursor = event.seq
                if len(batch) < 500:
                    break
            due = time.monotonic() - self._queue_sent_at >= QUEUE_INTERVAL_SECONDS
            if self._queue is not None and (due or flush):
                self._send(self._queue)
                self._queue, self._queue_sent_at = None, time.monotonic()

    def drain(self) -> None:
        """Emits everything stored so far, the counts held back included (tests use it)."""
        self.catch_up(flush=True)

    def _emit(self, event: Event) -> None:
        """One event to this process's clients that care."""
        if event.kind == Kind.QUEUE_CHANGED:
            self._queue = event  # a later count replaces it: each one counts every line
        elif event.kind in BROADCAST:
            if self._queue is not None:  # held counts first: clients see seq only grow
                self._send(self._queue)
                self._queue, self._queue_sent_at = None, time.monotonic()
            self._send(event)
        elif event.kind == Kind.TICKETS_CHANGED:
            self._tickets_updated(event)

    def _send(self, event: Event) -> None:
        """A broadcast event to the site's displays, with its sequence number."""
        assert self.outbox is not None
        self.socketio.emit(
            event.kind.value,
            {**event.payload, "seq": event.seq},
            namespace=Namespace.DISPLAY.value,
            to=site_room(self.outbox.site_id),
        )

    def _tickets_updated(self, event: Event) -> None:
        """`ticket_updated` for the followed tickets the event moved or whose line changed."""
        followed = self.followers.codes()
        if not followed:
            return
        assert self.outbox is not None
        moved = followed.intersection(event.payload["moved"])
        lines = {(kind, ident) for kind, ident in event.payload["lines"]}
        for code, body in self.outbox.updated_views(moved, followed, lines).items():
            self.socketio.emit(
                Emit.TICKET_UPDATED.value,
                body,
                namespace=Namespace.TICKET.value,
                to=ticket_room(code),
            )
