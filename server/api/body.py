"""Reading JSON bodies and fields strictly: wrong shapes are 400 invalid_request, never 500."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from server.engine.errors import InvalidRequest

MISSING: Any = object()


def json_body() -> dict[str, Any]:
    """The request's JSON object (UTF-8)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise InvalidRequest("A JSON object is required as the request body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest("The body is not valid UTF-8") from error
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InvalidRequest(f"The body is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object")
    return value


def string_field(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = True,
    nullable: bool = False,
    max_length: int = 200,
) -> str | None:
    """A string field of a body; absent or null only when allowed."""
    value = body.get(name, MISSING)
    if value is MISSING or value is None:
        if value is None and nullable:
            return None
        if value is MISSING and not required:
            return None
        raise InvalidRequest(f"'{name}' is required", field=name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"'{name}' must be a non-empty string", field=name)
    if len(value) > max_length:
        raise InvalidRequest(f"'{name}' is longer than {max_length} characters", field=name)
    return value
