"""Prepared statements store exactly what Core would, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from server.engine.model import Ticket, TicketStatus
from server.storage import tables as t
from server.storage.db import Database
from server.storage.statements import COUNT_BESIDE, INSERT_TICKET, NEXT_SEQUENCE, ticket_values

AT = datetime(2026, 11, 23, 2, 0, 0, 123456, tzinfo=UTC)


def ticket(seq: int, **changes: object) -> Ticket:
    base = Ticket(
        id=0,
        site_id=1,
        day="2026-11-23",
        seq=seq,
        number=f"A{seq:03d}",
        service_id=1,
        origin_service_id=1,
        procedure_id=None,
        priority=None,
        status=TicketStatus.WAITING,
        lookup_code=f"code-{seq}",
        issued_at=AT,
        queued_at=AT,
        issued_by="kiosk:k1",
    )
    return replace(base, **changes)


def test_prepared_insert_stores_what_core_stores(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.write() as conn:
            core = ticket(901, issued_at=AT + timedelta(hours=7))
            stored = insert(t.tickets).values(**ticket_values(core)).returning(t.tickets.c.id)
            core_id = conn.execute(stored).scalar_one()
            twin = replace(core, seq=902, number="A902", lookup_code="code-902")
            prepared_id = INSERT_TICKET.scalar(conn, ticket_values(twin))
            rows = {
                r.id: r._asdict()
                for r in conn.execute(select(t.tickets).where(t.tickets.c.seq >= 901))
            }
        core_row, prepared_row = rows[core_id], rows[prepared_id]
        assert prepared_row["issued_at"] == core_row["issued_at"] == AT + timedelta(hours=7)
        assert prepared_row["issued_at"].tzinfo == UTC  # read back through the column type
        for row in (core_row, prepared_row):
            del row["id"], row["seq"], row["number"], row["lookup_code"]
        assert prepared_row == core_row
    finally:
        db.dispose()


def test_prepared_counts_and_sequences(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.write() as conn:
            name = conn.dialect.name
            params = {"site_id": 1, "service_id": 1, "day": "2030-01-01"}
            assert [NEXT_SEQUENCE[name].scalar(conn, params) for _ in range(3)] == [1, 2, 3]
            ids = [INSERT_TICKET.scalar(conn, ticket_values(ticket(n))) for n in (1, 2, 3)]
            older, newer = COUNT_BESIDE[(False, False, False)], COUNT_BESIDE[(False, False, True)]
            last = {"site_id": 1, "day": "2026-11-23", "line": 1, "queued_at": AT, "id": ids[-1]}
            assert older.scalar(conn, last) == 2  # same instant: the smaller ids stand ahead
            assert newer.scalar(conn, last) == 0
            first = {**last, "id": ids[0]}
            assert (older.scalar(conn, first), newer.scalar(conn, first)) == (0, 2)
    finally:
        db.dispose()
