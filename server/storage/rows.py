"""Mappers between tables' rows and the engine's records."""

from __future__ import annotations

import json
from typing import Any

from server.engine.model import Action, Ticket, TicketEvent, TicketStatus

from . import tables as t

TICKET_FIELDS = [c.name for c in t.tickets.columns]


def ticket_from_row(row: Any) -> Ticket:
    """A Ticket from a tickets row."""
    values = dict(row._mapping)
    values["status"] = TicketStatus(values["status"])
    return Ticket(**values)


def ticket_values(ticket: Ticket) -> dict[str, Any]:
    """A ticket's columns for INSERT or UPDATE (all but its id)."""
    values = {f: getattr(ticket, f) for f in TICKET_FIELDS if f != "id"}
    values["status"] = ticket.status.value
    return values


def event_values(site_id: int, event: TicketEvent) -> dict[str, Any]:
    """An event's columns for INSERT."""
    return {
        "site_id": site_id,
        "ticket_id": event.ticket_id,
        "at": event.at,
        "action": event.action.value,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value,
        "actor": event.actor,
        "counter_id": event.counter_id,
        "service_id": event.service_id,
        "target_counter_id": event.target_counter_id,
        "data": json.dumps(event.data, ensure_ascii=False, sort_keys=True),
    }


def event_from_row(row: Any) -> TicketEvent:
    """A TicketEvent from a ticket_events row."""
    return TicketEvent(
        ticket_id=row.ticket_id,
        at=row.at,
        action=Action(row.action),
        from_status=TicketStatus(row.from_status) if row.from_status else None,
        to_status=TicketStatus(row.to_status),
        actor=row.actor,
        counter_id=row.counter_id,
        service_id=row.service_id,
        target_counter_id=row.target_counter_id,
        data=json.loads(row.data),
    )
