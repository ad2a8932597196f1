"""Events the engine publishes after a commit; the realtime layer maps them to rooms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class TicketCalled:
    """A counter called (or recalled) a ticket: the body of Socket.IO `ticket_called`."""

    site_id: int
    counter_code: str
    lookup_code: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class QueueChanged:
    """The waiting counts changed; `Queries.waiting_counts()` tells the new ones.

    The counts are not carried: a burst of issues would count the lines once per ticket
    inside the write lock, where one count after the burst tells displays the same.
    """

    site_id: int


@dataclass(frozen=True)
class TicketsChanged:
    """These tickets, and every ticket of these lines, may show a new status or place."""

    site_id: int
    lookup_codes: tuple[str, ...]
    lines: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class CounterChanged:
    """A counter's current ticket or pause changed."""

    site_id: int
    counter_code: str


Event = TicketCalled | QueueChanged | TicketsChanged | CounterChanged


class EventSink(Protocol):
    """Receives the events of a committed transaction, in order."""

    def publish(self, events: Sequence[Event]) -> None:
        """Delivers the events; must not raise for a delivery failure."""
        ...


class CollectingSink:
    """Keeps published events in a list: the sink of the CLI and of tests that read them."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        """Appends the events."""
        self.events.extend(events)
