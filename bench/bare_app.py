"""The baselines issue_load.py and write_path.py measure Luot against: the issue and call-next
transactions in raw sqlite3, and a bare Flask endpoint around them (gunicorn -k gevent -w 1)."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request

# Table and index shapes follow server/storage/tables.py, so SQLite does comparable work
# per ticket and issue_load.py checks both databases with the same queries.
SCHEMA = """
CREATE TABLE IF NOT EXISTS daily_sequences (
    service_id INTEGER NOT NULL, day TEXT NOT NULL, last INTEGER NOT NULL,
    PRIMARY KEY (service_id, day));
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY, day TEXT NOT NULL, seq INTEGER NOT NULL, number TEXT NOT NULL,
    service_id INTEGER NOT NULL, status TEXT NOT NULL, lookup_code TEXT NOT NULL UNIQUE,
    issued_at TEXT NOT NULL, issued_by TEXT, called_at TEXT, finished_at TEXT,
    counter_id INTEGER, UNIQUE (day, number));
CREATE INDEX IF NOT EXISTS ix_tickets_line ON tickets (day, status, service_id, issued_at);
CREATE TABLE IF NOT EXISTS ticket_events (
    id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    at TEXT NOT NULL, action TEXT NOT NULL, to_status TEXT NOT NULL, actor TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE INDEX IF NOT EXISTS ix_ticket_events_action ON ticket_events (action, at);
CREATE TABLE IF NOT EXISTS counters (
    id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, current_ticket_id INTEGER);
"""


def connect(path: str) -> sqlite3.Connection:
    """A connection in WAL with synchronous=FULL (as Luot's), schema created."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SCHEMA)
    return conn


def issue(conn: sqlite3.Connection, service_id: int, prefix: str, actor: str) -> dict[str, Any]:
    """One ticket in one transaction: counter row upsert RETURNING, ticket row, event row."""
    now = datetime.now(UTC)
    day, at = now.date().isoformat(), now.isoformat()
    conn.execute("BEGIN IMMEDIATE")
    try:
        (seq,) = conn.execute(
            "INSERT INTO daily_sequences (service_id, day, last) VALUES (?, ?, 1) "
            "ON CONFLICT DO UPDATE SET last = last + 1 RETURNING last",
            (service_id, day),
        ).fetchone()
        number, code = f"{prefix}{seq:03d}", secrets.token_urlsafe(12)
        ticket_id = conn.execute(
            "INSERT INTO tickets (day, seq, number, service_id, status, lookup_code, issued_at,"
            " issued_by) VALUES (?, ?, ?, ?, 'waiting', ?, ?, ?)",
            (day, seq, number, service_id, code, at, actor),
        ).lastrowid
        conn.execute(
            "INSERT INTO ticket_events (ticket_id, at, action, to_status, actor, data)"
            " VALUES (?, ?, 'issue', 'waiting', ?, '{}')",
            (ticket_id, at, actor),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return {"id": ticket_id, "number": number, "lookup_code": code, "issued_at": at}


def event(conn: sqlite3.Connection, ticket_id: int, at: str, action: str, status: str) -> None:
    """One row of a ticket's history."""
    conn.execute(
        "INSERT INTO ticket_events (ticket_id, at, action, to_status, actor, data)"
        " VALUES (?, ?, ?, ?, 'bare', '{}')",
        (ticket_id, at, action, status),
    )


def call_next(conn: sqlite3.Connection, counter_id: int, service_ids: list[int]) -> Any:
    """One call in one transaction: the counter's current ticket served, the oldest waiting
    ticket of its services called, an event row for each, the counter row updated."""
    now = datetime.now(UTC)
    day, at = now.date().isoformat(), now.isoformat()
    conn.execute("BEGIN IMMEDIATE")
    try:
        sql = "SELECT current_ticket_id FROM counters WHERE id = ?"
        (current,) = conn.execute(sql, (counter_id,)).fetchone()
        if current is not None:
            sql = "UPDATE tickets SET status = 'served', finished_at = ? WHERE id = ?"
            conn.execute(sql, (at, current))
            event(conn, current, at, "finish", "served")
        marks = ", ".join("?" * len(service_ids))
        row = conn.execute(
            "SELECT id, number, lookup_code FROM tickets WHERE day = ? AND status = 'waiting'"
            f" AND service_id IN ({marks}) ORDER BY issued_at, id LIMIT 1",
            (day, *service_ids),
        ).fetchone()
        called = None if row is None else row[0]
        if called is not None:
            conn.execute(
                "UPDATE tickets SET status = 'called', called_at = ?, counter_id = ? WHERE id = ?",
                (at, counter_id, called),
            )
            event(conn, called, at, "call", "called")
        sql = "UPDATE counters SET current_ticket_id = ? WHERE id = ?"
        conn.execute(sql, (called, counter_id))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if row is None:
        return None
    return {"id": row[0], "number": row[1], "lookup_code": row[2], "called_at": at}


def create_app(path: str | None = None) -> Flask:
    """The bare endpoint: POST /api/v1/tickets {"service": code} → 201 with the number, and
    POST /api/v1/counters/<code>/call-next for the counters of BARE_COUNTERS (JSON: code →
    service codes in preference order)."""
    app = Flask(__name__)
    conn = connect(path or os.environ["BARE_DB"])
    lock = threading.Lock()  # gevent-aware once gunicorn's gevent worker has patched
    service_ids: dict[str, int] = {}
    counters: dict[str, list[str]] = json.loads(os.environ.get("BARE_COUNTERS", "{}"))
    for code in counters:
        conn.execute("INSERT OR IGNORE INTO counters (code) VALUES (?)", (code,))
    counter_ids = dict(conn.execute("SELECT code, id FROM counters"))

    @app.post("/api/v1/tickets")
    def issue_ticket() -> Any:
        """Issues one ticket of the named service (no auth, no views: the baseline)."""
        body = request.get_json(force=True, silent=True) or {}
        code = body.get("service")
        if not isinstance(code, str) or not 0 < len(code) <= 32:
            return jsonify({"error": "service"}), 400
        service_id = service_ids.setdefault(code, len(service_ids) + 1)
        with lock:
            ticket = issue(conn, service_id, code, "bare")
        return jsonify(ticket), 201

    @app.post("/api/v1/counters/<code>/call-next")
    def call_next_ticket(code: str) -> Any:
        """Calls the next ticket at a counter; 204 when nobody waits (no auth: the baseline)."""
        if code not in counters:
            return jsonify({"error": "counter"}), 404
        ids = [service_ids.setdefault(c, len(service_ids) + 1) for c in counters[code]]
        with lock:
            ticket = call_next(conn, counter_ids[code], ids)
        return ("", 204) if ticket is None else jsonify({"ticket": ticket})

    @app.get("/healthz")
    def healthz() -> Any:
        """Ready."""
        return jsonify({"ok": True})

    return app
