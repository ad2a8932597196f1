"""create_app: the one place that wires the engine, storage, realtime and the web parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from flask_socketio import SocketIO
from sqlalchemy import select
from werkzeug.middleware.proxy_fix import ProxyFix

from server import errors, ratelimit
from server.config import Config
from server.engine.clock import Clock, SystemClock
from server.engine.engine import QueueEngine
from server.engine.ordering import OrderingPolicy
from server.faults import KillAfterCall
from server.realtime.names import Namespace
from server.realtime.namespaces import DisplayNamespace, Followers, TicketNamespace
from server.realtime.polling import PollingGuard
from server.realtime.relay import Relay
from server.storage import tables
from server.storage.db import Database
from server.storage.repository import SqlRepository


@dataclass
class Luot:
    """What the app holds for its routes: config, database and the engine."""

    config: Config
    db: Database
    engine: QueueEngine
    socketio: SocketIO
    relay: Relay

    def close(self) -> None:
        """Closes the database's connections."""
        self.db.dispose()


def site_id_for(db: Database, code: str) -> int:
    """The id of the configured site, 1 when the database is still empty (before init)."""
    try:
        with db.read() as conn:
            row = conn.execute(select(tables.sites.c.id).where(tables.sites.c.code == code))
            found = row.scalar()
    except Exception:  # no schema yet: `luot init` has not run
        return 1
    return int(found) if found is not None else 1


def async_mode() -> str:
    """gevent when the worker patched the standard library (luot serve), else threading."""
    try:
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            return "gevent"
    except ImportError:
        pass
    return "threading"


def create_app(config: Config | None = None, clock: Clock | None = None) -> Flask:
    """Builds the application from a Config (default: the LUOT_* environment)."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key(Path("var")),
        MAX_CONTENT_LENGTH=config["LUOT_MAX_BODY_BYTES"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        JSON_SORT_KEYS=False,
    )
    if config["LUOT_TRUSTED_PROXIES"]:
        hops = int(config["LUOT_TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    db = Database(config["LUOT_DATABASE_URL"])
    socketio = SocketIO()
    followers = Followers()
    relay = Relay(socketio, followers)
    policy = OrderingPolicy(
        strict=config["LUOT_ORDERING"] == "strict",
        max_priority_streak=config["LUOT_MAX_PRIORITY_STREAK"],
    )
    site_id = site_id_for(db, config["LUOT_SITE"])
    sink = KillAfterCall(relay) if config["LUOT_FAULT"] == "kill_after_call" else relay
    engine = QueueEngine(SqlRepository(db), clock or SystemClock(), sink, site_id, policy)
    relay.outbox = engine.queries
    app.extensions["luot"] = Luot(config, db, engine, socketio, relay)

    # No message queue: each process's relay emits the outbox to its own clients.
    socketio.init_app(app, async_mode=async_mode())
    app.wsgi_app = PollingGuard(app.wsgi_app)  # type: ignore[method-assign]
    socketio.on_namespace(DisplayNamespace(Namespace.DISPLAY.value, engine.queries))
    socketio.on_namespace(TicketNamespace(Namespace.TICKET.value, engine.queries, followers))
    ratelimit.init_app(app)

    from server.api import bp as api

    app.register_blueprint(api)
    errors.register(app)

    @app.get("/healthz")
    def healthz() -> Any:
        """The server and its database answer."""
        db.ping()
        return jsonify({"ok": True})

    return app
