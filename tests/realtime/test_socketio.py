"""Socket.IO end to end: the real python-socketio client against a live `luot serve`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from socketio.exceptions import ConnectionError as SocketConnectionError

from tests.conftest import LiveServer
from tests.realtime.live import (
    CALL_KEYS,
    PUSH_TIMEOUT,
    Listener,
    act,
    api,
    children,
    issue,
    open_line,
    start,
    status,
    tokens,
)

pytestmark = pytest.mark.slow


def assert_site_time(value: str) -> None:
    """ISO 8601 with the site's offset, e.g. 2026-11-23T09:35:00.000+07:00."""
    assert value.endswith("+07:00"), value
    assert datetime.fromisoformat(value).utcoffset() == timedelta(hours=7)


# -- /display -------------------------------------------------------------------------------


def test_display_gets_state_queue_changes_calls_and_recalls(
    live_server: LiveServer, listen: Callable[..., Listener]
) -> None:
    line = open_line(live_server)
    (desk,), (staff,) = line.counters, line.staff
    code, first = line.code, f"{line.prefix}001"
    display = listen(live_server)

    state = display.wait_for("state")
    assert state == api(live_server, "GET", "/display/state").json()
    assert {"counters", "recent_calls", "waiting", "seq"} <= set(state)
    assert [c for c in state["recent_calls"] if c["counter"] == desk] == []
    for counter in state["counters"]:
        assert {"code", "name", "current"} <= set(counter)
    mine = [c for c in state["counters"] if c["code"] == desk["code"]]
    assert [(c["name"], c["current"]) for c in mine] == [(desk["name"], None)]
    assert state["waiting"][code] == 0 and set(state["waiting"]) >= {"TPHT", "DD", "TKQ", code}

    ticket = issue(live_server, line.kiosk, code)
    assert ticket["number"] == first
    changed = display.wait_for("queue_changed", lambda body: body["waiting"][code] == 1)
    assert set(changed) == {"waiting", "seq"}
    assert set(changed["waiting"]) == set(state["waiting"])
    assert changed["seq"] > state["seq"]

    called = act(live_server, staff, desk["code"], "call-next")
    call = display.wait_for("ticket_called")
    assert set(call) == CALL_KEYS
    assert call == {
        "number": first,
        "counter": desk,
        "service": line.service,
        "called_at": called["called_at"],
        "recall": False,
        "announcement": f"Xin mời công dân có số thứ tự {line.prefix} không không một"
        " đến quầy số hai mươi mốt",
        "audio_url": None,
        "seq": call["seq"],
    }
    assert call["seq"] > changed["seq"]
    assert_site_time(call["called_at"])
    display.wait_for("queue_changed", lambda body: body["waiting"][code] == 0)

    act(live_server, staff, desk["code"], "recall")
    recall = display.wait_for("ticket_called")
    assert recall["recall"] is True
    assert (recall["number"], recall["counter"], recall["service"]) == (first, desk, line.service)
    assert f"{line.prefix} không không một" in recall["announcement"]
    assert recall["announcement"].endswith("quầy số hai mươi mốt")
    assert_site_time(recall["called_at"])
    assert recall["called_at"] >= call["called_at"] and recall["seq"] > call["seq"]
    assert display.taken("ticket_called") == []  # one emit per call, no duplicates

    # A TV that reconnects (here through polling, then the websocket upgrade) redraws.
    display.close()
    again = listen(live_server, transports=["polling", "websocket"])
    fresh = again.wait_for("state")
    assert fresh["recent_calls"][:2] == [recall, call]  # newest first, the bodies sent live
    assert fresh["seq"] >= recall["seq"]
    current = {c["code"]: c["current"] for c in fresh["counters"]}
    assert current[desk["code"]] == {
        "number": first,
        "service": line.service,
        "status": "called",
        "called_at": called["called_at"],
    }
    assert fresh["waiting"][code] == 0
    assert fresh == api(live_server, "GET", "/display/state").json()


