"""The OpenAPI 3 document of /api/v1, kept true by a test that compares it with the routes."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from . import bp

ERROR_CODES = [
    "invalid_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "service_closed",
    "daily_limit_reached",
    "no_current_ticket",
    "counter_paused",
    "invalid_state",
    "conflict",
    "payload_too_large",
    "rate_limited",
    "internal_error",
]


def ref(name: str) -> dict[str, str]:
    """A $ref to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema that may also be null."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: list[str], **props: Any) -> dict[str, Any]:
    """An object schema."""
    return {"type": "object", "required": required, "properties": props}


STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
REF = obj(["code", "name"], code=STR, name=STR)
STATUS = {
    "type": "string",
    "enum": ["waiting", "called", "serving", "served", "no_show", "cancelled", "expired"],
}
PLACE = {
    "position": nullable(INT),
    "waiting_ahead": nullable(INT),
    "estimated_wait_seconds": nullable(INT),
}

SCHEMAS: dict[str, Any] = {
    "Error": obj(
        ["error"],
        error=obj(["code", "message"], code={"type": "string", "enum": ERROR_CODES}, message=STR),
    ),
    "Service": obj(
        ["code", "name", "prefix", "waiting", "open", "hours"],
        code=STR,
        name=STR,
        prefix=STR,
        waiting=INT,
        open=BOOL,
        hours=STR,
        daily_limit=nullable(INT),
    ),
    "Priority": obj(["code", "name"], code=STR, name=STR),
    "Procedure": obj(["code", "name", "service"], code=STR, name=STR, service=STR),
    "Ticket": obj(
        [
            "id",
            "number",
            "service",
            "status",
            "priority",
            "lookup_code",
            "position",
            "waiting_ahead",
            "estimated_wait_seconds",
            "issued_at",
        ],
        id=INT,
        number=STR,
        service=REF,
        status=STATUS,
        priority=nullable(STR),
        lookup_code=STR,
        lookup_url=STR,
        **PLACE,
        counter=nullable(REF),
        issued_at=TIME,
        called_at=nullable(TIME),
    ),
    "TicketStatus": obj(
        [
            "number",
            "service",
            "status",
            "position",
            "waiting_ahead",
            "estimated_wait_seconds",
            "counter",
        ],
        number=STR,
        service=REF,
        status=STATUS,
        **PLACE,
        counter=nullable(REF),
    ),
    "Current": nullable(
        obj(
            ["number", "service", "status", "called_at"],
            number=STR,
            service=REF,
            status=STATUS,
            called_at=TIME,
        )
    ),
    "Counter": obj(
        ["code", "name", "services", "state", "current"],
        code=STR,
        name=STR,
        services={"type": "array", "items": STR},
        state={"type": "string", "enum": ["idle", "serving", "paused"]},
        current=ref("Current"),
    ),
    "HallCounter": obj(  # a counter as the TV sees it: `state`'s entries, `counter_changed`
        ["code", "name", "state", "current"], code=STR, name=STR, state=STR, current=ref("Current")
    ),
    "TicketResult": obj(["ticket"], ticket=ref("Ticket")),
    "CounterResult": obj(["counter"], counter=ref("Counter")),
    "Call": obj(
        ["number", "counter", "service", "called_at", "recall", "announcement", "audio_url"],
        number=STR,
        counter=REF,
        service=REF,
        called_at=TIME,
        recall=BOOL,
        announcement=STR,
        audio_url=nullable(STR),
    ),
    "DisplayState": obj(
        ["site", "seq", "counters", "recent_calls", "waiting"],
        site=obj(["name"], name=STR),
        seq=INT,  # the site's sequence number of the last event the state reflects
        counters={"type": "array", "items": ref("HallCounter")},
        recent_calls={
            "type": "array",
            "items": {"allOf": [ref("Call"), obj(["seq"], seq=INT)]},
        },
        waiting={"type": "object", "additionalProperties": INT},
    ),
    "User": obj(
        ["name", "kind", "role", "counters"],
        name=STR,
        kind=STR,
        role=STR,
        counters={"type": "array", "items": STR},
    ),
}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON media type."""
    return {"application/json": {"schema": schema}}


def answer(status: str, description: str, schema: dict[str, Any] | None = None) -> Any:
    """One response entry."""
    body: dict[str, Any] = {"description": description}
    if schema is not None:
        body["content"] = json_content(schema)
    return status, body


def op(
    summary: str,
    *responses: tuple[str, Any],
    errors: tuple[str, ...] = ("400",),
    body: dict[str, Any] | None = None,
    auth: bool = False,
    params: list[Any] | None = None,
) -> dict[str, Any]:
    """One operation with its success responses and the error statuses it may give."""
    result: dict[str, Any] = {"summary": summary, "responses": dict(responses)}
    for status in errors:
        result["responses"][status] = {
            "description": "error",
            "content": json_content(ref("Error")),
        }
    if body is not None:
        result["requestBody"] = {"required": True, "content": json_content(body)}
    if auth:
        result["security"] = [{"bearer": []}, {"session": []}]
    if params:
        result["parameters"] = params
    return result


def path_param(name: str) -> dict[str, Any]:
    """A string path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": STR}


