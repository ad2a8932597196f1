"""Who is asking: bearer tokens for devices, the session cookie (with CSRF) for people."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request, session

from server.engine.errors import Forbidden, Unauthorized
from server.storage import accounts
from server.storage.accounts import Principal

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _database() -> Any:
    """The app's Database."""
    return current_app.extensions["luot"].db


def principal() -> Principal | None:
    """The principal of this request, read once: a bearer token wins over a session."""
    if "principal" in g:
        return g.principal  # type: ignore[no-any-return]
    found: Principal | None = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        found = token_principal(token.strip())
        if found is None:
            raise Unauthorized("The token is not valid (revoked or unknown)")
    elif "uid" in session:
        with _database().read() as conn:
            found = accounts.user_principal(conn, int(session["uid"]))
        if found is None:
            session.clear()
        elif request.method not in SAFE_METHODS:
            check_csrf()
    g.principal = found
    return found


def token_principal(token: str) -> Principal | None:
    """The token's principal (looked up by its hash), or None."""
    with _database().read() as conn:
        return accounts.token_principal_by_hash(conn, accounts.token_hash(token))


def check_csrf() -> None:
    """A cookie-authenticated change must carry the page's CSRF token in X-CSRFToken."""
    sent = request.headers.get("X-CSRFToken", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("Missing or wrong X-CSRFToken header for a signed-in session")


def sign_in(who: Principal) -> str:
    """Starts a session for a person; returns its CSRF token."""
    session.clear()
    session["uid"] = who.id
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True
    return str(session["csrf"])


def require(*roles: str) -> Callable[[F], F]:
    """Only these roles (any role when none are given) may call the view."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = principal()
            if who is None:
                raise Unauthorized("Sign in or send 'Authorization: Bearer <token>'")
            if roles and who.role not in roles:
                raise Forbidden(f"This needs the role {' or '.join(roles)}")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def require_counter(code: str) -> Principal:
    """The principal may work at this counter: staff of it, supervisors, admins."""
    who = principal()
    if who is None:
        raise Unauthorized("Sign in or send 'Authorization: Bearer <token>'")
    if not who.may_work_at(code):
        raise Forbidden(f"Not allowed to work at counter '{code}'")
    return who
