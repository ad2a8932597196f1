"""`luot serve`: gunicorn with one gevent worker (DESIGN.md), never a development server.

One process serves a center. Several processes are separate `luot serve` commands on one
PostgreSQL database behind nginx (deploy/), not workers of one gunicorn.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

from gunicorn.app.base import BaseApplication


class LuotServer(BaseApplication):  # type: ignore[misc]
    """gunicorn embedded: the app is built inside the worker, after gevent has patched."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Passes our options to gunicorn's settings."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Imports and builds the app in the worker process, and starts its housekeeping."""
        from server.app import create_app

        app = create_app()
        luot = app.extensions["luot"]
        luot.relay.start_at_the_end()
        luot.socketio.start_background_task(luot.relay.run)
        keep = timedelta(days=luot.config["LUOT_OUTBOX_DAYS"])
        luot.socketio.start_background_task(roll_days, luot.engine, keep)
        return app


def roll_days(engine: Any, keep: timedelta, every_seconds: float = 30.0) -> None:
    """Expires yesterday's unfinished tickets soon after midnight, even on an idle server,
    and forgets outbox rows older than `keep` once an hour."""
    import logging
    import time

    pruned_at = 0.0
    while True:
        try:
            engine.roll_day()
            if time.monotonic() - pruned_at > 3600:
                engine.prune_outbox(keep)
                pruned_at = time.monotonic()
        except Exception:  # a database hiccup must not end the loop
            logging.getLogger(__name__).exception("could not roll the day")
        time.sleep(every_seconds)


def base_url(host: str, port: int) -> str:
    """A URL a browser can open for the address listened on (IPv6 in brackets)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def urls(host: str, port: int) -> list[tuple[str, str]]:
    """The pages a person opens, for the banner."""
    base = base_url(host, port)
    return [
        ("API", f"{base}/api/v1/openapi.json"),
        ("TV display state", f"{base}/api/v1/display/state"),
        ("Services", f"{base}/api/v1/services"),
    ]


def on_ready(host: str, port: int) -> Any:
    """gunicorn's when_ready hook: prints where to go."""

    def hook(_server: Any) -> None:
        everywhere = (
            " (and every other address of this machine)" if host in ("0.0.0.0", "::") else ""
        )
        print(f"Luot is serving on {base_url(host, port)}{everywhere}", flush=True)
        for label, url in urls(host, port):
            print(f"  {label:<18} {url}", flush=True)

    return hook


class ServeError(Exception):
    """`luot serve` cannot start as asked; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def run(host: str, port: int) -> None:
    """Runs gunicorn in the foreground until stopped."""
    refuse_if_taken(host, port)  # at once, not after gunicorn's five tries of a second each
    if os.environ.get("LUOT_REDIS_URL"):
        print("luot: LUOT_REDIS_URL is not used any more: events go through the database's outbox")
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "worker_class": "gevent",
        "workers": 1,
        "control_socket_disable": True,  # else gunicorn 27 creates ~/.gunicorn
        "timeout": 60,
        "graceful_timeout": 5,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "when_ready": on_ready(host, port),
        "worker_connections": 10000,
    }
    LuotServer(options).run()


def family(host: str) -> socket.AddressFamily:
    """IPv6 for an address with colons, else IPv4."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def refuse_if_taken(host: str, port: int) -> None:
    """Raises `port_in_use` when something listens on the address already."""
    with socket.socket(family(host)) as probe:
        # As gunicorn binds: the closed connections of a server just stopped do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ServeError("port_in_use", f"cannot listen on {host}:{port}: {error}") from None
