"""Socket.IO namespaces as classes: /display (public, read-only) and /ticket (by lookup code)."""

from __future__ import annotations

import threading
from typing import Any

from flask import request
from flask_socketio import ConnectionRefusedError, Namespace, emit, join_room, leave_room

from server.engine.errors import QueueError

from .names import Emit, site_room, ticket_room


class DisplayNamespace(Namespace):
    """The waiting-room TVs: `state` on every (re)connect, then calls and queue changes."""

    def __init__(self, namespace: str, queries: Any) -> None:
        super().__init__(namespace)
        self.queries = queries

    def on_connect(self, auth: Any = None) -> None:
        """Joins the site's room and sends the whole state to redraw from."""
        join_room(site_room(self.queries.site_id))
        emit(Emit.STATE.value, self.queries.display_state())  # to this client only


class Followers:
    """The tickets that this process's /ticket clients follow: only these get a
    `ticket_updated`, so a call costs the same whatever the length of the line."""

    def __init__(self) -> None:
        self._code_of: dict[str, str] = {}  # Socket.IO session id → lookup code
        self._lock = threading.Lock()

    def add(self, sid: str, code: str) -> None:
        """A client follows a ticket."""
        with self._lock:
            self._code_of[sid] = code

    def remove(self, sid: str) -> None:
        """A client left."""
        with self._lock:
            self._code_of.pop(sid, None)

    def codes(self) -> set[str]:
        """The lookup codes somebody follows now."""
        with self._lock:
            return set(self._code_of.values())


class TicketNamespace(Namespace):
    """A citizen's phone following one ticket; auth is its lookup code."""

    def __init__(self, namespace: str, queries: Any, followers: Followers) -> None:
        super().__init__(namespace)
        self.queries = queries
        self.followers = followers

    def on_connect(self, auth: Any = None) -> None:
        """Refuses unknown codes; sends the ticket's status at once."""
        code = auth.get("lookup_code") if isinstance(auth, dict) else None
        if not isinstance(code, str) or not code or len(code) > 64:
            message = "lookup_code needed"
            raise ConnectionRefusedError(message, {"code": "unauthorized", "message": message})
        # Followed before the status is read: a change committed meanwhile is sent too.
        join_room(ticket_room(code))
        self.followers.add(request.sid, code)  # type: ignore[attr-defined]
        try:
            body = self.queries.ticket_status(code)
        except QueueError as error:
            leave_room(ticket_room(code))
            self.followers.remove(request.sid)  # type: ignore[attr-defined]
            refusal = error.to_dict()["error"]
            raise ConnectionRefusedError(refusal["message"], refusal) from error
        emit(Emit.TICKET_UPDATED.value, body)

    def on_disconnect(self, reason: Any = None) -> None:
        """The phone left: its ticket may no longer need updates."""
        self.followers.remove(request.sid)  # type: ignore[attr-defined]
