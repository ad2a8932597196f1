"""The JSON shapes of CONTRACT.md, built from one site's records inside one transaction.

Every body the API answers and every event body the realtime layer emits is made here, so a
shape changes in one place.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from functools import cached_property
from typing import Any

from . import eta, speech
from .events import Kind
from .model import Counter, Service, Ticket, TicketEvent, TicketStatus
from .ports import Tx

#: A counter counts as open for estimates if it called somebody within this time.
ACTIVE_WINDOW = timedelta(hours=1)
#: How many recent services make the typical duration.
RECENT_SERVICES = 20
#: How many calls the TV lists as recent.
RECENT_CALLS = 10


def iso(moment: datetime | None, tz: tzinfo) -> str | None:
    """ISO 8601 with milliseconds and the site's offset: 2026-11-23T09:35:00.000+07:00."""
    if moment is None:
        return None
    return moment.astimezone(tz).isoformat(timespec="milliseconds")


def queue_key(ticket: Ticket) -> tuple[str, int]:
    """The line a waiting ticket stands in: its target counter's, or its service's."""
    if ticket.target_counter_id is not None:
        return ("counter", ticket.target_counter_id)
    return ("service", ticket.service_id)


def lookup_url(base: str, lookup_code: str) -> str:
    """The QR's target, the ticket's live status page, under a base URL."""
    return f"{base.rstrip('/')}/t/{lookup_code}"


