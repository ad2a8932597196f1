"""Read models: a snapshot of one site's queues and the JSON shapes of CONTRACT.md."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import cached_property
from typing import Any

from . import eta
from .model import Counter, Service, Ticket, TicketEvent, TicketStatus
from .ordering import line_order
from .ports import Tx

#: A counter counts as open for estimates if it called somebody within this time.
ACTIVE_WINDOW = timedelta(hours=1)
#: How many recent services make the typical duration.
RECENT_SERVICES = 20


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


@dataclass
class EtaCache:
    """Each service's typical duration and open counters, kept a few seconds between requests.

    An estimate needs three queries; a burst of issues should not pay them every time. The
    engine clears it whenever a counter acts, so only other processes' actions wait the TTL.
    """

    ttl_seconds: float = 15.0
    entries: dict[int, tuple[float, int, float]] = field(default_factory=dict)

    def get(self, service_id: int) -> tuple[float, int] | None:
        """(typical seconds, open counters) if fresh."""
        entry = self.entries.get(service_id)
        if entry is None or time.monotonic() - entry[2] > self.ttl_seconds:
            return None
        return entry[0], entry[1]

    def put(self, service_id: int, typical: float, counters: int) -> None:
        """Remembers a service's figures."""
        self.entries[service_id] = (typical, counters, time.monotonic())

    def clear(self) -> None:
        """Forgets everything (a counter acted)."""
        self.entries.clear()


class Snapshot:
    """Describes tickets and counters inside one transaction, reading only what is asked."""

    def __init__(
        self, tx: Tx, day: str, now: datetime, tz: tzinfo, eta_cache: EtaCache | None = None
    ) -> None:
        self.tx, self.day, self.now, self.tz = tx, day, now, tz
        self.services = tx.services()
        self.service_by_id = {s.id: s for s in self.services}
        self.eta_cache = eta_cache if eta_cache is not None else EtaCache(ttl_seconds=0)
        self._counts: dict[int, int] | None = None
        self._ahead: dict[int, int] = {}
        self._active: set[int] | None = None

    @cached_property
    def counters(self) -> list[Counter]:
        """The site's counters, read when first needed."""
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

    def read_lines(self, lines: set[tuple[str, int]]) -> list[Ticket]:
        """Reads whole lines at once so that their tickets' places need no further query."""
        tickets: list[Ticket] = []
        for kind, ident in lines:
            if kind == "counter":
                line = self.tx.waiting(self.day, counter_id=ident)
            else:
                line = self.tx.waiting(self.day, service_id=ident)
            for index, ticket in enumerate(line_order(line)):
                self._ahead[ticket.id] = index
            tickets.extend(line)
        return tickets

    def waiting_counts(self) -> dict[str, int]:
        """Waiting tickets per service code, every service listed."""
        return {s.code: self.waiting_by_service.get(s.id, 0) for s in self.services}

    def open_counters(self, service_id: int) -> int:
        """Unpaused counters serving the service, preferring those active lately."""
        if self._active is None:
            self._active = self.tx.active_counter_ids(self.now - ACTIVE_WINDOW)
        serving = [c for c in self.counters if not c.paused and service_id in c.service_ids]
        active = [c for c in serving if c.id in self._active]
        return len(active) or len(serving) or 1

    def estimate(self, ticket: Ticket, ahead: int) -> int:
        """Seconds until the ticket is likely called."""
        sid = ticket.service_id
        known = self.eta_cache.get(sid)
        if known is None:
            recent = self.tx.recent_service_seconds(sid, self.day, RECENT_SERVICES)
            known = (eta.typical_service_seconds(recent), self.open_counters(sid))
            self.eta_cache.put(sid, *known)
        typical, open_counters = known
        counters = 1 if ticket.target_counter_id is not None else open_counters
        return eta.estimate_wait_seconds(ahead, typical, counters)

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

    def place(self, ticket: Ticket) -> dict[str, int | None]:
        """position, waiting_ahead and the estimate; null once the ticket no longer waits."""
        if ticket.status != TicketStatus.WAITING:
            return {"position": None, "waiting_ahead": None, "estimated_wait_seconds": None}
        if ticket.id not in self._ahead:
            self._ahead[ticket.id] = self.tx.count_ahead(ticket)
        ahead = self._ahead[ticket.id]
        return {
            "position": ahead + 1,
            "waiting_ahead": ahead,
            "estimated_wait_seconds": self.estimate(ticket, ahead),
        }

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
        """The ticket as issued to a kiosk or handled by a counter."""
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

    def current_tickets(self) -> dict[int, Ticket]:
        """The tickets standing at counters, by id."""
        ids = [c.current_ticket_id for c in self.counters if c.current_ticket_id]
        return {t.id: t for t in self.tx.tickets_by_ids(ids)}

    def counter_view(self, counter: Counter, tickets: dict[int, Ticket]) -> dict[str, Any]:
        """One entry of GET /api/v1/counters."""
        return {
            "code": counter.code,
            "name": counter.name,
            "services": [self.service_by_id[s].code for s in counter.service_ids],
            "state": counter.state.value,
            "current": self.current(counter, tickets),
        }

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

    def call_payload(self, event: TicketEvent, ticket: Ticket, announcement: str) -> dict[str, Any]:
        """The body of `ticket_called` and of a `recent_calls` entry."""
        counter = self.counter_by_id[event.counter_id or 0]
        return {
            "number": ticket.number,
            "counter": {"code": counter.code, "name": counter.name},
            "service": self.service_ref(ticket.service_id),
            "called_at": iso(event.at, self.tz),
            "recall": event.action == "recall",
            "announcement": announcement,
            "audio_url": None,
        }
