"""Several server processes on one database, with no message queue between them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from server.storage import tables as t
from server.storage.db import Database
from tests.conftest import LiveServer
from tests.realtime.live import (
    KIOSK,
    Q01,
    STAFF_Q01,
    Listener,
    act,
    api,
    children,
    handshake,
    issue,
    start,
    status,
    tokens,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def pair(db_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two `luot serve` on one database, and no message queue between them."""
    servers = (LiveServer(db_url, tmp_path), LiveServer(db_url, tmp_path))
    try:
        start(*servers)
        yield servers
    finally:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(LiveServer.stop, servers))


def test_calls_on_one_server_reach_the_displays_and_phones_of_another_in_order(
    pair: tuple[LiveServer, LiveServer], listen: Callable[..., Listener]
) -> None:
    """Each process reads the other's events from the outbox: no Redis at all."""
    a, b = pair
    kiosk, staff = tokens(a, KIOSK, STAFF_Q01)
    display = listen(b)
    state = display.wait_for("state")

    first, second = issue(a, kiosk), issue(a, kiosk)
    counts = display.wait_for("queue_changed", lambda body: body["waiting"]["TPHT"] == 2)
    assert counts["seq"] > state["seq"]
    phone = listen(b, "/ticket", auth={"lookup_code": first["lookup_code"]})
    assert phone.wait_for("ticket_updated")["status"] == "waiting"
    behind = listen(b, "/ticket", auth={"lookup_code": second["lookup_code"]})
    assert behind.wait_for("ticket_updated")["position"] == 2

    called = act(a, staff, "Q01", "call-next")
    call = display.wait_for("ticket_called")
    assert (call["number"], call["counter"], call["called_at"]) == (
        "A001",
        Q01,
        called["called_at"],
    )
    pushed = phone.wait_for("ticket_updated", lambda body: body["status"] == "called")
    assert pushed["counter"] == Q01
    # The ticket behind moved up: b's relay told its follower, from a's line event.
    assert behind.wait_for("ticket_updated", lambda body: body["position"] == 1)
    act(a, staff, "Q01", "call-next")
    again = display.wait_for("ticket_called")
    assert again["number"] == "A002" and again["seq"] > call["seq"] > counts["seq"]
    assert display.taken("ticket_called") == []  # delivered once each


def test_two_servers_and_the_cli_on_one_database_never_give_a_number_twice(
    db_url: str, tmp_path: Path
) -> None:
    """Two `luot serve` on one database (on SQLite: one file), kiosks on both at once, and a
    `luot` command writing meanwhile: every ticket answered 201, numbers 1..n once each."""
    servers = (LiveServer(db_url, tmp_path), LiveServer(db_url, tmp_path))
    try:
        start(*servers)
        (kiosk,) = tokens(servers[0], KIOSK)

        def kiosk_at(server: LiveServer) -> list[str]:
            return [issue(server, kiosk)["number"] for _ in range(40)]

        with ThreadPoolExecutor(4) as pool:
            runs = [pool.submit(kiosk_at, server) for server in servers * 2]
            servers[0].luot("service", "update", "DD", "--daily-limit", "500")
            numbers = [n for run in runs for n in run.result()]
    finally:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(LiveServer.stop, servers))
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, 161)]


def test_a_server_starts_again_on_its_port_right_after_a_stop(db_url: str, tmp_path: Path):
    """The connections a stopped server closed linger on its port (TIME_WAIT); they must not
    make the next start refuse the port as taken."""
    first = LiveServer(db_url, tmp_path)
    start(first)
    try:
        for address in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
            handshake(first, address)  # each closed by the server: it lingers in TIME_WAIT
    finally:
        first.stop()
    again = LiveServer(db_url, tmp_path)
    again.port, again.url = first.port, first.url
    start(again)
    again.stop()
    assert again.process is not None and again.process.returncode == 0


