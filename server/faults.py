"""Faults a test can set (LUOT_FAULT) to prove that nothing is lost when a server dies."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

from server.engine.events import Event, EventSink, Kind


class KillAfterCall:
    """An EventSink that kills the process as soon as a call is committed: its events are in
    the outbox, and no screen has been told of them yet."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink

    def publish(self, events: Sequence[Event]) -> None:
        """Dies at a call, like a power cut (SIGKILL: nothing runs after it)."""
        if any(e.kind == Kind.TICKET_CALLED for e in events):
            os.kill(os.getpid(), signal.SIGKILL)
        self.sink.publish(events)
