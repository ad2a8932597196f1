"""One write transaction's work: its clock, the ticket moves it makes and the events they cause,
and the lookups every command starts with."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any

from . import errors
from .events import Event, Kind
from .model import AT_COUNTER, Action, Counter, Service, Ticket, TicketEvent, TicketStatus
from .ports import Tx
from .views import Snapshot, queue_key


@dataclass
class Work:
    """What one write transaction has done: the instant it runs at, the ticket events it
    logs and the events it publishes once committed."""

    tx: Tx
    site_id: int
    now: datetime
    tz: tzinfo
    actor: str
    events: list[Event] = field(default_factory=list)  # the calls, in order
    changed: list[TicketEvent] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)  # lookup codes of the tickets moved
    lines: set[tuple[str, int]] = field(default_factory=set)  # lines whose places changed
    counters: list[str] = field(default_factory=list)  # codes of the counters changed

    @property
    def local(self) -> datetime:
        """The instant on the site's wall clock."""
        return self.now.astimezone(self.tz)

    @property
    def day(self) -> str:
        """The site's local day (YYYY-MM-DD)."""
        return self.local.date().isoformat()

    def snapshot(self) -> Snapshot:
        """The JSON shapes as this transaction sees the site (for event bodies)."""
        return Snapshot(self.tx, self.day, self.now, self.tz)

    def counter_changed(self, counter: Counter) -> None:
        """The counter's current ticket or pause changed: store it and tell the hall."""
        self.tx.update_counter(counter)
        self.counters.append(counter.code)

    def outbox(self) -> list[Event]:
        """Every event of the transaction, as the screens are to be told it: the calls, the
        counters as they end up, the waiting counts, and the tickets and lines moved."""
        snap = self.snapshot()
        events = list(self.events)
        if self.counters:
            current = snap.current_tickets()
            by_code = {c.code: c for c in snap.counters}
            for code in dict.fromkeys(self.counters):
                view = snap.hall_counter(by_code[code], current)
                events.append(Event(Kind.COUNTER_CHANGED, view))
        if any(e.action != Action.RECALL for e in self.changed):
            events.append(Event(Kind.QUEUE_CHANGED, {"waiting": snap.waiting_counts()}))
        if self.codes or self.lines:
            moved = list(dict.fromkeys(self.codes))
            lines = [[kind, ident] for kind, ident in sorted(self.lines)]
            events.append(Event(Kind.TICKETS_CHANGED, {"moved": moved, "lines": lines}))
        return events


def move(
    work: Work,
    ticket: Ticket,
    action: Action,
    to: TicketStatus,
    data: dict[str, object] | None = None,
    **changes: Any,
) -> Ticket:
    """Applies one transition to a ticket, stores it and logs the event (with `data`)."""
    moved = replace(ticket, status=to, **changes)
    work.tx.update_ticket(ticket, moved)
    work.codes.append(ticket.lookup_code)
    for state in (ticket, moved):
        if state.status == TicketStatus.WAITING:
            work.lines.add(queue_key(state))
    work.changed.append(
        TicketEvent(
            ticket_id=ticket.id,
            at=work.now,
            action=action,
            from_status=ticket.status,
            to_status=to,
            actor=work.actor,
            counter_id=moved.counter_id,
            service_id=moved.service_id,
            target_counter_id=moved.target_counter_id,
            data=data or {},
        )
    )
    return moved


def expire_past(work: Work) -> None:
    """Closes unfinished tickets of earlier days as expired, keeping their history."""
    stale = work.tx.unfinished_before(work.day)
    for ticket in stale:
        move(work, ticket, Action.EXPIRE, TicketStatus.EXPIRED, finished_at=work.now)
    stale_ids = {t.id for t in stale}
    for counter in work.tx.counters():
        if counter.current_ticket_id in stale_ids:
            counter.current_ticket_id = None
            work.counter_changed(counter)


def service(tx: Tx, code: str) -> Service:
    """A service by code, or not_found."""
    found = tx.service(code)
    if found is None:
        raise errors.NotFound(f"Không có lĩnh vực '{code}' (no such service)")
    return found


def counter(tx: Tx, code: str) -> Counter:
    """A counter by code, or not_found."""
    for each in tx.counters():
        if each.code == code:
            return each
    raise errors.NotFound(f"Không có quầy '{code}' (no such counter)")


def procedure_id(tx: Tx, of: Service, code: str | None) -> int | None:
    """The procedure's id; it must exist and belong to the service."""
    if code is None:
        return None
    procedure = tx.procedure(code)
    if procedure is None:
        raise errors.NotFound(f"Không có thủ tục '{code}' (no such procedure)")
    if procedure.service_id != of.id:
        raise errors.InvalidRequest(f"Procedure '{code}' does not belong to service '{of.code}'")
    return procedure.id


def current(tx: Tx, at: Counter) -> Ticket | None:
    """The ticket at the counter, if it is still there."""
    if at.current_ticket_id is None:
        return None
    ticket = tx.ticket(at.current_ticket_id)
    if ticket is None or ticket.status not in AT_COUNTER:
        return None
    return ticket
