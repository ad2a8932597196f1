"""Events: what a command tells the screens, as plain data, stored in the command's own
transaction with the site's next sequence number (the outbox) and published after it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class Kind(StrEnum):
    """What an event says; the first three are the names `/display` hears."""

    TICKET_CALLED = "ticket_called"  # the body of `ticket_called`
    COUNTER_CHANGED = "counter_changed"  # a counter as the hall sees it
    QUEUE_CHANGED = "queue_changed"  # {"waiting": {CODE: n}}
    TICKETS_CHANGED = "tickets_changed"  # {"moved": [lookup codes], "lines": [[kind, id]]}


#: The kinds every display receives as they are.
BROADCAST = frozenset({Kind.TICKET_CALLED, Kind.COUNTER_CHANGED, Kind.QUEUE_CHANGED})


@dataclass(frozen=True)
class Event:
    """One event of a site; `seq` is 0 until the outbox has numbered it."""

    kind: Kind
    payload: dict[str, Any]
    seq: int = 0


class EventSink(Protocol):
    """Told of the events of a committed transaction, in order."""

    def publish(self, events: Sequence[Event]) -> None:
        """Takes note of the events; must not raise for a delivery failure."""
        ...


class CollectingSink:
    """Keeps published events in a list: the sink of the CLI and of tests that read them."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        """Appends the events."""
        self.events.extend(events)