def test_a_port_in_use_is_refused_at_once(db_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            env={**os.environ, "LUOT_DATABASE_URL": db_url, "LUOT_SECRET_KEY": "live"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"luot: port_in_use: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert time.monotonic() - began < 10  # not gunicorn's retries


def test_seq_only_grows_across_a_restart(
    db_url: str, tmp_path: Path, listen: Callable[..., Listener]
) -> None:
    """The sequence lives in the database: a restarted server goes on from it, and a TV
    that reconnects finds the calls it saw, by their seq, in `state`."""
    first = LiveServer(db_url, tmp_path)
    start(first)
    try:
        kiosk, staff = tokens(first, KIOSK, STAFF_Q01)
        issue(first, kiosk), issue(first, kiosk)
        display = listen(first)
        display.wait_for("state")
        act(first, staff, "Q01", "call-next")
        seen = display.wait_for("ticket_called")
        display.close()
    finally:
        first.stop()
    again = LiveServer(db_url, tmp_path)
    start(again)
    try:
        display = listen(again)
        state = display.wait_for("state")
        assert state["seq"] >= seen["seq"]
        assert state["recent_calls"] == [seen]  # the same call, known by its seq
        act(again, staff, "Q01", "call-next")
        call = display.wait_for("ticket_called")
        assert call["number"] == "A002" and call["seq"] > state["seq"]
        display.close()
    finally:
        again.stop()


def test_a_server_killed_between_the_commit_and_the_emit_loses_no_call(
    db_url: str, tmp_path: Path, listen: Callable[..., Listener]
) -> None:
    """The call is in the outbox with its seq before anyone is told: the other server
    publishes it, and a TV that reconnects to the killed one (gunicorn starts its worker
    again) finds it once."""
    doomed = LiveServer(db_url, tmp_path, LUOT_FAULT="kill_after_call")
    other = LiveServer(db_url, tmp_path)
    start(doomed, other)
    try:
        assert doomed.process is not None
        (worker,) = children(doomed.process.pid)
        kiosk, staff = tokens(other, KIOSK, STAFF_Q01)
        ticket = issue(other, kiosk)
        display = listen(other)
        state = display.wait_for("state")
        with pytest.raises(requests.ConnectionError):  # it died before answering
            api(doomed, "POST", "/counters/Q01/call-next", staff)
        call = display.wait_for("ticket_called")  # published by the server that lived
        assert call["number"] == ticket["number"] and call["seq"] > state["seq"]
        assert status(other, ticket["lookup_code"])["status"] == "called"

        deadline = time.monotonic() + 30
        while worker in children(doomed.process.pid) or not healthy(doomed):
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        tv = listen(doomed)
        assert tv.wait_for("state")["recent_calls"] == [call]  # once, known by its seq
        assert display.taken("ticket_called") == []
    finally:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(LiveServer.stop, (doomed, other)))


def healthy(server: LiveServer) -> bool:
    """The server answers /healthz."""
    try:
        return requests.get(f"{server.url}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


def test_under_load_every_tv_of_two_servers_sees_every_call_in_seq_order(
    db_url: str, pair: tuple[LiveServer, LiveServer], listen: Callable[..., Listener]
) -> None:
    """Kiosks and three counters on both servers at once: each TV, on either server, gets
    every call and every counter change once, in seq order, the counts only coalesced."""
    a, b = pair
    kiosk, q01, q03, q05 = tokens(
        a, KIOSK, STAFF_Q01, ("--role", "staff", "--counter", "Q03"),
        ("--role", "staff", "--counter", "Q05"),
    )  # fmt: skip
    tvs = [listen(a), listen(b)]
    start_seq = max(tv.wait_for("state")["seq"] for tv in tvs)
    services = {"Q01": "TPHT", "Q03": "DD", "Q05": "XD"}
    staff = {"Q01": q01, "Q03": q03, "Q05": q05}

    def desk(code: str, server: LiveServer, other: LiveServer) -> list[str]:
        called = []
        for n in range(8):
            issue(server if n % 2 else other, kiosk, services[code])
            called.append(act(server, staff[code], code, "call-next")["number"])
        return called

    with ThreadPoolExecutor(3) as pool:
        runs = [
            pool.submit(desk, "Q01", a, b),
            pool.submit(desk, "Q03", b, a),
            pool.submit(desk, "Q05", a, b),
        ]
        numbers = sorted(n for run in runs for n in run.result())
    last = api(a, "GET", "/display/state").json()["seq"]
    db = Database(db_url)
    try:
        with db.read() as conn:
            kinds = dict(conn.execute(select(t.outbox.c.seq, t.outbox.c.kind)).all())
    finally:
        db.dispose()
    for tv in tvs:
        deadline = time.monotonic() + 10
        while not any(body["seq"] >= last - 2 for _, body in tv.received if body):
            assert time.monotonic() < deadline, "the last events did not arrive"
            time.sleep(0.05)
        time.sleep(0.5)  # a coalesced count may still be held back for its interval
        events = [(name, body) for name, body in tv.received if name != "state"]
        seqs = [body["seq"] for _, body in events]
        assert seqs == sorted(set(seqs)) and seqs[0] > start_seq  # in order, once each
        calls = sorted(body["number"] for name, body in events if name == "ticket_called")
        assert calls == numbers  # every call of both servers
        changes = [body for name, body in events if name == "counter_changed"]
        assert len(changes) == len(numbers)  # one per call
        # What a TV did not get is only what it need not: counts coalesced into later ones,
        # and the line events phones hear of.
        skipped = {kinds[seq] for seq in range(seqs[0], seqs[-1]) if seq not in set(seqs)}
        assert skipped <= {"queue_changed", "tickets_changed"}, skipped
