"""What the engine needs from storage: a transaction per site that reads and writes records."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from .events import Event, Kind
from .model import (
    Counter,
    PriorityCategory,
    Procedure,
    Service,
    Site,
    Ticket,
    TicketEvent,
)


class Tx(Protocol):
    """One transaction on one site's records; a write transaction is serialised per site."""

    def site(self) -> Site:
        """The site this transaction works on."""
        ...

    def services(self) -> Sequence[Service]:
        """Every service of the site in display order."""
        ...

    def service(self, code: str) -> Service | None:
        """One service of the site by its code."""
        ...

    def counters(self) -> list[Counter]:
        """Every counter of the site in display order."""
        ...

    def procedures(self, service_id: int | None = None) -> list[Procedure]:
        """The procedures of the site, or of one service."""
        ...

    def procedure(self, code: str) -> Procedure | None:
        """One procedure of the site by its code."""
        ...

    def priorities(self) -> list[PriorityCategory]:
        """The priority categories of the site."""
        ...

    def ticket(self, ticket_id: int) -> Ticket | None:
        """A ticket by id."""
        ...

    def tickets_by_ids(self, ids: Sequence[int]) -> list[Ticket]:
        """Tickets by id, in no particular order."""
        ...

    def ticket_by_lookup(self, lookup_code: str) -> Ticket | None:
        """A ticket by its unguessable lookup code."""
        ...

    def tickets_by_lookup(self, lookup_codes: Collection[str]) -> list[Ticket]:
        """Tickets by lookup code, in no particular order."""
        ...

    def ticket_by_number(self, day: str, number: str) -> Ticket | None:
        """A ticket by its number on a local day."""
        ...

    def line_heads(
        self, day: str, service_id: int | None = None, counter_id: int | None = None
    ) -> list[Ticket]:
        """The first priority and the first ordinary ticket of one line (oldest by queued_at)."""
        ...

    def count_ahead(self, ticket: Ticket) -> int:
        """Waiting tickets of the same line that stand before this one (priority, then oldest)."""
        ...

    def waiting_counts(self, day: str) -> dict[int, int]:
        """Waiting tickets per service id on a day."""
        ...

    def recent_service_seconds(self, service_id: int, day: str, limit: int) -> list[float]:
        """Durations (called to finished) of the service's last served tickets of the day."""
        ...

    def active_counter_ids(self, since: datetime) -> set[int]:
        """Counters that called somebody since the instant."""
        ...

    def open_counters(self, service_id: int, since: datetime) -> tuple[int, int]:
        """Unpaused counters serving the service: (those that called since the instant, all)."""
        ...

    def last_seq(self) -> int:
        """The sequence number of the site's last stored event (0 before the first)."""
        ...

    def events_after(self, seq: int, limit: int) -> list[Event]:
        """Stored events after a sequence number, oldest first."""
        ...

    def recent_events(self, kind: Kind, since: datetime, limit: int) -> list[Event]:
        """Stored events of one kind since an instant, newest first."""
        ...

    def idempotent_ticket_id(self, device: str, key: str, since: datetime) -> int | None:
        """The ticket a device created with this key after `since`, if any."""
        ...

    # writes

    def next_sequence(self, service_id: int, day: str) -> int:
        """Takes the service's next number of the day (1, 2, ...); atomic under concurrency."""
        ...

    def insert_ticket(self, ticket: Ticket) -> int:
        """Stores a new ticket (its id is ignored) and returns its id."""
        ...

    def update_ticket(self, before: Ticket, after: Ticket) -> None:
        """Stores a ticket's new state if its stored status is still `before`'s, else raises."""
        ...

    def update_counter(self, counter: Counter) -> None:
        """Stores a counter's pause, current ticket and priority streak."""
        ...

    def update_service(self, service: Service) -> None:
        """Stores a service's hours, limit and open flag."""
        ...

    def append_events(self, events: Sequence[TicketEvent]) -> None:
        """Appends ticket events to the log."""
        ...

    def append_outbox(self, events: Sequence[Event], at: datetime) -> list[Event]:
        """Numbers events with the site's next sequence numbers and stores them; returns them
        numbered."""
        ...

    def prune_outbox(self, before: datetime) -> int:
        """Forgets stored events older than an instant; returns how many."""
        ...

    def remember_idempotency(self, device: str, key: str, ticket_id: int, at: datetime) -> None:
        """Records that a device's key created this ticket (replacing an older use of the key)."""
        ...

    def unfinished_before(self, day: str) -> list[Ticket]:
        """Tickets of earlier days still waiting, called or serving."""
        ...


class Repository(Protocol):
    """Opens transactions; the engine never sees connections or SQL."""

    def write(self, site_id: int) -> AbstractContextManager[Tx]:
        """A write transaction, serialised with every other write of the site; a write
        inside another write of the same thread is refused."""
        ...

    def read(self, site_id: int) -> AbstractContextManager[Tx]:
        """A read-only transaction."""
        ...
