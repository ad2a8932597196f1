"""The domain's records: sites, services, counters, tickets and their events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class TicketStatus(StrEnum):
    """Where a ticket is in its life; the values are the API's words."""

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    SERVED = "served"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: A ticket in one of these still belongs to today's work and is expired at day's end.
UNFINISHED = frozenset({TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING})
#: The statuses of a ticket standing at a counter.
AT_COUNTER = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})


class CounterState(StrEnum):
    """What a counter shows: nobody, somebody, or a pause."""

    IDLE = "idle"
    SERVING = "serving"
    PAUSED = "paused"


class Action(StrEnum):
    """The name of a ticket transition as written in the event log."""

    ISSUE = "issue"
    CALL = "call"
    RECALL = "recall"
    START = "start"
    SKIP = "skip"
    FINISH = "finish"
    TRANSFER = "transfer"
    CANCEL = "cancel"
    EXPIRE = "expire"


@dataclass(frozen=True)
class Site:
    """One center; every other record belongs to a site."""

    id: int
    code: str
    name: str
    timezone: str


@dataclass(frozen=True)
class Service:
    """A lĩnh vực: a queue with its own prefix, hours and daily limit."""

    id: int
    site_id: int
    code: str
    name: str
    prefix: str
    hours: str
    daily_limit: int | None
    is_open: bool
    position: int = 0


@dataclass(frozen=True)
class Procedure:
    """A thủ tục hành chính, belonging to one service."""

    id: int
    site_id: int
    code: str
    name: str
    service_id: int
    name_folded: str = ""  # the name as the kiosk's search compares it (text.fold)


@dataclass(frozen=True)
class PriorityCategory:
    """A reason for priority (elderly, disability, ...), recorded on the ticket."""

    code: str
    name: str


@dataclass
class Counter:
    """A quầy: serves its services in a preference order, one ticket at a time."""

    id: int
    site_id: int
    code: str
    name: str
    service_ids: tuple[int, ...]
    paused: bool = False
    current_ticket_id: int | None = None
    priority_streak: int = 0

    @property
    def state(self) -> CounterState:
        """Paused wins over serving: a paused counter shows "Tạm dừng"."""
        if self.paused:
            return CounterState.PAUSED
        return CounterState.SERVING if self.current_ticket_id else CounterState.IDLE


@dataclass
class Ticket:
    """A numbered ticket; `queued_at` is its place in line and survives transfers."""

    id: int
    site_id: int
    day: str
    seq: int
    number: str
    service_id: int
    origin_service_id: int
    procedure_id: int | None
    priority: str | None
    status: TicketStatus
    lookup_code: str
    issued_at: datetime
    queued_at: datetime
    called_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    counter_id: int | None = None
    target_counter_id: int | None = None
    issued_by: str | None = None


@dataclass(frozen=True)
class TicketEvent:
    """One append-only line of a ticket's history: who moved it, when, from what to what."""

    ticket_id: int
    at: datetime
    action: Action
    from_status: TicketStatus | None
    to_status: TicketStatus
    actor: str
    counter_id: int | None = None
    service_id: int | None = None
    target_counter_id: int | None = None
    data: dict[str, object] = field(default_factory=dict)
