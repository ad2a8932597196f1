"""SqlRepository: the engine's Repository on SQLAlchemy Core, for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, insert, literal, select, tuple_, update
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

from . import tables as t
from .db import Database
from .rows import event_from_row, event_values, ticket_from_row, ticket_values


class SqlTx:
    """One transaction on one site; reads the small catalogue tables once in it."""

    def __init__(self, conn: Connection, site_id: int) -> None:
        self.conn, self.site_id = conn, site_id
        self._site: Site | None = None
        self._services: tuple[Service, ...] | None = None
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
        """The site's services in display order."""
        if self._services is None:
            s = t.services.c
            rows = self.conn.execute(
                select(t.services).where(s.site_id == self.site_id).order_by(s.position, s.id)
            )
            self._services = tuple(Service(**r._asdict()) for r in rows)
        return self._services

    def service(self, code: str) -> Service | None:
        """One service by its code."""
        s = t.services.c
        row = self.conn.execute(
            select(t.services).where(s.site_id == self.site_id, s.code == code)
        ).first()
        return None if row is None else Service(**row._asdict())

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
        p = t.procedures.c
        query = select(t.procedures).where(p.site_id == self.site_id)
        if service_id is not None:
            query = query.where(p.service_id == service_id)
        rows = self.conn.execute(query.order_by(p.position, p.id))
        return [
            Procedure(r.id, r.site_id, r.code, r.name, r.service_id, r.name_folded) for r in rows
        ]

    def procedure(self, code: str) -> Procedure | None:
        """One procedure by its code."""
        p = t.procedures.c
        r = self.conn.execute(
            select(t.procedures).where(p.site_id == self.site_id, p.code == code)
        ).first()
        return None if r is None else Procedure(r.id, r.site_id, r.code, r.name, r.service_id)

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

    def tickets_by_lookup(self, lookup_codes: Collection[str]) -> list[Ticket]:
        """Tickets by lookup code."""
        codes = list(lookup_codes)
        return self._tickets(t.tickets.c.lookup_code.in_(codes)) if codes else []

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
        """Waiting tickets of the ticket's line ordered before it: every priority ticket ahead
        of an ordinary one, then by queued_at (an index range of the line)."""
        k = t.tickets.c
        queued = literal(ticket.queued_at, k.queued_at.type)
        before = tuple_(k.queued_at, k.id) < tuple_(queued, literal(ticket.id))
        if ticket.priority:
            ahead = k.priority.is_not(None) & before
        else:
            ahead = k.priority.is_not(None) | before
        where = self._line(ticket.day, ticket.service_id, ticket.target_counter_id)
        query = select(func.count()).select_from(t.tickets)
        return int(
            self.conn.execute(query.where(k.site_id == self.site_id, *where, ahead)).scalar_one()
        )

    def waiting_counts(self, day: str) -> dict[int, int]:
        """Waiting tickets per service id."""
        k = t.tickets.c
        rows = self.conn.execute(
            select(k.service_id, func.count())
            .where(k.site_id == self.site_id, k.day == day, k.status == TicketStatus.WAITING.value)
            .group_by(k.service_id)
        )
        return {row[0]: int(row[1]) for row in rows}

    def recent_service_seconds(self, service_id: int, day: str, limit: int) -> list[float]:
        """Called-to-finished durations of the service's latest served tickets of the day."""
        k = t.tickets.c
        rows = self.conn.execute(
            select(k.called_at, k.finished_at)
            .where(
                k.site_id == self.site_id,
                k.day == day,
                k.service_id == service_id,
                k.status == TicketStatus.SERVED.value,
                k.called_at.is_not(None),
                k.finished_at.is_not(None),
            )
            .order_by(k.finished_at.desc())
            .limit(limit)
        )
        return [(finished - called).total_seconds() for called, finished in rows]

    def active_counter_ids(self, since: datetime) -> set[int]:
        """Counters that called somebody since the instant."""
        e = t.ticket_events.c
        rows = self.conn.execute(
            select(e.counter_id)
            .distinct()
            .where(e.site_id == self.site_id, e.action == "call", e.at >= since)
        )
        return {r[0] for r in rows if r[0] is not None}

    def open_counters(self, service_id: int, since: datetime) -> tuple[int, int]:
        """Unpaused counters serving the service: (those that called since the instant, all)."""
        c, cs, e = t.counters.c, t.counter_services.c, t.ticket_events.c
        called = (
            select(e.id)
            .where(e.site_id == self.site_id, e.counter_id == c.id, e.action == "call")
            .where(e.at >= since)
            .exists()
        )
        active, serving = self.conn.execute(
            select(func.coalesce(func.sum(case((called, 1), else_=0)), 0), func.count())
            .select_from(t.counters.join(t.counter_services, cs.counter_id == c.id))
            .where(c.site_id == self.site_id, cs.service_id == service_id, c.paused.is_(False))
        ).one()
        return int(active), int(serving)

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
        d = t.daily_sequences
        stmt = self._upsert()(d).values(
            site_id=self.site_id, service_id=service_id, day=day, last=1
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[d.c.site_id, d.c.service_id, d.c.day], set_={"last": d.c.last + 1}
        )
        return int(self.conn.execute(stmt.returning(d.c.last)).scalar_one())

    def insert_ticket(self, ticket: Ticket) -> int:
        """Stores a new ticket and returns its id."""
        stmt = insert(t.tickets).values(**ticket_values(ticket)).returning(t.tickets.c.id)
        return int(self.conn.execute(stmt).scalar_one())

    def update_ticket(self, before: Ticket, after: Ticket) -> None:
        """Stores a ticket's new state if nobody moved it meanwhile."""
        result = self.conn.execute(
            update(t.tickets)
            .where(t.tickets.c.id == after.id, t.tickets.c.status == before.status.value)
            .values(**ticket_values(after))
        )
        if result.rowcount != 1:
            raise errors.InvalidState(f"Ticket {after.number} was changed by someone else")

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
        self._services = None

    def append_events(self, events: Sequence[TicketEvent]) -> None:
        """Appends to the event log."""
        if events:
            rows = [event_values(self.site_id, e) for e in events]
            self.conn.execute(insert(t.ticket_events), rows)

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


class SqlRepository:
    """Opens SqlTx transactions on a Database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def write(self, site_id: int) -> Iterator[SqlTx]:
        """A write transaction serialised per site (SQLite's file lock, PostgreSQL's row lock)."""
        with self.db.write() as conn:
            if not self.db.sqlite:
                conn.execute(select(t.sites.c.id).where(t.sites.c.id == site_id).with_for_update())
            yield SqlTx(conn, site_id)

    @contextmanager
    def read(self, site_id: int) -> Iterator[SqlTx]:
        """A read transaction."""
        with self.db.read() as conn:
            yield SqlTx(conn, site_id)
