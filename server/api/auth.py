"""Signing people in and out through the API (pages use the same session cookie)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, session

from server.auth import principal, require, sign_in
from server.engine.errors import Unauthorized
from server.ratelimit import rate_limited
from server.storage import accounts

from . import bp
from .body import json_body, string_field
from .tickets import lookup_rate


@bp.post("/auth/login")
@rate_limited(lookup_rate)
def login() -> Any:
    """Checks a username and password; sets the session cookie and returns the CSRF token."""
    body = json_body()
    username = string_field(body, "username", max_length=100)
    password = string_field(body, "password", max_length=200)
    with current_app.extensions["luot"].db.read() as conn:
        who = accounts.check_password(conn, username, password)
    if who is None:
        raise Unauthorized("Tên đăng nhập hoặc mật khẩu không đúng (wrong username or password)")
    csrf = sign_in(who)
    return jsonify({"user": _user(who), "csrf_token": csrf})


@bp.post("/auth/logout")
def logout() -> Any:
    """Ends the session."""
    session.clear()
    return jsonify({"ok": True})


@bp.get("/auth/me")
@require()
def me() -> Any:
    """Who the request authenticates as."""
    who = principal()
    assert who is not None
    body: dict[str, Any] = {"user": _user(who)}
    if who.kind == "user":
        body["csrf_token"] = session.get("csrf")
    return jsonify(body)


def _user(who: accounts.Principal) -> dict[str, Any]:
    """A principal as JSON."""
    return {"name": who.name, "kind": who.kind, "role": who.role, "counters": sorted(who.counters)}
