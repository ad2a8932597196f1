"""`luot serve`: gunicorn with one gevent worker (DESIGN.md), never a development server.

`--workers N` runs N gevent workers, and each client address always reaches the same one
(`server.sticky`): Socket.IO's long-polling sessions live in one process. Their events meet
in Redis (LUOT_REDIS_URL), and their SQLite writers take turns (`server.storage.process_lock`).
"""

from __future__ import annotations

import gc
import socket
from typing import Any

from gunicorn.app.base import BaseApplication

from server import sticky
from server.config import Config


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
        luot.socketio.start_background_task(roll_days, luot.engine)
        # The libraries' objects live as long as the process: leave them out of the cyclic
        # collector's full passes, which otherwise stalled every greenlet 54-77 ms each time
        # (the whole p99 of a kiosk burst; see docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        return app


def roll_days(engine: Any, every_seconds: float = 30.0) -> None:
    """Expires yesterday's unfinished tickets soon after midnight, even on an idle server."""
    import logging
    import time

    while True:
        try:
            engine.roll_day()
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


def on_ready(host: str, port: int, workers: int = 1) -> Any:
    """gunicorn's when_ready hook: prints where to go."""

    def hook(_server: Any) -> None:
        everywhere = (
            " (and every other address of this machine)" if host in ("0.0.0.0", "::") else ""
        )
        print(f"Luot is serving on {base_url(host, port)}{everywhere}", flush=True)
        if workers > 1:
            print(f"  {workers} worker processes; each client address stays with one", flush=True)
        for label, url in urls(host, port):
            print(f"  {label:<18} {url}", flush=True)

    return hook


class ServeError(Exception):
    """`luot serve` cannot start as asked; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def run(host: str, port: int, config: Config, workers: int = 1) -> None:
    """Runs gunicorn in the foreground until stopped."""
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
        "when_ready": on_ready(host, port, workers),
        "worker_connections": 10000,
    }
    if workers > 1:
        if not config["LUOT_REDIS_URL"]:
            raise ServeError(
                "workers_need_redis",
                "several workers need LUOT_REDIS_URL: a call made in one must reach the screens"
                " connected to the others",
            )
        refuse_if_taken(host, port)  # SO_REUSEPORT would share it with a server already there
        refuse_if_not_sticky(host)
        config.secret_key()  # made once, before the workers start, so that they all sign alike
        # Each worker binds the port itself (SO_REUSEPORT): the kernel then picks a worker by
        # the client's address, see server/sticky.py.
        options.update(workers=workers, reuse_port=True, post_fork=stick(workers))
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


def refuse_if_not_sticky(host: str) -> None:
    """Raises `workers_unsupported` when this system cannot pick workers by client address
    (not Linux, or a kernel without SO_REUSEPORT programs): workers would lose sessions."""
    try:
        with socket.socket(family(host)) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            probe.bind((host, 0))
            sticky.attach(probe, 2)
    except (OSError, AttributeError) as error:
        raise ServeError(
            "workers_unsupported", f"this system cannot keep clients on one worker: {error}"
        ) from None


def stick(workers: int) -> Any:
    """gunicorn's post_fork hook: the new worker's socket joins the port's group, whose
    connections then go by client address."""

    def hook(_server: Any, worker: Any) -> None:
        for listener in worker.sockets:
            sticky.attach(listener.sock, workers)

    return hook
