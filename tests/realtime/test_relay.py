"""The relay, in process: what it emits from the outbox, and in which order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient


def test_events_go_out_in_seq_order_with_the_counts_coalesced(
    app: Flask, client: FlaskClient, issue: Any, make_token: Any
) -> None:
    staff = make_token("staff", counter="Q01")
    relay = app.extensions["luot"].relay
    relay.drain()
    with displayed(app) as seen:
        issue("TPHT")
        assert client.post("/api/v1/counters/Q01/call-next", headers=staff).status_code == 200
        issue("TPHT")  # counts that a recall follows before their interval is over
        assert client.post("/api/v1/counters/Q01/recall", headers=staff).status_code == 200
        relay.drain()
    seqs = [seq for _, seq in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seen  # seq only grows
    assert [name for name, _ in seen] == [
        "queue_changed",
        "ticket_called",
        "counter_changed",
        "queue_changed",  # the call's counts, coalesced with the second ticket's
        "ticket_called",  # the recall
        "counter_changed",
    ]


@contextmanager
def displayed(app: Flask) -> Iterator[list[tuple[str, int]]]:
    """(name, seq) of every /display event the app emits inside the block (still emitted)."""
    socketio = app.extensions["luot"].socketio
    seen: list[tuple[str, int]] = []
    emit = socketio.emit

    def record(name: str, body: Any = None, **kwargs: Any) -> Any:
        if kwargs.get("namespace") == "/display":
            seen.append((name, body["seq"]))
        return emit(name, body, **kwargs)

    socketio.emit = record
    try:
        yield seen
    finally:
        del socketio.emit
