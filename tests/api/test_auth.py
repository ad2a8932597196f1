"""People sign in with a session cookie; state changes then need the CSRF token."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from server.storage import accounts

#: Input handling lives above storage: the embedded database is enough to check it.
pytestmark = pytest.mark.sqlite_only


def add_user(app: Any, name: str, role: str, counters: list[str]) -> None:
    """Creates an account with the password 'correct horse'."""
    luot = app.extensions["luot"]
    with luot.db.write() as conn:
        accounts.create_user(conn, luot.engine.site_id, name, role, "correct horse", counters)


def login(client: FlaskClient, name: str, password: str = "correct horse") -> Any:
    """POST /auth/login."""
    return client.post("/api/v1/auth/login", json={"username": name, "password": password})


def test_login_session_and_csrf(app: Any, client: FlaskClient, issue: Any) -> None:
    add_user(app, "lan", "staff", ["Q01"])
    issue("TPHT")
    assert login(client, "lan", "wrong").status_code == 401
    signed = login(client, "lan").get_json()
    assert signed["user"] == {"name": "lan", "kind": "user", "role": "staff", "counters": ["Q01"]}
    csrf = signed["csrf_token"]
    no_csrf = client.post("/api/v1/counters/Q01/call-next")
    assert no_csrf.status_code == 403 and no_csrf.get_json()["error"]["code"] == "forbidden"
    bad_csrf = client.post("/api/v1/counters/Q01/call-next", headers={"X-CSRFToken": "x"})
    assert bad_csrf.status_code == 403
    ok = client.post("/api/v1/counters/Q01/call-next", headers={"X-CSRFToken": csrf})
    assert ok.status_code == 200 and ok.get_json()["ticket"]["number"] == "A001"
    other = client.post("/api/v1/counters/Q03/call-next", headers={"X-CSRFToken": csrf})
    assert other.status_code == 403
    me = client.get("/api/v1/auth/me").get_json()
    assert me["user"]["name"] == "lan" and me["csrf_token"] == csrf
    client.post("/api/v1/auth/logout")
    assert client.get("/api/v1/auth/me").status_code == 401


def test_staff_without_counters_may_work_anywhere(app: Any, client: FlaskClient) -> None:
    add_user(app, "minh", "staff", [])
    csrf = login(client, "minh").get_json()["csrf_token"]
    response = client.post("/api/v1/counters/Q07/call-next", headers={"X-CSRFToken": csrf})
    assert response.status_code == 204


def test_passwords_are_hashed_with_argon2(app: Any) -> None:
    add_user(app, "hoa", "admin", [])
    luot = app.extensions["luot"]
    from sqlalchemy import select

    from server.storage import tables

    with luot.db.read() as conn:
        stored = conn.execute(
            select(tables.users.c.password_hash).where(tables.users.c.username == "hoa")
        ).scalar_one()
        token_hashes = conn.execute(select(tables.api_tokens.c.token_hash)).scalars().all()
    assert stored.startswith("$argon2")
    assert "correct horse" not in stored
    assert all(len(h) == 64 for h in token_hashes)
