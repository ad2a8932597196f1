"""SocketSink: turns the engine's committed events into Socket.IO emits to rooms."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from flask_socketio import SocketIO

from server.engine.events import CounterChanged, Event, QueueChanged, TicketCalled, TicketsChanged

from .names import Emit, Namespace, site_room, ticket_room

log = logging.getLogger(__name__)


class Views(Protocol):
    """What the sink reads to fill its emits (the engine's read side)."""

    def public_views(
        self, lookup_codes: Sequence[str], lines: Sequence[tuple[str, int]]
    ) -> dict[str, dict[str, Any]]:
        """Public views of tickets and lines."""
        ...

    def counter_view(self, code: str) -> dict[str, Any]:
        """One counter's view."""
        ...


class SocketSink:
    """The engine's EventSink for a running server; never lets a delivery error escape."""

    def __init__(self, socketio: SocketIO) -> None:
        self.socketio = socketio
        self.views: Views | None = None  # bound once the engine exists

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
            emit(
                Emit.QUEUE_CHANGED.value,
                {"waiting": event.waiting},
                namespace=Namespace.DISPLAY.value,
                to=site_room(event.site_id),
            )
        elif isinstance(event, TicketsChanged):
            assert self.views is not None
            views = self.views.public_views(event.lookup_codes, event.lines)
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
                self.views.counter_view(event.counter_code),
                namespace=Namespace.DISPLAY.value,
                to=site_room(event.site_id),
            )
