"""Queries: the read side, each question in one read transaction, never under the write lock."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from . import errors
from .clock import Clock
from .events import Event
from .hours import parse_hours
from .model import Ticket, TicketStatus
from .ports import Repository, Tx
from .text import fold, has_words
from .views import Snapshot, queue_key


class Queries:
    """What the API, the realtime layer and the commands' answers read."""

    def __init__(self, repo: Repository, clock: Clock, site_id: int) -> None:
        self.repo, self.clock, self.site_id = repo, clock, site_id
        self._zone: ZoneInfo | None = None

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
            yield Snapshot(tx, now.astimezone(zone).date().isoformat(), now, zone)

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
        """Procedures whose name (or service's name) holds every word of `query`, compared
        without diacritics; procedure names are folded once, when stored."""
        with self.repo.read(self.site_id) as tx:
            services = {s.id: s for s in tx.services()}
            service_id = None
            if service is not None:
                found = [s for s in services.values() if s.code == service]
                if not found:
                    raise errors.NotFound(f"Không có lĩnh vực '{service}' (no such service)")
                service_id = found[0].id
            words = fold(query).split()
            service_names = {sid: fold(s.name) for sid, s in services.items()}
            return [
                {"code": p.code, "name": p.name, "service": services[p.service_id].code}
                for p in tx.procedures(service_id)
                if has_words(words, p.name_folded) or has_words(words, service_names[p.service_id])
            ]

    def ticket_status(self, lookup_code: str) -> dict[str, Any]:
        """GET /api/v1/tickets/{lookup_code}."""
        with self.snapshot() as snap:
            ticket = snap.tx.ticket_by_lookup(lookup_code)
            if ticket is None:
                raise errors.NotFound("Không tìm thấy phiếu (no such ticket)")
            return snap.public_ticket(ticket)

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """The full view of a stored ticket (an Idempotency-Key's replay)."""
        with self.snapshot() as snap:
            ticket = snap.tx.ticket(ticket_id)
            if ticket is None:
                raise errors.NotFound("Không tìm thấy phiếu (no such ticket)")
            return snap.full_ticket(ticket)

    def answer(self, ticket: Ticket) -> dict[str, Any]:
        """The full view of a ticket a command has just committed: its place and estimate
        are read now, after the commit."""
        with self.snapshot() as snap:
            return snap.full_ticket(ticket)

    def updated_views(
        self,
        moved: Collection[str],
        followed: Collection[str],
        lines: Collection[tuple[str, int]],
    ) -> dict[str, dict[str, Any]]:
        """`ticket_updated` bodies after a commit: of the tickets it moved, and of the
        followed tickets waiting in a line it changed. The cost grows with the followers,
        never with the length of a line."""
        views = {}
        with self.snapshot() as snap:
            for ticket in snap.tx.tickets_by_lookup(set(moved) | set(followed)):
                in_line = ticket.status == TicketStatus.WAITING and queue_key(ticket) in lines
                if ticket.lookup_code in moved or in_line:
                    views[ticket.lookup_code] = snap.public_ticket(ticket)
        return views

    def list_counters(self) -> list[dict[str, Any]]:
        """GET /api/v1/counters."""
        with self.snapshot() as snap:
            current = snap.current_tickets()
            return [snap.counter_view(c, current) for c in snap.counters]

    def counter(self, code: str) -> dict[str, Any]:
        """One counter as GET /api/v1/counters lists it."""
        with self.snapshot() as snap:
            for counter in snap.counters:
                if counter.code == code:
                    return snap.counter_view(counter, snap.current_tickets())
            raise errors.NotFound(f"Không có quầy '{code}' (no such counter)")

    def display_state(self) -> dict[str, Any]:
        """GET /api/v1/display/state and the `state` event of /display."""
        with self.snapshot() as snap:
            return snap.display_state(snap.tx.site().name)

    def last_seq(self) -> int:
        """The sequence number of the site's last event."""
        with self.repo.read(self.site_id) as tx:
            return tx.last_seq()

    def events_after(self, seq: int, limit: int = 500) -> list[Event]:
        """The site's events after a sequence number, oldest first (a relay's next batch)."""
        with self.repo.read(self.site_id) as tx:
            return tx.events_after(seq, limit)

    def today(self) -> str:
        """The site's local day now (YYYY-MM-DD)."""
        with self.snapshot() as snap:
            return snap.day
