"""Fixtures in the Flask tutorial's style (app, client, runner) plus factories and a live server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from server.app import create_app
from server.cli import main as luot_cli
from server.config import Config
from server.engine.clock import ManualClock
from server.storage import accounts
from tests import dbs

#: Monday 23 November 2026, 09:00 in Hà Nội: inside the demo's morning session.
MONDAY_9AM = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


#: The fixtures parametrised over dbs.BACKENDS.
DATABASE_FIXTURES = ("db_url", "module_db_url")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked sqlite_only run on the embedded database alone (not also on PostgreSQL)."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        backends = {params.get(name) for name in DATABASE_FIXTURES}
        if item.get_closest_marker("sqlite_only") and "postgres" in backends:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=dbs.BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database holding the demo center, every service open, on SQLite and on
    PostgreSQL: a copy of this process's template (see tests/dbs.py)."""
    url, drop = dbs.fresh(request.param, tmp_path, demo=True)
    yield url
    drop()


@pytest.fixture(scope="module", params=dbs.BACKENDS)
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like db_url, but one database per test module: the one its shared live server uses."""
    url, drop = dbs.fresh(request.param, tmp_path_factory.mktemp("db"), demo=True)
    yield url
    drop()


@pytest.fixture
def clock() -> ManualClock:
    """The app's clock, starting on a Monday morning."""
    return ManualClock(MONDAY_9AM)


@pytest.fixture
def app(db_url: str, clock: ManualClock) -> Iterator[Flask]:
    """The app on the fresh database, with the manual clock."""
    config = Config.from_env({}, LUOT_DATABASE_URL=db_url, LUOT_SECRET_KEY="test-secret")
    application = create_app(config, clock=clock)
    application.config["TESTING"] = True
    yield application
    application.extensions["luot"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(db_url: str) -> Callable[..., Any]:
    """Runs `luot …` in-process against the fresh database; returns click's Result."""

    def run(*args: str, input: str | None = None) -> Any:
        env = {"LUOT_DATABASE_URL": db_url, "LUOT_SECRET_KEY": "test-secret"}
        return CliRunner().invoke(luot_cli, list(args), input=input, env=env)

    return run


@pytest.fixture
def make_token(app: Flask) -> Callable[..., dict[str, str]]:
    """Creates a token; returns the Authorization header that carries it."""

    def make(role: str, counter: str | None = None, name: str | None = None) -> dict[str, str]:
        luot = app.extensions["luot"]
        with luot.db.write() as conn:
            token = accounts.create_token(conn, luot.engine.site_id, role, counter, name)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def kiosk(make_token: Callable[..., dict[str, str]]) -> dict[str, str]:
    """The headers of an enrolled kiosk."""
    return make_token("kiosk", name="kiosk-1")


@pytest.fixture
def admin(make_token: Callable[..., dict[str, str]]) -> dict[str, str]:
    """The headers of an admin token."""
    return make_token("admin")


@pytest.fixture
def issue(client: FlaskClient, kiosk: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """Issues a ticket through the API and returns its body (asserting 201)."""

    def make(service: str = "TPHT", **body: Any) -> dict[str, Any]:
        response = client.post("/api/v1/tickets", json={"service": service, **body}, headers=kiosk)
        assert response.status_code == 201, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    return make


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real `luot serve` (gunicorn + gevent) in a subprocess, on a free port."""

    def __init__(self, db_url: str, workdir: Path, *args: str, **env: str) -> None:
        self.args = args  # more options of `luot serve`
        self.db_url = db_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LUOT_DATABASE_URL": db_url, "LUOT_SECRET_KEY": "live", **env}
        self.workdir = workdir
        self.log_path = workdir / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveServer:
        """Starts the server and waits until /healthz answers."""
        command = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)]
        command += self.args
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(self.log())

    def stop(self) -> None:
        """Stops the server (SIGINT, then SIGKILL after 10 s)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self, start: int = 0) -> str:
        """What the server wrote to its log, from byte `start` on."""
        return self.log_path.read_bytes()[start:].decode(errors="replace")

    def luot(self, *args: str, input: str | None = None) -> str:
        """Runs the `luot` CLI against the server's database; returns its output."""
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            env=self.env,
            cwd=self.workdir,
            input=input,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout


@pytest.fixture(scope="module")
def live_server(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A running `luot serve` shared by the tests of a module, on the module's database.

    Its tests do not count on a fresh site: one that needs "A001" or a known waiting count
    opens a line of its own (tests/realtime/live.py `open_line`); one that needs a fresh
    server (a restart, other settings) starts a LiveServer of its own on `db_url`."""
    server = LiveServer(module_db_url, tmp_path_factory.mktemp("live")).start()
    yield server
    server.stop()
