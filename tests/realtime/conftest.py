"""Fixtures of the live-server tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.realtime.live import Listener


@pytest.fixture
def listen() -> Iterator[Callable[..., Listener]]:
    """Connects Listeners; disconnects them when the test ends, before the server fixtures they
    use stop (a module's shared `live_server` stops only after its last test)."""
    made: list[Listener] = []

    def make(
        server: LiveServer,
        namespace: str = "/display",
        auth: Any = None,
        transports: list[str] | None = None,
    ) -> Listener:
        listener = Listener(namespace)
        made.append(listener)
        return listener.connect(server, auth, transports)

    yield make
    for listener in made:
        listener.close()