def query_param(name: str, description: str) -> dict[str, Any]:
    """An optional string query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": STR,
        "description": description,
    }


COUNTER_ERRORS = ("400", "401", "403", "404", "409", "429")


def counter_action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A POST /counters/{code}/... operation answering {"ticket"}."""
    return {
        "post": op(
            summary,
            answer("200", "the ticket", ref("TicketResult")),
            errors=COUNTER_ERRORS,
            body=body,
            auth=True,
            params=[path_param("code")],
        )
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    ticket_body = obj(["service"], service=STR, procedure=nullable(STR), priority=nullable(STR))
    idem = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 128},
    }
    paths: dict[str, Any] = {
        "/openapi.json": {
            "get": op("This document", answer("200", "OpenAPI 3", {"type": "object"}), errors=())
        },
        "/services": {
            "get": op(
                "Services (lĩnh vực)",
                answer("200", "list", {"type": "array", "items": ref("Service")}),
                errors=(),
            )
        },
        "/priorities": {
            "get": op(
                "Priority categories",
                answer("200", "list", {"type": "array", "items": ref("Priority")}),
                errors=(),
            )
        },
        "/procedures": {
            "get": op(
                "Procedures matched without diacritics",
                answer("200", "list", {"type": "array", "items": ref("Procedure")}),
                errors=("400", "404"),
                params=[
                    query_param("q", "text, diacritics optional"),
                    query_param("service", "a service code"),
                ],
            )
        },
        "/tickets": {
            "post": op(
                "Issue a ticket",
                answer("201", "issued", ref("Ticket")),
                answer("200", "replayed for the same Idempotency-Key", ref("Ticket")),
                errors=("400", "401", "403", "404", "409", "413"),
                body=ticket_body,
                auth=True,
                params=[idem],
            )
        },
        "/tickets/{lookup_code}": {
            "get": op(
                "A ticket's live status",
                answer("200", "status", ref("TicketStatus")),
                errors=("404", "429"),
                params=[path_param("lookup_code")],
            )
        },
        "/tickets/{lookup_code}/cancel": {
            "post": op(
                "Cancel a waiting ticket",
                answer("200", "cancelled", ref("TicketResult")),
                errors=("401", "404", "409", "429"),
                params=[path_param("lookup_code")],
            )
        },
        "/counters": {
            "get": op(
                "Counters",
                answer("200", "list", {"type": "array", "items": ref("Counter")}),
                errors=("401",),
                auth=True,
            )
        },
        "/counters/{code}/call-next": {
            "post": op(
                "Finish the current ticket and call the next",
                answer("200", "called", ref("TicketResult")),
                answer("204", "nobody waits"),
                errors=COUNTER_ERRORS,
                auth=True,
                params=[path_param("code")],
            )
        },
        "/counters/{code}/recall": counter_action("Announce the current ticket again"),
        "/counters/{code}/start": counter_action("The called citizen arrived: called → serving"),
        "/counters/{code}/skip": counter_action("The current ticket is a no-show"),
        "/counters/{code}/finish": counter_action("The current ticket is served"),
        "/counters/{code}/transfer": counter_action(
            "Send the current ticket to a service or counter, keeping its place",
            obj([], service=STR, counter=STR),
        ),
        "/counters/{code}/call": counter_action(
            "Call a waiting or no-show ticket by number", obj(["number"], number=STR)
        ),
        "/display/state": {
            "get": op("The TV's state", answer("200", "state", ref("DisplayState")), errors=())
        },
        "/auth/login": {
            "post": op(
                "Sign in (sets the session cookie)",
                answer(
                    "200",
                    "signed in",
                    obj(["user", "csrf_token"], user=ref("User"), csrf_token=STR),
                ),
                errors=("400", "401", "429"),
                body=obj(["username", "password"], username=STR, password=STR),
            )
        },
        "/auth/logout": {
            "post": op("Sign out", answer("200", "signed out", obj([], ok=BOOL)), errors=())
        },
        "/auth/me": {
            "get": op(
                "Who the request authenticates as",
                answer("200", "principal", obj(["user"], user=ref("User"), csrf_token=STR)),
                errors=("401",),
                auth=True,
            )
        },
    }
    for action in ("pause", "resume"):
        paths[f"/counters/{{code}}/{action}"] = {
            "post": op(
                f"{action.capitalize()} the counter",
                answer("200", "the counter", ref("CounterResult")),
                errors=COUNTER_ERRORS,
                auth=True,
                params=[path_param("code")],
            )
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Luot API",
            "version": "1",
            "description": "Queue tickets, counters and displays of a one-stop center.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "state changes also need the X-CSRFToken header",
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI document of every route."""
    return jsonify(document())
