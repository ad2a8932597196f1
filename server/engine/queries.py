"""Read-only questions to the engine: services, procedures, tickets, counters, the TV's state."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from . import errors, speech
from .clock import Clock
from .hours import parse_hours
from .ports import Repository, Tx
from .text import fold, matches
from .views import EtaCache, Snapshot

#: How many calls the TV lists as recent.
RECENT_CALLS = 10


class Queries:
    """The read side of QueueEngine; every method opens one read transaction."""

    repo: Repository
    clock: Clock
    site_id: int

    eta_cache: EtaCache
    _zone: ZoneInfo | None = None

    def zone(self, tx: Tx) -> ZoneInfo:
        """The site's time zone (Asia/Ho_Chi_Minh by default), read once."""
        if self._zone is None:
            self._zone = ZoneInfo(tx.site().timezone)
        return self._zone

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A Snapshot of the site now."""
        now = self.clock.now()
        with self.repo.read(self.site_id) as tx:
            zone = self.zone(tx)
            yield Snapshot(tx, now.astimezone(zone).date().isoformat(), now, zone, self.eta_cache)

    def list_services(self) -> list[dict[str, Any]]:
        """GET /api/v1/services: each service with its waiting count and whether it issues now."""
        with self.snapshot() as snap:
            local = snap.now.astimezone(snap.tz)
            return [
                snap.service_view(s, s.is_open and parse_hours(s.hours).is_open(local))
                for s in snap.services
            ]

    def list_priorities(self) -> list[dict[str, str]]:
        """GET /api/v1/priorities."""
        with self.repo.read(self.site_id) as tx:
            return [{"code": p.code, "name": p.name} for p in tx.priorities()]

    def find_procedures(self, query: str = "", service: str | None = None) -> list[dict[str, str]]:
        """Procedures whose name (or service's name) matches without diacritics."""
        with self.repo.read(self.site_id) as tx:
            services = {s.id: s for s in tx.services()}
            service_id = None
            if service is not None:
                found = [s for s in services.values() if s.code == service]
                if not found:
                    raise errors.NotFound(f"Không có lĩnh vực '{service}' (no such service)")
                service_id = found[0].id
            folded = fold(query)
            return [
                {"code": p.code, "name": p.name, "service": services[p.service_id].code}
                for p in tx.procedures(service_id)
                if matches(folded, p.name) or matches(folded, services[p.service_id].name)
            ]

    def waiting_counts(self) -> dict[str, int]:
        """Waiting tickets per service code, every service listed (`queue_changed`)."""
        with self.snapshot() as snap:
            return snap.waiting_counts()

    def ticket_status(self, lookup_code: str) -> dict[str, Any]:
        """GET /api/v1/tickets/{lookup_code}."""
        with self.snapshot() as snap:
            ticket = snap.tx.ticket_by_lookup(lookup_code)
            if ticket is None:
                raise errors.NotFound("Không tìm thấy phiếu (no such ticket)")
            return snap.public_ticket(ticket)

    def public_views(
        self, lookup_codes: Sequence[str], lines: Sequence[tuple[str, int]]
    ) -> dict[str, dict[str, Any]]:
        """Public views of some tickets and of every ticket standing in some lines."""
        with self.snapshot() as snap:
            tickets = {t.lookup_code: t for t in snap.read_lines(set(lines))}
            for code in lookup_codes:
                if code not in tickets:
                    ticket = snap.tx.ticket_by_lookup(code)
                    if ticket is not None:
                        tickets[code] = ticket
            return {code: snap.public_ticket(t) for code, t in tickets.items()}

    def list_counters(self) -> list[dict[str, Any]]:
        """GET /api/v1/counters."""
        with self.snapshot() as snap:
            current = snap.current_tickets()
            return [snap.counter_view(c, current) for c in snap.counters]

    def counter_view(self, code: str) -> dict[str, Any]:
        """One counter as GET /api/v1/counters lists it."""
        with self.snapshot() as snap:
            for counter in snap.counters:
                if counter.code == code:
                    return snap.counter_view(counter, snap.current_tickets())
            raise errors.NotFound(f"Không có quầy '{code}' (no such counter)")

    def display_state(self) -> dict[str, Any]:
        """GET /api/v1/display/state and the `state` event of /display."""
        with self.snapshot() as snap:
            current = snap.current_tickets()
            events = snap.tx.recent_calls(snap.day, RECENT_CALLS)
            called = {t.id: t for t in snap.tx.tickets_by_ids([e.ticket_id for e in events])}
            recent = []
            for event in events:
                ticket = called[event.ticket_id]
                counter = snap.counter_by_id[event.counter_id or 0]
                text = speech.announcement(
                    ticket.number, counter.name, recall=event.action == "recall"
                )
                recent.append(snap.call_payload(event, ticket, text))
            return {
                "site": {"name": snap.tx.site().name},
                "counters": [
                    {
                        "code": c.code,
                        "name": c.name,
                        "state": c.state.value,
                        "current": snap.current(c, current),
                    }
                    for c in snap.counters
                ],
                "recent_calls": recent,
                "waiting": snap.waiting_counts(),
            }
