"""SqlRepository: the engine's Repository on SQLAlchemy Core, for SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.engine import errors
from server.engine.model import (
    Counter,
    PriorityCategory,
    Procedure,
    Service,
    Site,
    Ticket,
    TicketEvent,
    TicketStatus,
)

from . import catalog
from . import tables as t
from .db import Database
from .statements import (
    CATALOG_VERSION,
    COUNT_BESIDE,
    INSERT_EVENTS,
    INSERT_TICKET,
    LINE_KEY,
    LINE_SIZES,
    MOVE_WAITING,
    NEXT_SEQUENCE,
    SERVICES,
    WAITING_COUNTS,
    event_from_row,
    ticket_from_row,
    ticket_values,
)

#: Per site: the catalogue version a process last read its services at, and those services.
ServiceCache = dict[int, tuple[int, tuple[Service, ...]]]


class SqlTx:
    """One transaction on one site; caches the small catalogue tables for its duration."""

    def __init__(self, conn: Connection, site_id: int, cache: ServiceCache) -> None:
        self.conn, self.site_id, self._cache = conn, site_id, cache
        self._site: Site | None = None
        self._services: tuple[Service, ...] | None = None
        self._catalog_changed = False  # then what this transaction reads may yet roll back
        self._counters: list[Counter] | None = None

    def site(self) -> Site:
        """The site row."""
        if self._site is None:
            row = self.conn.execute(select(t.sites).where(t.sites.c.id == self.site_id)).first()
            if row is None:
                raise errors.NotFound(f"No site {self.site_id}: run `luot init`")
            self._site = Site(row.id, row.code, row.name, row.timezone)
        return self._site

    def services(self) -> tuple[Service, ...]:
        """The site's services in display order, reused across transactions while the
        catalogue version stays the same (reading the version is one primary-key lookup)."""
        if self._services is None:
            params = {"site_id": self.site_id}
            version = CATALOG_VERSION.scalar(self.conn, params)
            if version is None:
                raise errors.NotFound(f"No site {self.site_id}: run `luot init`")
            cached = self._cache.get(self.site_id)
            if cached is not None and cached[0] == version:
                self._services = cached[1]
            else:
                rows = self.conn.execute(SERVICES, params)
                self._services = tuple(Service(**dict(r._mapping)) for r in rows)
                if not self._catalog_changed:
                    self._cache[self.site_id] = (version, self._services)
        return self._services

    def counters(self) -> list[Counter]:
        """The site's counters with their services in preference order."""
        if self._counters is None:
            links: dict[int, list[int]] = {}
            for row in self.conn.execute(
                select(t.counter_services.c.counter_id, t.counter_services.c.service_id)
                .join(t.counters, t.counters.c.id == t.counter_services.c.counter_id)
                .where(t.counters.c.site_id == self.site_id)
                .order_by(t.counter_services.c.counter_id, t.counter_services.c.rank)
            ):
                links.setdefault(row.counter_id, []).append(row.service_id)
            rows = self.conn.execute(
                select(t.counters)
                .where(t.counters.c.site_id == self.site_id)
                .order_by(t.counters.c.position, t.counters.c.id)
            )
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
                for r in rows
            ]
        return self._counters

    def procedures(self, service_id: int | None = None) -> list[Procedure]:
        """The site's procedures, or one service's."""
        query = select(t.procedures).where(t.procedures.c.site_id == self.site_id)
        if service_id is not None:
            query = query.where(t.procedures.c.service_id == service_id)
        rows = self.conn.execute(query.order_by(t.procedures.c.position, t.procedures.c.id))
        return [Procedure(r.id, r.site_id, r.code, r.name, r.service_id) for r in rows]

    def priorities(self) -> list[PriorityCategory]:
        """The site's priority categories."""
        rows = self.conn.execute(
            select(t.priority_categories)
            .where(t.priority_categories.c.site_id == self.site_id)
            .order_by(t.priority_categories.c.position, t.priority_categories.c.id)
        )
        return [PriorityCategory(r.code, r.name) for r in rows]

    def _tickets(
        self, *where: Any, order: Sequence[Any] = (), limit: int | None = None
    ) -> list[Ticket]:
        """Tickets of this site matching conditions."""
        query = select(t.tickets).where(t.tickets.c.site_id == self.site_id, *where)
        if order:
            query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        return [ticket_from_row(r) for r in self.conn.execute(query)]

    def ticket(self, ticket_id: int) -> Ticket | None:
        """A ticket by id."""
        found = self._tickets(t.tickets.c.id == ticket_id)
        return found[0] if found else None

    def tickets_by_ids(self, ids: Sequence[int]) -> list[Ticket]:
        """Tickets by id."""
        return self._tickets(t.tickets.c.id.in_(list(ids))) if ids else []

    def ticket_by_lookup(self, lookup_code: str) -> Ticket | None:
        """A ticket by lookup code."""
        found = self._tickets(t.tickets.c.lookup_code == lookup_code)
        return found[0] if found else None

    def ticket_by_number(self, day: str, number: str) -> Ticket | None:
        """A ticket by its number of the day."""
        found = self._tickets(t.tickets.c.day == day, t.tickets.c.number == number)
        return found[0] if found else None

    @staticmethod
    def _line(day: str, service_id: int | None, counter_id: int | None) -> list[Any]:
        """Conditions selecting one waiting line."""
        where = [t.tickets.c.day == day, t.tickets.c.status == TicketStatus.WAITING.value]
        if counter_id is not None:
            where.append(t.tickets.c.target_counter_id == counter_id)
        elif service_id is not None:
            where += [t.tickets.c.service_id == service_id, t.tickets.c.target_counter_id.is_(None)]
        return where

    def waiting(
        self, day: str, service_id: int | None = None, counter_id: int | None = None
    ) -> list[Ticket]:
        """The waiting tickets of one line, or of the whole day."""
        order = (t.tickets.c.queued_at, t.tickets.c.id)
        return self._tickets(*self._line(day, service_id, counter_id), order=order)

    def line_heads(
        self, day: str, service_id: int | None = None, counter_id: int | None = None
    ) -> list[Ticket]:
        """The oldest priority and the oldest ordinary ticket of a line."""
        where = self._line(day, service_id, counter_id)
        order = (t.tickets.c.queued_at, t.tickets.c.id)
        heads = self._tickets(*where, t.tickets.c.priority.is_not(None), order=order, limit=1)
        heads += self._tickets(*where, t.tickets.c.priority.is_(None), order=order, limit=1)
        return heads

    def count_ahead(self, ticket: Ticket) -> int:
        """Waiting tickets of the ticket's line ordered before it (priority first, then oldest).

        An ordinary ticket has every waiting priority ticket of its line ahead, and the
        ordinary ones but those queued after it: the line's counts minus a count that is an
        index range from the ticket on, so a new ticket at the end of a long line is cheap.
        """
        by_counter = ticket.target_counter_id is not None
        line = ticket.target_counter_id if by_counter else ticket.service_id
        params = {"site_id": self.site_id, "day": ticket.day, "line": line}
        place = {**params, "queued_at": ticket.queued_at, "id": ticket.id}
        if ticket.priority:
            return int(COUNT_BESIDE[(by_counter, True, False)].scalar(self.conn, place))
        sizes = dict(LINE_SIZES[by_counter].rows(self.conn, params))
        newer = int(COUNT_BESIDE[(by_counter, False, True)].scalar(self.conn, place))
        return int(sizes.get(1, 0)) + int(sizes.get(0, 0)) - newer - 1

    def waiting_counts(self, day: str) -> dict[int, int]:
        """Waiting tickets per service id (from the line counts)."""
        rows = self.conn.execute(WAITING_COUNTS, {"site_id": self.site_id, "day": day})
        return {row[0]: int(row[1]) for row in rows}

    def recent_service_seconds(self, service_id: int, day: str, limit: int) -> list[float]:
        """Called-to-finished durations of the service's latest served tickets of the day."""
        rows = self._tickets(
            t.tickets.c.day == day,
            t.tickets.c.service_id == service_id,
            t.tickets.c.status == TicketStatus.SERVED.value,
            t.tickets.c.called_at.is_not(None),
            order=(t.tickets.c.finished_at.desc(),),
            limit=limit,
        )
        return [
            (r.finished_at - r.called_at).total_seconds()
            for r in rows
            if r.finished_at and r.called_at
        ]

    def active_counter_ids(self, since: datetime) -> set[int]:
        """Counters that called somebody since the instant."""
        e = t.ticket_events.c
        rows = self.conn.execute(
            select(e.counter_id)
            .distinct()
            .where(e.site_id == self.site_id, e.action == "call", e.at >= since)
        )
        return {r[0] for r in rows if r[0] is not None}

    def recent_calls(self, day: str, limit: int) -> list[TicketEvent]:
        """The day's latest calls and recalls, newest first."""
        e = t.ticket_events.c
        rows = self.conn.execute(
            select(t.ticket_events)
            .join(t.tickets, t.tickets.c.id == e.ticket_id)
            .where(
                e.site_id == self.site_id, t.tickets.c.day == day, e.action.in_(["call", "recall"])
            )
            .order_by(e.id.desc())
            .limit(limit)
        )
        return [event_from_row(r) for r in rows]

    def idempotent_ticket_id(self, device: str, key: str, since: datetime) -> int | None:
        """The ticket a device's key created after `since`."""
        k = t.idempotency_keys.c
        row = self.conn.execute(
            select(k.ticket_id).where(
                k.site_id == self.site_id, k.device == device, k.key == key, k.created_at >= since
            )
        ).first()
        return None if row is None else int(row[0])

    # -- writes -------------------------------------------------------------------------

    def _upsert(self) -> Any:
        """The dialect's INSERT … ON CONFLICT."""
        return sqlite_insert if self.conn.dialect.name == "sqlite" else pg_insert

    def next_sequence(self, service_id: int, day: str) -> int:
        """INSERT … ON CONFLICT DO UPDATE … RETURNING: one atomic statement on both databases."""
        params = {"site_id": self.site_id, "service_id": service_id, "day": day}
        return int(NEXT_SEQUENCE[self.conn.dialect.name].scalar(self.conn, params))

    def insert_ticket(self, ticket: Ticket) -> int:
        """Stores a new ticket (and counts it in its line)."""
        ticket_id = int(INSERT_TICKET.scalar(self.conn, ticket_values(ticket)))
        self._count_in_line(ticket, 1)
        return ticket_id

    def update_ticket(self, before: Ticket, after: Ticket) -> None:
        """Stores a ticket's new state if nobody moved it meanwhile (and moves its line count)."""
        result = self.conn.execute(
            update(t.tickets)
            .where(t.tickets.c.id == after.id, t.tickets.c.status == before.status.value)
            .values(**ticket_values(after))
        )
        if result.rowcount != 1:
            raise errors.InvalidState(f"Ticket {after.number} was changed by someone else")
        if _line_key(before) != _line_key(after):
            self._count_in_line(before, -1)
            self._count_in_line(after, 1)

    def _count_in_line(self, ticket: Ticket, change: int) -> None:
        """Adds `change` to the count of the line a waiting ticket stands in."""
        key = _line_key(ticket)
        if key is not None:
            values = dict(zip(LINE_KEY, (self.site_id, *key), strict=True))
            MOVE_WAITING[self.conn.dialect.name].rows(self.conn, {**values, "waiting": change})

    def update_counter(self, counter: Counter) -> None:
        """Stores a counter's pause, current ticket and streak."""
        self.conn.execute(
            update(t.counters)
            .where(t.counters.c.id == counter.id)
            .values(
                paused=counter.paused,
                current_ticket_id=counter.current_ticket_id,
                priority_streak=counter.priority_streak,
            )
        )

    def update_service(self, service: Service) -> None:
        """Stores a service's hours, limit and open flag."""
        self.conn.execute(
            update(t.services)
            .where(t.services.c.id == service.id)
            .values(hours=service.hours, daily_limit=service.daily_limit, is_open=service.is_open)
        )
        catalog.touch(self.conn, self.site_id)
        self._services, self._catalog_changed = None, True

    def append_events(self, events: Sequence[TicketEvent]) -> None:
        """Appends to the event log."""
        INSERT_EVENTS.many(
            self.conn,
            [
                {
                    "site_id": self.site_id,
                    "ticket_id": e.ticket_id,
                    "at": e.at,
                    "action": e.action.value,
                    "from_status": e.from_status.value if e.from_status else None,
                    "to_status": e.to_status.value,
                    "actor": e.actor,
                    "counter_id": e.counter_id,
                    "service_id": e.service_id,
                    "target_counter_id": e.target_counter_id,
                    "data": json.dumps(e.data, ensure_ascii=False, sort_keys=True),
                }
                for e in events
            ],
        )

    def remember_idempotency(self, device: str, key: str, ticket_id: int, at: datetime) -> None:
        """Stores (or refreshes) the ticket a device's key created."""
        k = t.idempotency_keys
        stmt = self._upsert()(k).values(
            site_id=self.site_id, device=device, key=key, ticket_id=ticket_id, created_at=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[k.c.site_id, k.c.device, k.c.key],
            set_={"ticket_id": ticket_id, "created_at": at},
        )
        self.conn.execute(stmt)

    def unfinished_before(self, day: str) -> list[Ticket]:
        """Tickets of earlier days still waiting, called or serving."""
        unfinished = [
            s.value for s in (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING)
        ]
        return self._tickets(
            t.tickets.c.day < day, t.tickets.c.status.in_(unfinished), order=(t.tickets.c.id,)
        )


def _line_key(ticket: Ticket) -> tuple[str, int, int, int] | None:
    """(day, service, counter or 0, priority 0/1) of the line a waiting ticket stands in."""
    if ticket.status != TicketStatus.WAITING:
        return None
    return (
        ticket.day,
        ticket.service_id,
        ticket.target_counter_id or 0,
        int(bool(ticket.priority)),
    )


class SqlRepository:
    """Opens SqlTx transactions on a Database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.services: ServiceCache = {}

    @contextmanager
    def write(self, site_id: int) -> Iterator[SqlTx]:
        """A write transaction serialised per site (SQLite's file lock, PostgreSQL's row lock)."""
        with self.db.write() as conn:
            if not self.db.sqlite:
                conn.execute(select(t.sites.c.id).where(t.sites.c.id == site_id).with_for_update())
            yield SqlTx(conn, site_id, self.services)

    @contextmanager
    def read(self, site_id: int) -> Iterator[SqlTx]:
        """A read transaction."""
        with self.db.read() as conn:
            yield SqlTx(conn, site_id, self.services)
