"""Routes for issuing and following tickets, and the lists a kiosk shows."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request

from server.auth import require
from server.engine import views
from server.engine.errors import InvalidRequest
from server.ratelimit import rate_limited

from . import bp
from .body import json_body, string_field


def engine() -> Any:
    """The app's QueueEngine: the commands."""
    return current_app.extensions["luot"].engine


def queries() -> Any:
    """The engine's read side."""
    return current_app.extensions["luot"].engine.queries


def lookup_rate() -> str:
    """The configured limit for lookups (LUOT_LOOKUP_RATE)."""
    return str(current_app.extensions["luot"].config["LUOT_LOOKUP_RATE"])


def lookup_url(code: str) -> str:
    """The QR's target: LUOT_PUBLIC_URL, or the address the request came in on."""
    # The address as the kiosk sent it (ASCII, as a QR code wants it; no IRI decoding).
    base = current_app.extensions["luot"].config["LUOT_PUBLIC_URL"]
    return views.lookup_url(base or f"{request.scheme}://{request.host}", code)


@bp.get("/services")
def services() -> Any:
    """Every lĩnh vực with its waiting count, whether it issues now, and its hours."""
    return jsonify(queries().list_services())


@bp.get("/priorities")
def priorities() -> Any:
    """The priority categories."""
    return jsonify(queries().list_priorities())


@bp.get("/procedures")
def procedures() -> Any:
    """Procedures matching `q` without diacritics, optionally of one service."""
    query = request.args.get("q", "")
    if len(query) > 200:
        raise InvalidRequest("'q' is longer than 200 characters")
    service = request.args.get("service") or None
    return jsonify(queries().find_procedures(query, service))


@bp.post("/tickets")
@require("kiosk", "staff", "supervisor", "admin")
def issue_ticket() -> Any:
    """Issues a ticket; an Idempotency-Key from the same device replays the first answer."""
    from server.auth import principal

    body = json_body()
    service = string_field(body, "service", max_length=32)
    procedure = string_field(body, "procedure", required=False, nullable=True, max_length=64)
    priority = string_field(body, "priority", required=False, nullable=True, max_length=32)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 128):
        raise InvalidRequest("Idempotency-Key must have 1 to 128 characters")
    who = principal()
    assert who is not None
    ticket, created = engine().issue(
        service, procedure, priority, actor=who.actor, device=who.device, idempotency_key=key
    )
    ticket["lookup_url"] = lookup_url(ticket["lookup_code"])
    return jsonify(ticket), 201 if created else 200


@bp.get("/tickets/<lookup_code>")
@rate_limited(lookup_rate)
def ticket_status(lookup_code: str) -> Any:
    """A ticket's public status, for anyone holding its code."""
    return jsonify(queries().ticket_status(lookup_code))


@bp.post("/tickets/<lookup_code>/cancel")
@rate_limited(lookup_rate)
def cancel_ticket(lookup_code: str) -> Any:
    """The holder of the code (or staff) cancels a waiting ticket."""
    from server.auth import principal

    who = principal() if request.headers.get("Authorization") else None
    return jsonify(engine().cancel(lookup_code, actor=who.actor if who else "citizen"))
