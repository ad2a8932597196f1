"""Event replay: folds the append-only ticket event log back into each ticket's state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .model import AT_COUNTER, UNFINISHED, Action, TicketEvent, TicketStatus

_W, _C, _S = TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING

#: The transitions the engine may write: action → allowed (from, to) status pairs.
TRANSITIONS: dict[Action, frozenset[tuple[TicketStatus | None, TicketStatus]]] = {
    Action.ISSUE: frozenset({(None, _W)}),
    Action.CALL: frozenset({(_W, _C), (TicketStatus.NO_SHOW, _C)}),
    Action.RECALL: frozenset({(_C, _C), (_S, _S)}),
    Action.START: frozenset({(_C, _S)}),
    Action.SKIP: frozenset({(_C, TicketStatus.NO_SHOW), (_S, TicketStatus.NO_SHOW)}),
    Action.FINISH: frozenset({(_C, TicketStatus.SERVED), (_S, TicketStatus.SERVED)}),
    Action.TRANSFER: frozenset({(_C, _W), (_S, _W)}),
    Action.CANCEL: frozenset({(_W, TicketStatus.CANCELLED)}),
    Action.EXPIRE: frozenset((s, TicketStatus.EXPIRED) for s in UNFINISHED),
}


class ReplayError(ValueError):
    """The event log contradicts itself: an event does not follow from the ticket's state."""


@dataclass(frozen=True)
class ReplayedTicket:
    """A ticket's state as its events tell it."""

    ticket_id: int
    status: TicketStatus
    service_id: int
    #: The counter the ticket stands at while called or serving; None otherwise.
    counter_id: int | None
    #: The counter that last held the ticket (the stored `tickets.counter_id` column).
    last_counter_id: int | None
    target_counter_id: int | None
    events: int


def _describe(event: TicketEvent, index: int) -> str:
    """Names an event for an error message."""
    before = event.from_status.value if event.from_status else None
    return (
        f"event #{index} ({event.action.value} {before} -> {event.to_status.value} "
        f"at {event.at.isoformat()})"
    )


def apply(state: ReplayedTicket | None, event: TicketEvent, index: int = 0) -> ReplayedTicket:
    """One event applied to a ticket's state (None before its issue); raises ReplayError."""
    where = f"ticket {event.ticket_id}: {_describe(event, index)}"
    current = state.status if state is not None else None
    if event.from_status != current:
        shown = current.value if current is not None else "not issued"
        raise ReplayError(f"{where} starts from a status other than the replayed {shown}")
    if (event.from_status, event.to_status) not in TRANSITIONS[event.action]:
        raise ReplayError(f"{where} is not a transition the engine makes")
    if state is None:
        if event.service_id is None:
            raise ReplayError(f"{where} issues a ticket without a service")
        return ReplayedTicket(
            event.ticket_id,
            event.to_status,
            event.service_id,
            None,
            event.counter_id,
            event.target_counter_id,
            1,
        )
    if event.action == Action.RECALL:
        # A recall only announces again: the ticket stays where it is.
        if event.counter_id != state.counter_id:
            raise ReplayError(
                f"{where} recalls at counter {event.counter_id} a ticket standing at "
                f"{state.counter_id}"
            )
        return replace(state, events=state.events + 1)
    # Every other event carries the ticket's counter, service and target after the move.
    at_counter = event.counter_id if event.to_status in AT_COUNTER else None
    if event.to_status in AT_COUNTER and at_counter is None:
        raise ReplayError(f"{where} puts the ticket at a counter without naming it")
    return ReplayedTicket(
        state.ticket_id,
        event.to_status,
        event.service_id if event.service_id is not None else state.service_id,
        at_counter,
        event.counter_id,
        event.target_counter_id,
        state.events + 1,
    )


def replay(events: Iterable[TicketEvent]) -> dict[int, ReplayedTicket]:
    """Each ticket's state after the events, taken in log order; raises ReplayError."""
    tickets: dict[int, ReplayedTicket] = {}
    for index, event in enumerate(events):
        tickets[event.ticket_id] = apply(tickets.get(event.ticket_id), event, index)
    return tickets
