"""The TV's state, the same body as the `state` event of /display."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from . import bp
from .tickets import queries


@bp.get("/display/state")
def display_state() -> Any:
    """Counters with their current numbers, the last calls and waiting counts."""
    return jsonify(queries().display_state())
