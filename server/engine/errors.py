"""Domain errors, each with a stable code and the HTTP status it maps to."""

from __future__ import annotations


class QueueError(Exception):
    """Base of every error the engine raises on purpose; `code` is stable for integrators."""

    code = "queue_error"
    status = 400

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        """The JSON body of CONTRACT.md: {"error": {"code", "message"}}."""
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class InvalidRequest(QueueError):
    """A value of the wrong shape, type or outside its set."""

    code = "invalid_request"
    status = 400


class Unauthorized(QueueError):
    """No credentials, or credentials that are not valid."""

    code = "unauthorized"
    status = 401


class Forbidden(QueueError):
    """Valid credentials that may not do this."""

    code = "forbidden"
    status = 403


class NotFound(QueueError):
    """A reference to a service, procedure, counter or ticket that does not exist."""

    code = "not_found"
    status = 404


class ServiceClosed(QueueError):
    """The service is closed, or the time is outside its session hours."""

    code = "service_closed"
    status = 409


class DailyLimitReached(QueueError):
    """The service has issued its daily limit of tickets."""

    code = "daily_limit_reached"
    status = 409


class NoCurrentTicket(QueueError):
    """The counter has no current ticket to act on."""

    code = "no_current_ticket"
    status = 409


class CounterPaused(QueueError):
    """The counter is paused and calls nobody."""

    code = "counter_paused"
    status = 409


class InvalidState(QueueError):
    """The ticket or counter is not in a state that allows this action."""

    code = "invalid_state"
    status = 409


class Conflict(QueueError):
    """A name that must be unique is taken."""

    code = "conflict"
    status = 409


class PayloadTooLarge(QueueError):
    """The request body is larger than the server accepts."""

    code = "payload_too_large"
    status = 413


class RateLimited(QueueError):
    """Too many requests from one client in a short time."""

    code = "rate_limited"
    status = 429
