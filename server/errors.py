"""One place that turns errors into the JSON of CONTRACT.md (and plain pages elsewhere)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from server.engine.errors import QueueError

log = logging.getLogger(__name__)

#: HTTP statuses werkzeug raises, with our stable codes.
HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "invalid_state",
    413: "payload_too_large",
    415: "invalid_request",
    429: "rate_limited",
}


def error_response(code: str, message: str, status: int) -> Any:
    """{"error": {"code", "message"}} with its status."""
    return jsonify({"error": {"code": code, "message": message}}), status


def register(app: Flask) -> None:
    """Installs the handlers on the app."""

    @app.errorhandler(QueueError)
    def queue_error(error: QueueError) -> Any:
        return jsonify(error.to_dict()), error.status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error: RequestEntityTooLarge) -> Any:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return error_response("payload_too_large", f"The body is larger than {limit} bytes", 413)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        code = HTTP_CODES.get(status, "http_error")
        return error_response(code, error.description or error.name, status)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response("internal_error", "Lỗi máy chủ (internal server error)", 500)