def test_display_gets_every_call_of_a_burst_from_two_counters(
    live_server: LiveServer, listen: Callable[..., Listener]
) -> None:
    line = open_line(live_server, counters=2)
    (supervisor,) = tokens(live_server, ("--role", "supervisor"))
    q1, q2 = (desk["code"] for desk in line.counters)
    issued = [issue(live_server, line.kiosk, line.code)["number"] for _ in range(2)]
    display = listen(live_server)
    display.wait_for("state")

    together = threading.Barrier(2)
    sent: dict[str, float] = {}

    def call(token: str, counter: str) -> dict[str, Any]:
        together.wait(timeout=PUSH_TIMEOUT)
        sent[counter] = time.monotonic()
        return act(live_server, token, counter, "call-next")

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(call, supervisor, q1)
        second = pool.submit(call, supervisor, q2)
        answers = {q1: first.result()["number"], q2: second.result()["number"]}
    assert abs(sent[q1] - sent[q2]) < 0.05  # the two presses really were a burst
    assert sorted(answers.values()) == sorted(issued)  # one ticket each, none given twice

    calls = {c["counter"]["code"]: c for c in [display.wait_for("ticket_called") for _ in answers]}
    assert {code: c["number"] for code, c in calls.items()} == answers
    assert [calls[q1]["counter"], calls[q2]["counter"]] == line.counters
    assert all(c["recall"] is False for c in calls.values())
    display.wait_for("queue_changed", lambda body: body["waiting"][line.code] == 0)
    assert display.taken("ticket_called") == []


# -- /ticket --------------------------------------------------------------------------------


def test_a_burst_of_issues_sends_few_queue_changes_and_the_last_counts_all(
    live_server: LiveServer, listen: Callable[..., Listener]
) -> None:
    """Displays get at most ~10 queue_changed a second, never a stale last one."""
    line = open_line(live_server)
    display = listen(live_server)
    display.wait_for("state")
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: issue(live_server, line.kiosk, line.code), range(40)))
    display.wait_for("queue_changed", lambda body: body["waiting"][line.code] == 40)
    time.sleep(0.3)  # a send after the full count would be a stale one: there must be none
    earlier = [body["waiting"][line.code] for body in display.taken("queue_changed")]
    assert all(n < 40 for n in earlier) and earlier == sorted(earlier), earlier
    # 40 issues, but one send at the start of each 0.1 s and one at its end at most
    assert len(earlier) + 1 <= 2 + (time.monotonic() - started) / 0.1, earlier


def assert_refused(server: LiveServer, auth: Any, code: str) -> None:
    """Connecting to /ticket with this auth raises ConnectionError, naming the error code."""
    listener = Listener("/ticket")
    with pytest.raises(SocketConnectionError):
        listener.connect(server, auth=auth)
    listener.close()
    # The stable code reaches the client (today only inside a stringified dict: see report).
    assert listener.refusal["data"]["code"] == code, (auth, listener.refusal)
    assert listener.received == []


def test_ticket_refuses_unknown_codes_and_pushes_place_and_call(
    live_server: LiveServer, listen: Callable[..., Listener]
) -> None:
    line = open_line(live_server)
    (desk,), (staff,) = line.counters, line.staff
    tickets = [issue(live_server, line.kiosk, line.code) for _ in range(3)]
    mine = tickets[2]
    code = mine["lookup_code"]

    for auth in (None, {}, {"lookup_code": ""}, {"lookup_code": 12345}, {"lookup_code": "x" * 500}):
        assert_refused(live_server, auth, "unauthorized")
    assert_refused(live_server, {"lookup_code": code[::-1]}, "not_found")
    assert_refused(live_server, {"lookup_code": mine["number"]}, "not_found")

    phone = listen(live_server, "/ticket", auth={"lookup_code": code})
    first = phone.wait_for("ticket_updated")
    assert first == status(live_server, code)
    assert set(first) == {
        "number",
        "service",
        "status",
        "position",
        "waiting_ahead",
        "estimated_wait_seconds",
        "counter",
    }
    third = (f"{line.prefix}003", "waiting", line.service)
    assert (first["number"], first["status"], first["service"]) == third
    assert (first["position"], first["waiting_ahead"], first["counter"]) == (3, 2, None)

    for ahead in (1, 0):
        act(live_server, staff, desk["code"], "call-next")
        pushed = phone.wait_for("ticket_updated", lambda body, n=ahead: body["waiting_ahead"] == n)
        assert pushed["status"] == "waiting"
        assert pushed["position"] == ahead + 1

    called = act(live_server, staff, desk["code"], "call-next")
    assert called["number"] == f"{line.prefix}003"
    pushed = phone.wait_for("ticket_updated", lambda body: body["status"] == "called")
    assert pushed["counter"] == desk
    assert pushed["position"] is None and pushed["waiting_ahead"] is None
    assert pushed["estimated_wait_seconds"] is None
    assert pushed == status(live_server, code)


