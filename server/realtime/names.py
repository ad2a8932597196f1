"""Event, namespace and room names shared by the server and the pages' JavaScript."""

from __future__ import annotations

from enum import StrEnum


class Namespace(StrEnum):
    """Socket.IO namespaces of CONTRACT.md."""

    DISPLAY = "/display"
    TICKET = "/ticket"


class Emit(StrEnum):
    """Events the server emits."""

    STATE = "state"
    TICKET_CALLED = "ticket_called"
    QUEUE_CHANGED = "queue_changed"
    TICKET_UPDATED = "ticket_updated"
    COUNTER_CHANGED = "counter_changed"


def site_room(site_id: int) -> str:
    """Every display of a site."""
    return f"site:{site_id}"


def ticket_room(lookup_code: str) -> str:
    """Everyone following one ticket (its QR page)."""
    return f"ticket:{lookup_code}"
