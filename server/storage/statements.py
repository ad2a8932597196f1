"""The statements of the issuing path, built once, and the mappers from rows to records.

A kiosk burst runs these hundreds of times a second; building a SQLAlchemy statement costs
more than SQLite takes to run it, so they are module constants with bind parameters, and
those whose results need no conversion are `Prepared` (run on the driver's cursor).
"""

from __future__ import annotations

import json
from itertools import product
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.engine.model import Action, Ticket, TicketEvent, TicketStatus

from . import tables as t
from .prepared import Prepared

TICKET_FIELDS = [c.name for c in t.tickets.columns]
TK = t.tickets.c

CATALOG_VERSION = Prepared(
    select(t.sites.c.catalog_version).where(t.sites.c.id == bindparam("site_id"))
)
SERVICES = (
    select(t.services)
    .where(t.services.c.site_id == bindparam("site_id"))
    .order_by(t.services.c.position, t.services.c.id)
)
NEXT_SEQUENCE = {
    dialect: Prepared(
        insert_for(t.daily_sequences)
        .values(
            site_id=bindparam("site_id"),
            service_id=bindparam("service_id"),
            day=bindparam("day"),
            last=1,
        )
        .on_conflict_do_update(
            index_elements=["site_id", "service_id", "day"],
            set_={"last": t.daily_sequences.c.last + 1},
        )
        .returning(t.daily_sequences.c.last)
    )
    for dialect, insert_for in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}
INSERT_TICKET = Prepared(
    insert(t.tickets).returning(TK.id), [f for f in TICKET_FIELDS if f != "id"]
)
INSERT_EVENTS = Prepared(
    insert(t.ticket_events), [c.name for c in t.ticket_events.columns if c.name != "id"]
)
WL = t.waiting_lines.c
LINE_KEY = ["site_id", "day", "service_id", "target_counter_id", "priority"]


def _move_waiting(insert_for: Any) -> Prepared:
    """Adds `waiting` (1 or -1) to a line's count, creating its row."""
    stmt = insert_for(t.waiting_lines)
    stmt = stmt.on_conflict_do_update(
        index_elements=LINE_KEY, set_={"waiting": WL.waiting + stmt.excluded.waiting}
    )
    return Prepared(stmt, [*LINE_KEY, "waiting"])


MOVE_WAITING = {"sqlite": _move_waiting(sqlite_insert), "postgresql": _move_waiting(pg_insert)}
WAITING_COUNTS = (
    select(WL.service_id, func.sum(WL.waiting))
    .where(WL.site_id == bindparam("site_id"), WL.day == bindparam("day"))
    .group_by(WL.service_id)
    .having(func.sum(WL.waiting) > 0)
)


def _line_sizes(by_counter: bool) -> Prepared:
    """(priority 0/1, tickets waiting) of one line: a service's or a counter's own."""
    line = (
        WL.target_counter_id == bindparam("line")
        if by_counter
        else and_(WL.service_id == bindparam("line"), WL.target_counter_id == 0)
    )
    where = and_(WL.site_id == bindparam("site_id"), WL.day == bindparam("day"), line)
    return Prepared(select(WL.priority, func.sum(WL.waiting)).where(where).group_by(WL.priority))


def _count_beside(by_counter: bool, priority: bool, newer: bool) -> Prepared:
    """Counts the waiting tickets of a line of the same kind (priority or ordinary) queued
    after (`newer`) or before a given one: an index range from the given ticket on."""
    line = (
        TK.target_counter_id == bindparam("line")
        if by_counter
        else and_(TK.service_id == bindparam("line"), TK.target_counter_id.is_(None))
    )
    place = tuple_(TK.queued_at, TK.id)
    given = tuple_(bindparam("queued_at", type_=TK.queued_at.type), bindparam("id"))
    return Prepared(
        select(func.count())
        .select_from(t.tickets)
        .where(
            TK.site_id == bindparam("site_id"),
            TK.day == bindparam("day"),
            TK.status == TicketStatus.WAITING.value,
            line,
            TK.priority.is_not(None) if priority else TK.priority.is_(None),
            place > given if newer else place < given,
        )
    )


LINE_SIZES = {by_counter: _line_sizes(by_counter) for by_counter in (False, True)}
COUNT_BESIDE = {key: _count_beside(*key) for key in product((False, True), repeat=3)}


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
