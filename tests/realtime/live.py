"""Helpers for tests against a live `luot serve`: a recording Socket.IO client and the API
calls a kiosk or a counter makes."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import socketio
from sqlalchemy import select

from server.engine.hours import ALWAYS_OPEN
from server.storage import accounts, catalog
from server.storage import tables as t
from server.storage.db import Database
from tests.conftest import LiveServer

TPHT = {"code": "TPHT", "name": "Tư pháp – Hộ tịch"}
Q01 = {"code": "Q01", "name": "Quầy số 1"}
Q02 = {"code": "Q02", "name": "Quầy số 2"}
CALL_KEYS = {
    "number",
    "counter",
    "service",
    "called_at",
    "recall",
    "announcement",
    "audio_url",
    "seq",
}
#: How long a push may take to arrive before a test fails (generous for a loaded CI box).
PUSH_TIMEOUT = 10.0


class Listener:
    """A Socket.IO client on one namespace that records what the server emits to it."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        # No reconnection: a test decides when to reconnect; no SIGINT handler in pytest.
        self.client = socketio.Client(reconnection=False, handle_sigint=False)
        self.received: list[tuple[str, Any]] = []
        self.refusal: Any = None
        self._arrived = threading.Condition()
        self.client.on("*", self._record, namespace=namespace)
        self.client.on("connect_error", self._refused, namespace=namespace)

    def _record(self, event: str, *args: Any) -> None:
        """Keeps an event (the client runs each in its own thread) and wakes the waiters."""
        with self._arrived:
            self.received.append((event, args[0] if args else None))
            self._arrived.notify_all()

    def _refused(self, data: Any = None) -> None:
        """Keeps what the server said when it refused the connection."""
        self.refusal = data

    def connect(
        self, server: LiveServer, auth: Any = None, transports: list[str] | None = None
    ) -> Listener:
        """Connects over a real socket (websocket only unless told otherwise)."""
        self.client.connect(
            server.url,
            namespaces=[self.namespace],
            transports=transports or ["websocket"],
            auth=auth,
            wait_timeout=PUSH_TIMEOUT,
        )
        return self

    def wait_for(
        self,
        event: str,
        match: Callable[[Any], bool] = lambda body: True,
        timeout: float = PUSH_TIMEOUT,
    ) -> Any:
        """Takes the first recorded `event` whose body matches, waiting for it up to timeout."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for index, (name, body) in enumerate(self.received):
                    if name == event and match(body):
                        del self.received[index]
                        return body
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no matching {event!r} on {self.namespace} within {timeout} s; "
                        f"received {self.received!r}"
                    )
                self._arrived.wait(left)

    def taken(self, event: str) -> list[Any]:
        """Removes and returns every recorded `event` body."""
        with self._arrived:
            bodies = [body for name, body in self.received if name == event]
            self.received = [(name, body) for name, body in self.received if name != event]
            return bodies

    def close(self) -> None:
        """Disconnects (a no-op when the connection never opened)."""
        self.client.disconnect()


def start(*servers: LiveServer) -> None:
    """Starts servers side by side, waiting until each answers."""
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(LiveServer.start, servers))


def tokens(server: LiveServer, *specs: tuple[str, ...]) -> list[str]:
    """Creates tokens with `luot token create …`, the CLI runs side by side to save time."""

    def create(spec: tuple[str, ...]) -> str:
        return server.luot("token", "create", *spec).strip()

    with ThreadPoolExecutor(len(specs)) as pool:
        return list(pool.map(create, specs))


KIOSK = ("--role", "kiosk", "--name", "k1")
STAFF_Q01 = ("--role", "staff", "--counter", "Q01")


@dataclass(frozen=True)
class Line:
    """A queue of one test's own on a shared server: a service nobody else issues for, served
    by counters of its own, so its numbers start at prefix + "001" and its count at 0."""

    prefix: str
    service: dict[str, str]  # {"code", "name"}, as ticket and call bodies show it
    counters: list[dict[str, str]]  # likewise, each counter serving this service alone
    staff: list[str]  # a staff token for each counter, in the same order
    kiosk: str  # a kiosk token

    @property
    def code(self) -> str:
        """The service's code."""
        return self.service["code"]


