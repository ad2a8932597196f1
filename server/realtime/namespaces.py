"""Socket.IO namespaces as classes: /display (public, read-only) and /ticket (by lookup code)."""

from __future__ import annotations

from typing import Any

from flask_socketio import ConnectionRefusedError, Namespace, emit, join_room

from server.engine.errors import QueueError

from .names import Emit, site_room, ticket_room


class DisplayNamespace(Namespace):
    """The waiting-room TVs: `state` on every (re)connect, then calls and queue changes."""

    def __init__(self, namespace: str, engine: Any) -> None:
        super().__init__(namespace)
        self.engine = engine

    def on_connect(self, auth: Any = None) -> None:
        """Joins the site's room and sends the whole state to redraw from."""
        join_room(site_room(self.engine.site_id))
        emit(Emit.STATE.value, self.engine.display_state())  # to this client only


class TicketNamespace(Namespace):
    """A citizen's phone following one ticket; auth is its lookup code."""

    def __init__(self, namespace: str, engine: Any) -> None:
        super().__init__(namespace)
        self.engine = engine

    def on_connect(self, auth: Any = None) -> None:
        """Refuses unknown codes; sends the ticket's status at once."""
        code = auth.get("lookup_code") if isinstance(auth, dict) else None
        if not isinstance(code, str) or not code or len(code) > 64:
            message = "lookup_code needed"
            raise ConnectionRefusedError(message, {"code": "unauthorized", "message": message})
        try:
            body = self.engine.ticket_status(code)
        except QueueError as error:
            refusal = error.to_dict()["error"]
            raise ConnectionRefusedError(refusal["message"], refusal) from error
        join_room(ticket_room(code))
        emit(Emit.TICKET_UPDATED.value, body)
