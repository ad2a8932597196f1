"""Rate limits on the routes a stranger can hammer (lookups, cancels, logins), with `limits`.

Only the decorated views pay for a check: a kiosk burst on POST /tickets costs nothing here.
Counts are kept per app in memory, per client address (the proxy's client behind
LUOT_TRUSTED_PROXIES).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from server.engine.errors import RateLimited

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """Gives the app its own counters."""
    app.extensions["luot_rate_limiter"] = MovingWindowRateLimiter(MemoryStorage())


@lru_cache(maxsize=32)
def _item(rate: str) -> RateLimitItem:
    """A rate such as "120/minute", parsed once."""
    return parse(rate)


def rate_limited(rate: Callable[[], str]) -> Callable[[F], F]:
    """Refuses the view with rate_limited (429) past `rate()` requests from one address."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            limiter: MovingWindowRateLimiter = current_app.extensions["luot_rate_limiter"]
            item = _item(rate())
            if not limiter.hit(item, request.remote_addr or "-", request.endpoint or ""):
                raise RateLimited(
                    f"Quá nhiều yêu cầu, vui lòng thử lại sau (too many requests: at most {item})"
                )
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