def test_ticket_cancel_pushes_cancelled_and_moves_the_next_up(
    live_server: LiveServer, listen: Callable[..., Listener]
) -> None:
    line = open_line(live_server)
    first, second = (issue(live_server, line.kiosk, line.code) for _ in range(2))
    holder = listen(live_server, "/ticket", auth={"lookup_code": first["lookup_code"]})
    behind = listen(live_server, "/ticket", auth={"lookup_code": second["lookup_code"]})
    assert holder.wait_for("ticket_updated")["waiting_ahead"] == 0
    assert behind.wait_for("ticket_updated")["waiting_ahead"] == 1

    response = api(live_server, "POST", f"/tickets/{first['lookup_code']}/cancel")
    assert response.status_code == 200, response.text
    cancelled = holder.wait_for("ticket_updated", lambda body: body["status"] == "cancelled")
    assert cancelled == status(live_server, first["lookup_code"])
    assert cancelled["position"] is None and cancelled["waiting_ahead"] is None
    moved = behind.wait_for("ticket_updated", lambda body: body["waiting_ahead"] == 0)
    assert (moved["status"], moved["position"]) == ("waiting", 1)
    assert holder.taken("ticket_updated") == []  # the cancelled ticket hears nothing else


# -- luot serve -----------------------------------------------------------------------------


def os_threads(pid: int) -> int:
    """The OS threads of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no Threads line for {pid}")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_serve_is_gunicorn_with_one_gevent_worker_and_no_control_socket(
    db_url: str, tmp_path: Path, listen: Callable[..., Listener]
) -> None:
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    # A throwaway HOME and XDG_RUNTIME_DIR: where gunicorn 27 puts its control socket.
    server = LiveServer(db_url, tmp_path, HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    start(server)
    try:
        assert server.process is not None
        master = server.process.pid
        workers = children(master)
        assert len(workers) == 1, workers  # gunicorn's arbiter and its one worker
        worker = workers[0]
        maps = Path(f"/proc/{worker}/maps").read_text()
        assert "gevent" in maps and "greenlet" in maps

        # Sockets held open while HTTP is still answered, on fewer OS threads than sockets
        # (one, today): not a thread-per-connection worker.
        displays = [listen(server) for _ in range(6)]
        for display in displays:
            display.wait_for("state")
        # Connection: close, or gunicorn's graceful stop waits out the keep-alive (5 s).
        health = requests.get(
            f"{server.url}/healthz", headers={"Connection": "close"}, timeout=PUSH_TIMEOUT
        )
        assert health.json() == {"ok": True}
        assert health.headers["Server"] == "gunicorn"
        assert os_threads(worker) < len(displays)
        assert children(master) == [worker]
        for display in displays:
            display.close()
    finally:
        server.stop()
    log = (tmp_path / f"serve-{server.port}.log").read_text()
    assert f"Luot is serving on http://127.0.0.1:{server.port}" in log
    assert "development server" not in log.lower()
    assert "Traceback" not in log
    assert list(home.iterdir()) == [], "gunicorn made ~/.gunicorn (control socket)"
    assert list(runtime.iterdir()) == [], "gunicorn made a control socket"