class Snapshot:
    """Describes tickets and counters inside one transaction, reading only what is asked."""

    def __init__(self, tx: Tx, day: str, now: datetime, tz: tzinfo) -> None:
        self.tx, self.day, self.now, self.tz = tx, day, now, tz
        self._counts: dict[int, int] | None = None
        self._typical: dict[int, float] = {}
        self._open: dict[int, int] = {}

    @cached_property
    def services(self) -> tuple[Service, ...]:
        """The site's services in display order."""
        return tuple(self.tx.services())

    @cached_property
    def service_by_id(self) -> dict[int, Service]:
        """Services by id."""
        return {s.id: s for s in self.services}

    @cached_property
    def counters(self) -> list[Counter]:
        """The site's counters in display order."""
        return self.tx.counters()

    @cached_property
    def counter_by_id(self) -> dict[int, Counter]:
        """Counters by id."""
        return {c.id: c for c in self.counters}

    @property
    def waiting_by_service(self) -> dict[int, int]:
        """Waiting tickets per service id, read once."""
        if self._counts is None:
            self._counts = self.tx.waiting_counts(self.day)
        return self._counts

    def waiting_counts(self) -> dict[str, int]:
        """`queue_changed`'s `waiting`: waiting tickets per service code, every service listed."""
        return {s.code: self.waiting_by_service.get(s.id, 0) for s in self.services}

    # -- places and estimates ------------------------------------------------------------

    def open_counters(self, service_id: int) -> int:
        """Unpaused counters serving the service, counting only those active lately if any."""
        if service_id not in self._open:
            active, serving = self.tx.open_counters(service_id, self.now - ACTIVE_WINDOW)
            self._open[service_id] = active or serving or 1
        return self._open[service_id]

    def estimate(self, ticket: Ticket, ahead: int) -> int:
        """Seconds until the ticket is likely called."""
        sid = ticket.service_id
        if sid not in self._typical:
            recent = self.tx.recent_service_seconds(sid, self.day, RECENT_SERVICES)
            self._typical[sid] = eta.typical_service_seconds(recent)
        counters = 1 if ticket.target_counter_id is not None else self.open_counters(sid)
        return eta.estimate_wait_seconds(ahead, self._typical[sid], counters)

    def place(self, ticket: Ticket) -> dict[str, int | None]:
        """position, waiting_ahead and the estimate; null once the ticket no longer waits."""
        if ticket.status != TicketStatus.WAITING:
            return {"position": None, "waiting_ahead": None, "estimated_wait_seconds": None}
        ahead = self.tx.count_ahead(ticket)
        return {
            "position": ahead + 1,
            "waiting_ahead": ahead,
            "estimated_wait_seconds": self.estimate(ticket, ahead),
        }

    # -- references --------------------------------------------------------------------

    def service_ref(self, service_id: int) -> dict[str, str]:
        """{"code","name"} of a service."""
        service = self.service_by_id[service_id]
        return {"code": service.code, "name": service.name}

    def counter_ref(self, counter_id: int | None) -> dict[str, str] | None:
        """{"code","name"} of a counter, or None."""
        if counter_id is None or counter_id not in self.counter_by_id:
            return None
        counter = self.counter_by_id[counter_id]
        return {"code": counter.code, "name": counter.name}

    # -- tickets -------------------------------------------------------------------------

    def public_ticket(self, ticket: Ticket) -> dict[str, Any]:
        """The body of GET /api/v1/tickets/{lookup_code} and of `ticket_updated`."""
        return {
            "number": ticket.number,
            "service": self.service_ref(ticket.service_id),
            "status": ticket.status.value,
            **self.place(ticket),
            "counter": self.counter_ref(ticket.counter_id),
        }

    def full_ticket(self, ticket: Ticket) -> dict[str, Any]:
        """The ticket as issued to a kiosk or handled by a counter (the API adds
        `lookup_url`, which depends on the address the request came in on)."""
        return {
            "id": ticket.id,
            "number": ticket.number,
            "service": self.service_ref(ticket.service_id),
            "status": ticket.status.value,
            "priority": ticket.priority,
            "lookup_code": ticket.lookup_code,
            **self.place(ticket),
            "counter": self.counter_ref(ticket.counter_id),
            "issued_at": iso(ticket.issued_at, self.tz),
            "called_at": iso(ticket.called_at, self.tz),
        }

    # -- counters and the hall -----------------------------------------------------------

    def current_tickets(self) -> dict[int, Ticket]:
        """The tickets standing at counters, by id."""
        ids = [c.current_ticket_id for c in self.counters if c.current_ticket_id]
        return {t.id: t for t in self.tx.tickets_by_ids(ids)}

    def current(self, counter: Counter, tickets: dict[int, Ticket]) -> dict[str, Any] | None:
        """A counter's `current`: null or {"number","service","status","called_at"}."""
        ticket = tickets.get(counter.current_ticket_id or 0)
        if ticket is None:
            return None
        return {
            "number": ticket.number,
            "service": self.service_ref(ticket.service_id),
            "status": ticket.status.value,
            "called_at": iso(ticket.called_at, self.tz),
        }

    def hall_counter(self, counter: Counter, tickets: dict[int, Ticket]) -> dict[str, Any]:
        """A counter as the hall sees it: an entry of `state`'s `counters`, and the body of
        `counter_changed`."""
        return {
            "code": counter.code,
            "name": counter.name,
            "state": counter.state.value,
            "current": self.current(counter, tickets),
        }

    def counter_view(self, counter: Counter, tickets: dict[int, Ticket]) -> dict[str, Any]:
        """One entry of GET /api/v1/counters: the hall's view and the counter's services."""
        services = [self.service_by_id[s].code for s in counter.service_ids]
        return {"services": services, **self.hall_counter(counter, tickets)}

    def service_view(self, service: Service, open_now: bool) -> dict[str, Any]:
        """One entry of GET /api/v1/services."""
        return {
            "code": service.code,
            "name": service.name,
            "prefix": service.prefix,
            "waiting": self.waiting_by_service.get(service.id, 0),
            "open": open_now,
            "hours": service.hours,
            "daily_limit": service.daily_limit,
        }

    def call_payload(self, event: TicketEvent, ticket: Ticket) -> dict[str, Any]:
        """The body of `ticket_called` and of a `recent_calls` entry, with the sentence the
        hall hears (the one place a call's announcement is made)."""
        counter = self.counter_by_id[event.counter_id or 0]
        recall = event.action == "recall"
        return {
            "number": ticket.number,
            "counter": {"code": counter.code, "name": counter.name},
            "service": self.service_ref(ticket.service_id),
            "called_at": iso(event.at, self.tz),
            "recall": recall,
            "announcement": speech.announcement(ticket.number, counter.name, recall=recall),
            "audio_url": None,
        }

    def display_state(self, site_name: str) -> dict[str, Any]:
        """GET /api/v1/display/state and the `state` event of /display: `seq` is that of the
        last event it reflects (read first, so that anything later is an event above it),
        and each of the day's recent calls carries its own."""
        seq = self.tx.last_seq()
        current = self.current_tickets()
        midnight = datetime.combine(date.fromisoformat(self.day), time(), self.tz)
        calls = self.tx.recent_events(Kind.TICKET_CALLED, midnight, RECENT_CALLS)
        return {
            "site": {"name": site_name},
            "seq": seq,
            "counters": [self.hall_counter(c, current) for c in self.counters],
            "recent_calls": [{**e.payload, "seq": e.seq} for e in calls],
            "waiting": self.waiting_counts(),
        }
