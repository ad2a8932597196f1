"""What a request costs must not grow with the length of a line: a call reads only the tickets
it moves and those somebody follows, not every ticket waiting behind them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event


@contextmanager
def emits(app: Flask) -> Iterator[list[str]]:
    """The names of the Socket.IO events the app emits inside the block (still emitted)."""
    socketio = app.extensions["luot"].socketio
    seen: list[str] = []
    emit = socketio.emit

    def record(name: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(name)
        return emit(name, *args, **kwargs)

    socketio.emit = record
    try:
        yield seen
    finally:
        del socketio.emit  # the class's own again


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's database runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = app.extensions["luot"].db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def call_next_costs(
    app: Flask, client: FlaskClient, issue: Any, staff: dict[str, str], waiting: int
) -> tuple[int, list[str]]:
    """Statements run and events emitted by one call-next with `waiting` tickets in line, two
    of them followed (as by two phones on /ticket), and a ticket at the counter to finish."""
    tickets = [issue("TPHT") for _ in range(waiting)]
    followers = app.extensions["luot"].relay.followers
    followers.add("phone-1", tickets[-1]["lookup_code"])
    followers.add("phone-2", tickets[len(tickets) // 2]["lookup_code"])
    assert client.post("/api/v1/counters/Q01/call-next", headers=staff).status_code == 200
    app.extensions["luot"].relay.drain()  # queue_changed counts in a task of its own
    with statements(app) as run, emits(app) as emitted:
        response = client.post("/api/v1/counters/Q01/call-next", headers=staff)
        app.extensions["luot"].relay.drain()
    assert response.status_code == 200
    followers.remove("phone-1")
    followers.remove("phone-2")
    return len(run), sorted(emitted)


def test_a_call_costs_the_same_whatever_the_length_of_the_line(
    app: Flask, client: FlaskClient, issue: Any, make_token: Any
) -> None:
    staff = make_token("staff", counter="Q01")
    short, short_emits = call_next_costs(app, client, issue, staff, waiting=5)
    long, long_emits = call_next_costs(app, client, issue, staff, waiting=60)
    assert short == long, f"{short} statements at 5 waiting, {long} at 60"
    # The two followed tickets (the finished and the called one have no phone): never the
    # whole line.
    assert long_emits == short_emits
    assert long_emits.count("ticket_updated") == 2, long_emits
