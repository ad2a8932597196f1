"""Counter routes: the list, and each officer action at one counter."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from server.auth import require, require_counter

from . import bp
from .body import json_body, string_field
from .tickets import engine, queries


@bp.get("/counters")
@require()
def counters() -> Any:
    """Every counter with its services, state and current ticket."""
    return jsonify(queries().list_counters())


@bp.post("/counters/<code>/call-next")
def call_next(code: str) -> Any:
    """Finishes the current ticket and calls the next; 204 when nobody waits."""
    who = require_counter(code)
    result = engine().call_next(code, actor=who.actor)
    return Response(status=204) if result is None else jsonify(result)


@bp.post("/counters/<code>/call")
def call_number(code: str) -> Any:
    """Calls a waiting or no-show ticket by its number, out of order."""
    who = require_counter(code)
    number = string_field(json_body(), "number", max_length=16)
    return jsonify(engine().call_number(code, number, actor=who.actor))


@bp.post("/counters/<code>/transfer")
def transfer(code: str) -> Any:
    """Sends the current ticket to another service or counter, keeping its place."""
    who = require_counter(code)
    body = json_body()
    service = string_field(body, "service", required=False, max_length=32)
    counter = string_field(body, "counter", required=False, max_length=32)
    return jsonify(engine().transfer(code, who.actor, service, counter))


def _simple(action: str) -> Any:
    """A route for an action that takes nothing but the counter."""

    def view(code: str) -> Any:
        who = require_counter(code)
        eng = engine()
        if action == "pause":
            return jsonify(eng.set_paused(code, True, actor=who.actor))
        if action == "resume":
            return jsonify(eng.set_paused(code, False, actor=who.actor))
        return jsonify(getattr(eng, action)(code, actor=who.actor))

    view.__name__ = f"counter_{action}"
    view.__doc__ = f"POST /counters/<code>/{action}."
    return view


for _action in ("recall", "start", "skip", "finish", "pause", "resume"):
    bp.add_url_rule(f"/counters/<code>/{_action}", view_func=_simple(_action), methods=["POST"])