_lines = itertools.count()


def letters(n: int) -> str:
    """0 → "A", 25 → "Z", 26 → "BA": a number written in letters, for ticket prefixes."""
    word = ""
    while True:
        n, digit = divmod(n, 26)
        word = chr(ord("A") + digit) + word
        if not n:
            return word


def open_line(server: LiveServer, counters: int = 1) -> Line:
    """Adds a Line to the server's database: a service open around the clock with prefix
    "X…" (no demo prefix has two letters), `counters` counters named "Quầy số 21", "Quầy số
    22"… and the tokens. The running server sees them on its next request: it reads the
    catalogue in every transaction."""
    prefix = "X" + letters(next(_lines))
    service = {"code": f"S{prefix}", "name": f"Lĩnh vực {prefix}"}
    desks = [{"code": f"Q{prefix}{i}", "name": f"Quầy số {20 + i}"} for i in range(1, counters + 1)]
    db = Database(server.db_url)
    try:
        with db.write() as conn:
            site = select(t.sites.c.id).where(t.sites.c.code == "default")
            site_id = conn.execute(site).scalar_one()
            service_id = catalog.ensure_service(
                conn, site_id, service["code"], service["name"], prefix, ALWAYS_OPEN, 100
            )
            for position, desk in enumerate(desks, start=100):
                catalog.ensure_counter(
                    conn, site_id, desk["code"], desk["name"], [service_id], position
                )
            staff = [accounts.create_token(conn, site_id, "staff", d["code"]) for d in desks]
            kiosk = accounts.create_token(conn, site_id, "kiosk", name=f"kiosk-{prefix}")
    finally:
        db.dispose()
    return Line(prefix, service, desks, staff, kiosk)


def api(
    server: LiveServer, method: str, path: str, token: str | None = None, body: Any = None
) -> requests.Response:
    """One HTTP request to /api/v1, with a bearer token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(
        method, f"{server.url}/api/v1{path}", json=body, headers=headers, timeout=PUSH_TIMEOUT
    )


def issue(server: LiveServer, kiosk: str, service: str = "TPHT") -> dict[str, Any]:
    """Issues a ticket as the kiosk; returns its body."""
    response = api(server, "POST", "/tickets", kiosk, {"service": service})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def act(server: LiveServer, token: str, counter: str, action: str) -> dict[str, Any]:
    """A counter action that answers 200 {"ticket": …}; returns the ticket."""
    response = api(server, "POST", f"/counters/{counter}/{action}", token)
    assert response.status_code == 200, response.text
    return response.json()["ticket"]  # type: ignore[no-any-return]


def status(server: LiveServer, lookup_code: str) -> dict[str, Any]:
    """GET /api/v1/tickets/{lookup_code}."""
    response = api(server, "GET", f"/tickets/{lookup_code}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def children(pid: int) -> list[int]:
    """The processes whose parent is pid (read from /proc, no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def request(
    server: LiveServer, method: str, path: str, address: str, body: bytes = b"", **headers: str
) -> tuple[int, bytes]:
    """One request on a fresh connection from a client address of 127.0.0.0/8: each address
    stands for a machine of its own (a kiosk, a TV, a phone)."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=PUSH_TIMEOUT, source_address=(address, 0)
    )
    try:
        # The server may answer before it has read the whole body (one too large): read that.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request(method, path, body=body, headers={"Connection": "close", **headers})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def handshake(server: LiveServer, address: str) -> str:
    """Opens an Engine.IO long-polling session; returns its id."""
    status, body = request(server, "GET", "/socket.io/?EIO=4&transport=polling", address)
    assert status == 200, body
    return str(json.loads(body[1:])["sid"])  # b'0{"sid": …}': an open packet


def post_packets(
    server: LiveServer, sid: str, body: bytes, address: str = "127.0.0.1"
) -> tuple[int, bytes]:
    """A long-polling POST of Engine.IO packets to the session `sid`, from `address`."""
    path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    return request(server, "POST", path, address, body, **{"Content-Type": "text/plain"})
