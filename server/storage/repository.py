"""SqlRepository: the engine's Repository on SQLAlchemy Core, for SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from server.engine import errors
from server.engine.events import Event, Kind
from server.engine.model import (
    Counter,
    PriorityCategory,
    Procedure,
    Service,
    Site,
    Ticket,
    TicketEvent,
)

from . import statements as q
from .db import Database
from .rows import event_values, ticket_from_row, ticket_values


class SqlTx:
    """One transaction on one site; reads the small catalogue tables once in it."""

    def __init__(self, conn: Connection, site_id: int) -> None:
        self.conn, self.site_id = conn, site_id
        self._site: Site | None = None
        self._services: tuple[Service, ...] | None = None
        self._counters: list[Counter] | None = None

    def _rows(self, statement: Any, **params: Any) -> Any:
        """Runs one of `statements`' constants for this site."""
        return self.conn.execute(statement, {"site_id": self.site_id, **params})

    def _tickets(self, statement: Any, **params: Any) -> list[Ticket]:
        """The tickets a statement selects."""
        return [ticket_from_row(r) for r in self._rows(statement, **params)]

    def _ticket(self, statement: Any, **params: Any) -> Ticket | None:
        """The one ticket a statement selects, or None."""
        found = self._tickets(statement, **params)
        return found[0] if found else None

    # -- the catalogue ---------------------------------------------------------------------

    def site(self) -> Site:
        """The site row."""
        if self._site is None:
            row = self._rows(q.SITE_ROW).first()
            if row is None:
                raise errors.NotFound(f"No site {self.site_id}: run `luot init`")
            self._site = Site(row.id, row.code, row.name, row.timezone)
        return self._site

    def services(self) -> tuple[Service, ...]:
        """The site's services in display order."""
        if self._services is None:
            self._services = tuple(Service(**r._asdict()) for r in self._rows(q.SERVICES))
        return self._services

    def service(self, code: str) -> Service | None:
        """One service by its code."""
        row = self._rows(q.SERVICE, code=code).first()
        return None if row is None else Service(**row._asdict())

    def counters(self) -> list[Counter]:
        """The site's counters with their services in preference order."""
        if self._counters is None:
            links: dict[int, list[int]] = {}
            for counter_id, service_id in self._rows(q.COUNTER_SERVICES):
                links.setdefault(counter_id, []).append(service_id)
            self._counters = [
                Counter(
                    id=r.id,
                    site_id=r.site_id,
                    code=r.code,
                    name=r.name,
                    service_ids=tuple(links.get(r.id, ())),
                    paused=r.paused,
                    current_ticket_id=r.current_ticket_id,
                    priority_streak=r.priority_streak,
                )
                for r in self._rows(q.COUNTERS)
            ]
        return self._counters

    def procedures(self, service_id: int | None = None) -> list[Procedure]:
        """The site's procedures, or one service's."""
        if service_id is None:
            rows = self._rows(q.PROCEDURES)
        else:
            rows = self._rows(q.PROCEDURES_OF, service_id=service_id)
        return [
            Procedure(r.id, r.site_id, r.code, r.name, r.service_id, r.name_folded) for r in rows
        ]

    def procedure(self, code: str) -> Procedure | None:
        """One procedure by its code."""
        r = self._rows(q.PROCEDURE, code=code).first()
        return None if r is None else Procedure(r.id, r.site_id, r.code, r.name, r.service_id)

    def priorities(self) -> list[PriorityCategory]:
        """The site's priority categories."""
        return [PriorityCategory(r.code, r.name) for r in self._rows(q.PRIORITIES)]

    # -- tickets ---------------------------------------------------------------------------

    def ticket(self, ticket_id: int) -> Ticket | None:
        """A ticket by id."""
        return self._ticket(q.TICKET, id=ticket_id)

    def tickets_by_ids(self, ids: Sequence[int]) -> list[Ticket]:
        """Tickets by id."""
        return self._tickets(q.TICKETS_BY_ID, ids=list(ids)) if ids else []

    def ticket_by_lookup(self, lookup_code: str) -> Ticket | None:
        """A ticket by lookup code."""
        return self._ticket(q.TICKET_BY_LOOKUP, code=lookup_code)

    def tickets_by_lookup(self, lookup_codes: Collection[str]) -> list[Ticket]:
        """Tickets by lookup code."""
        codes = list(lookup_codes)
        return self._tickets(q.TICKETS_BY_LOOKUP, codes=codes) if codes else []

    def ticket_by_number(self, day: str, number: str) -> Ticket | None:
        """A ticket by its number of the day."""
        return self._ticket(q.TICKET_BY_NUMBER, day=day, number=number)

    def line_heads(
        self, day: str, service_id: int | None = None, counter_id: int | None = None
    ) -> list[Ticket]:
        """The oldest priority and the oldest ordinary ticket of a line."""
        by_counter = counter_id is not None
        line = counter_id if by_counter else service_id
        heads = []
        for priority in (True, False):
            head = self._ticket(q.LINE_HEAD[(by_counter, priority)], day=day, line=line)
            if head is not None:
                heads.append(head)
        return heads

    def count_ahead(self, ticket: Ticket) -> int:
        """Waiting tickets of the ticket's line ordered before it."""
        by_counter = ticket.target_counter_id is not None
        statement = q.COUNT_AHEAD[(by_counter, bool(ticket.priority))]
        line = ticket.target_counter_id if by_counter else ticket.service_id
        place = {"day": ticket.day, "line": line, "queued_at": ticket.queued_at, "id": ticket.id}
        return int(self._rows(statement, **place).scalar_one())

    def waiting_counts(self, day: str) -> dict[int, int]:
        """Waiting tickets per service id."""
        return {row[0]: int(row[1]) for row in self._rows(q.WAITING_COUNTS, day=day)}

    def recent_service_seconds(self, service_id: int, day: str, limit: int) -> list[float]:
        """Called-to-finished durations of the service's latest served tickets of the day."""
        rows = self._rows(q.DURATIONS, service_id=service_id, day=day, limit=limit)
        return [(finished - called).total_seconds() for called, finished in rows]

    def active_counter_ids(self, since: datetime) -> set[int]:
        """Counters that called somebody since the instant."""
        return {r[0] for r in self._rows(q.ACTIVE_COUNTERS, since=since) if r[0] is not None}

    def open_counters(self, service_id: int, since: datetime) -> tuple[int, int]:
        """Unpaused counters serving the service: (those that called since the instant, all)."""
        active, serving = self._rows(q.OPEN_COUNTERS, service_id=service_id, since=since).one()
        return int(active), int(serving)

    def last_seq(self) -> int:
        """The sequence number of the site's last stored event."""
        return int(self._rows(q.LAST_SEQ).scalar_one())

    def events_after(self, seq: int, limit: int) -> list[Event]:
        """Stored events after a sequence number, oldest first."""
        return [_event(r) for r in self._rows(q.OUTBOX_AFTER, after=seq, limit=limit)]

    def recent_events(self, kind: Kind, since: datetime, limit: int) -> list[Event]:
        """Stored events of one kind since an instant, newest first."""
        rows = self._rows(q.RECENT_OF_KIND, kind=kind.value, since=since, limit=limit)
        return [_event(r) for r in rows]

    def idempotent_ticket_id(self, device: str, key: str, since: datetime) -> int | None:
        """The ticket a device's key created after `since`."""
        row = self._rows(q.IDEMPOTENT_TICKET, device=device, key=key, since=since).first()
        return None if row is None else int(row[0])

    def unfinished_before(self, day: str) -> list[Ticket]:
        """Tickets of earlier days still waiting, called or serving."""
        return self._tickets(q.UNFINISHED_BEFORE, day=day)

    # -- writes ----------------------------------------------------------------------------

    def next_sequence(self, service_id: int, day: str) -> int:
        """The service's next number of the day, in one atomic statement."""
        statement = q.NEXT_SEQUENCE[self.conn.dialect.name]
        return int(self._rows(statement, service_id=service_id, day=day).scalar_one())

    def insert_ticket(self, ticket: Ticket) -> int:
        """Stores a new ticket and returns its id."""
        return int(self.conn.execute(q.INSERT_TICKET, ticket_values(ticket)).scalar_one())

    def update_ticket(self, before: Ticket, after: Ticket) -> None:
        """Stores a ticket's new state if nobody moved it meanwhile."""
        where = {"ticket_id": after.id, "from_status": before.status.value}
        result = self.conn.execute(q.UPDATE_TICKET, {**where, **ticket_values(after)})
        if result.rowcount != 1:
            raise errors.InvalidState(f"Ticket {after.number} was changed by someone else")

    def update_counter(self, counter: Counter) -> None:
        """Stores a counter's pause, current ticket and streak."""
        self.conn.execute(
            q.UPDATE_COUNTER,
            {
                "counter_id": counter.id,
                "paused": counter.paused,
                "current_ticket_id": counter.current_ticket_id,
                "priority_streak": counter.priority_streak,
            },
        )

    def update_service(self, service: Service) -> None:
        """Stores a service's hours, limit and open flag."""
        self.conn.execute(
            q.UPDATE_SERVICE,
            {
                "service_id": service.id,
                "hours": service.hours,
                "daily_limit": service.daily_limit,
                "is_open": service.is_open,
            },
        )
        self._services = None

    def append_events(self, events: Sequence[TicketEvent]) -> None:
        """Appends to the event log."""
        if events:
            self.conn.execute(q.INSERT_EVENTS, [event_values(self.site_id, e) for e in events])

    def append_outbox(self, events: Sequence[Event], at: datetime) -> list[Event]:
        """Raises the site's sequence number by the events' count and stores them numbered."""
        last = int(self._rows(q.RAISE_SEQ, count=len(events)).scalar_one())
        numbered = [replace(e, seq=seq) for seq, e in enumerate(events, last - len(events) + 1)]
        rows = [
            {
                "site_id": self.site_id,
                "seq": e.seq,
                "kind": e.kind.value,
                "payload": json.dumps(e.payload, ensure_ascii=False),
                "created_at": at,
            }
            for e in numbered
        ]
        self.conn.execute(q.INSERT_OUTBOX, rows)
        return numbered

    def prune_outbox(self, before: datetime) -> int:
        """Forgets stored events older than an instant."""
        return int(self._rows(q.PRUNE_OUTBOX, before=before).rowcount)

    def remember_idempotency(self, device: str, key: str, ticket_id: int, at: datetime) -> None:
        """Stores (or refreshes) the ticket a device's key created."""
        values = {"device": device, "key": key, "ticket_id": ticket_id, "created_at": at}
        self._rows(q.REMEMBER_KEY[self.conn.dialect.name], **values)


def _event(row: Any) -> Event:
    """An Event from an outbox row."""
    return Event(Kind(row.kind), json.loads(row.payload), row.seq)


class SqlRepository:
    """Opens SqlTx transactions on a Database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def write(self, site_id: int) -> Iterator[SqlTx]:
        """A write transaction serialised per site (SQLite's file lock, PostgreSQL's row lock)."""
        with self.db.write() as conn:
            if not self.db.sqlite:
                conn.execute(q.LOCK_SITE, {"site_id": site_id})
            yield SqlTx(conn, site_id)

    @contextmanager
    def read(self, site_id: int) -> Iterator[SqlTx]:
        """A read transaction."""
        with self.db.read() as conn:
            yield SqlTx(conn, site_id)
