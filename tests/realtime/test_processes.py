"""Several server processes: two `luot serve` sharing Redis, and `luot serve --workers N`."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.realtime.live import (
    KIOSK,
    Q01,
    REDIS_ENV,
    STAFF_Q01,
    Listener,
    act,
    children,
    handshake,
    issue,
    post_packets,
    request,
    start,
    tokens,
)

pytestmark = pytest.mark.slow


def redis_env() -> dict[str, str]:
    """LUOT_REDIS_URL for a test, on a channel of its own (other runs are not heard)."""
    base = os.environ.get(REDIS_ENV)
    if not base:
        pytest.skip(f"{REDIS_ENV} is not set")
    return {"LUOT_REDIS_URL": base, "LUOT_REDIS_CHANNEL": f"luot-test-{secrets.token_hex(6)}"}


@pytest.fixture
def redis_pair(db_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two `luot serve` on one database, sharing Socket.IO events through Redis."""
    env = redis_env()
    servers = (LiveServer(db_url, tmp_path, **env), LiveServer(db_url, tmp_path, **env))
    try:
        start(*servers)
        yield servers
    finally:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(LiveServer.stop, servers))


@pytest.mark.redis
def test_a_call_on_one_server_reaches_a_display_on_another(
    redis_pair: tuple[LiveServer, LiveServer], listen: Callable[..., Listener]
) -> None:
    a, b = redis_pair
    kiosk, staff = tokens(a, KIOSK, STAFF_Q01)
    display = listen(b)
    display.wait_for("state")

    ticket = issue(a, kiosk)
    display.wait_for("queue_changed", lambda body: body["waiting"]["TPHT"] == 1)
    phone = listen(b, "/ticket", auth={"lookup_code": ticket["lookup_code"]})
    assert phone.wait_for("ticket_updated")["status"] == "waiting"

    called = act(a, staff, "Q01", "call-next")
    call = display.wait_for("ticket_called")
    assert (call["number"], call["counter"], call["called_at"]) == (
        "A001",
        Q01,
        called["called_at"],
    )
    pushed = phone.wait_for("ticket_updated", lambda body: body["status"] == "called")
    assert pushed["counter"] == Q01
    assert display.taken("ticket_called") == []  # delivered once, not once per server


# -- luot serve --workers N ------------------------------------------------------------------


def knows(server: LiveServer, sid: str, address: str) -> bool:
    """Whether the process that `address` reaches holds the long-polling session `sid` (it
    takes a pong packet, which changes nothing; another process answers 400)."""
    status, body = post_packets(server, sid, b"3", address)
    assert status in (200, 400), (status, body)
    return status == 200


def issue_from(server: LiveServer, address: str, kiosk: str) -> dict:
    """POST /api/v1/tickets as the kiosk at `address`."""
    body = b'{"service": "TPHT"}'
    headers = {"Authorization": f"Bearer {kiosk}", "Content-Type": "application/json"}
    status, answer = request(server, "POST", "/api/v1/tickets", address, body, **headers)
    assert status == 201, answer
    return dict(json.loads(answer))


def gone(pid: int) -> bool:
    """The process has ended (or is only a zombie waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def all_gone(pids: list[int], timeout: float = 20.0) -> bool:
    """Waits until every process has ended."""
    deadline = time.monotonic() + timeout
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return all(gone(pid) for pid in pids)


@pytest.mark.redis
def test_workers_share_the_port_and_each_client_address_stays_with_one(
    db_url: str, tmp_path: Path, listen: Callable[..., Listener]
) -> None:
    server = LiveServer(db_url, tmp_path, "--workers", "2", **redis_env())
    start(server)
    assert server.process is not None
    workers = children(server.process.pid)
    assert len(workers) == 2  # gunicorn's arbiter and two gevent workers
    try:
        # A long-polling client comes back on fresh connections: every time, it reaches the
        # process that holds its session.
        sid = handshake(server, "127.0.0.1")
        assert all(knows(server, sid, "127.0.0.1") for _ in range(12))
        # Other machines reach one process or the other, each machine always the same one.
        addresses = [f"127.0.0.{n}" for n in range(2, 10)]
        same = {address: knows(server, sid, address) for address in addresses}
        assert set(same.values()) == {True, False}
        assert all(knows(server, sid, a) == same[a] for a in addresses for _ in range(3))
        elsewhere = next(a for a in addresses if not same[a])

        # Screens on the first process hear what happens on the other (through Redis),
        # long-polling ones included.
        kiosk, staff = tokens(server, KIOSK, STAFF_Q01)
        display = listen(server)
        polling = listen(server, transports=["polling"])
        for screen in (display, polling):
            screen.wait_for("state")
        first = issue_from(server, elsewhere, kiosk)
        second = issue(server, kiosk)  # from 127.0.0.1: the screens' own process
        assert (first["number"], second["number"]) == ("A001", "A002")
        for screen in (display, polling):
            screen.wait_for("queue_changed", lambda body: body["waiting"]["TPHT"] == 2)
        status, answer = request(
            server,
            "POST",
            "/api/v1/counters/Q01/call-next",
            elsewhere,
            **{"Authorization": f"Bearer {staff}"},
        )
        assert status == 200, answer
        for screen in (display, polling):
            call = screen.wait_for("ticket_called")
            assert (call["number"], call["counter"]) == ("A001", Q01)
        for screen in (display, polling):
            screen.close()
    finally:
        server.stop()
    assert server.process.returncode == 0
    assert all_gone(workers)


def test_several_workers_need_redis(db_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LUOT_REDIS_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--port", "0", "--workers", "2"],
        env={**env, "LUOT_DATABASE_URL": db_url, "LUOT_SECRET_KEY": "live"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "luot: workers_need_redis: several workers need LUOT_REDIS_URL" in done.stderr


@pytest.mark.redis
def test_a_worker_that_dies_is_replaced_and_addresses_stay_with_one_worker(
    db_url: str, tmp_path: Path
) -> None:
    server = LiveServer(db_url, tmp_path, "--workers", "2", **redis_env())
    start(server)
    assert server.process is not None
    try:
        first = children(server.process.pid)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(set(children(server.process.pid)) - {first[0]}) < 2:
            assert time.monotonic() < deadline, "gunicorn did not replace the worker"
            time.sleep(0.1)
        for address in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
            sid = handshake(server, address)
            assert all(knows(server, sid, address) for _ in range(8)), address
    finally:
        server.stop()
    assert server.process.returncode == 0


@pytest.mark.redis
def test_workers_start_again_on_their_port_right_after_a_stop(db_url: str, tmp_path: Path):
    """The connections a stopped server closed linger on its port (TIME_WAIT); they must not
    make the next start refuse the port as taken."""
    env = redis_env()
    first = LiveServer(db_url, tmp_path, "--workers", "2", **env)
    start(first)
    try:
        for address in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
            handshake(first, address)  # each closed by the server: it lingers in TIME_WAIT
    finally:
        first.stop()
    again = LiveServer(db_url, tmp_path, "--workers", "2", **env)
    again.port, again.url = first.port, first.url
    start(again)
    again.stop()
    assert again.process is not None and again.process.returncode == 0
