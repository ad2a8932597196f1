"""/api/v1: the JSON API of CONTRACT.md."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import auth, counters, display, openapi, tickets  # noqa: E402,F401  (routes register on bp)
