"""The outbox: each command's events stored in its own transaction, numbered by the site."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.engine import errors
from server.engine.clock import ManualClock
from server.engine.engine import QueueEngine
from server.engine.events import CollectingSink, Kind
from server.storage import tables as t
from server.storage.db import Database
from server.storage.repository import SqlRepository
from tests.conftest import MONDAY_9AM


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A Database on the fresh demo database (SQLite and PostgreSQL)."""
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def engine(db: Database) -> QueueEngine:
    """An engine on the database, on a manual clock, collecting what it publishes."""
    return QueueEngine(SqlRepository(db), ManualClock(MONDAY_9AM), CollectingSink())


def stored(db: Database) -> list[tuple[int, str]]:
    """(seq, kind) of every outbox row, and the site's last seq must be the last of them."""
    with db.read() as conn:
        rows = [(r.seq, r.kind) for r in conn.execute(select(t.outbox).order_by(t.outbox.c.seq))]
        last = conn.execute(select(t.sites.c.event_seq)).scalar_one()
    assert last == (rows[-1][0] if rows else 0)
    return rows


def test_each_command_stores_its_events_numbered_one_after_another(
    db: Database, engine: QueueEngine
) -> None:
    engine.issue("TPHT")
    engine.issue("TPHT", priority="elderly")
    engine.call_next("Q01")
    kinds = [kind for _, kind in stored(db)]
    assert kinds == [
        "queue_changed",  # an ordinary ticket moves nobody: counts only
        "queue_changed",
        "tickets_changed",  # a priority ticket steps ahead of the first one
        "ticket_called",
        "counter_changed",
        "queue_changed",
        "tickets_changed",
    ]
    assert [seq for seq, _ in stored(db)] == list(range(1, 8))
    published = engine.sink.events  # type: ignore[attr-defined]
    assert [(e.seq, e.kind.value) for e in published] == stored(db)
    call = next(e for e in published if e.kind == Kind.TICKET_CALLED)
    assert call.payload["number"] == "A002"  # the priority ticket first
    counter = next(e for e in published if e.kind == Kind.COUNTER_CHANGED)
    assert counter.payload["code"] == "Q01" and counter.payload["current"]["number"] == "A002"
    counts = [e for e in published if e.kind == Kind.QUEUE_CHANGED][-1]
    assert counts.payload["waiting"]["TPHT"] == 1


def test_a_command_that_fails_stores_no_event_and_takes_no_number(
    db: Database, engine: QueueEngine
) -> None:
    engine.issue("TPHT")
    before = stored(db)
    engine.update_service("TPHT", daily_limit=1)
    with pytest.raises(errors.DailyLimitReached):
        engine.issue("TPHT")  # it took a number and wrote nothing else before it failed
    with pytest.raises(errors.NoCurrentTicket):
        engine.recall("Q01")
    assert stored(db) == before
    view = engine.call_next("Q01")
    assert view is not None and stored(db)[-1][0] == before[-1][0] + 4


def test_state_carries_the_last_seq_and_each_recent_call_its_own(
    db: Database, engine: QueueEngine
) -> None:
    engine.issue("TPHT")
    engine.call_next("Q01")
    engine.recall("Q01")
    state = engine.queries.display_state()
    calls = [e for e in engine.sink.events if e.kind == Kind.TICKET_CALLED]  # type: ignore[attr-defined]
    assert state["seq"] == stored(db)[-1][0]
    assert [c["seq"] for c in state["recent_calls"]] == [calls[1].seq, calls[0].seq]
    assert [c["recall"] for c in state["recent_calls"]] == [True, False]
    assert state["recent_calls"][0] == {**calls[1].payload, "seq": calls[1].seq}


def test_old_rows_are_pruned_and_the_numbers_go_on(db: Database, engine: QueueEngine) -> None:
    engine.issue("TPHT")
    engine.clock.advance(days=8)  # type: ignore[attr-defined]
    engine.issue("TPHT")
    assert engine.prune_outbox(timedelta(days=7)) == 1
    rows = stored(db)
    # Day nine's first write expired day one's ticket and issued one: seq 2 and 3 stay.
    assert [seq for seq, _ in rows] == [2, 3]
    published = engine.sink.events  # type: ignore[attr-defined]
    assert engine.queries.events_after(0) == [e for e in published if e.seq > 1]
