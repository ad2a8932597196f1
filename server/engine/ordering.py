"""The ordering policy: which waiting ticket a counter calls next, as one pure function."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import Ticket


@dataclass(frozen=True)
class OrderingPolicy:
    """How a counter chooses among its services and between priority and ordinary tickets."""

    #: strict: the first service in the counter's order with anyone waiting; else oldest first.
    strict: bool = False
    #: after this many priority calls in a row an ordinary ticket goes next (0: no priority).
    max_priority_streak: int = 3


def preference_rank(ticket: Ticket, preference: Sequence[int], counter_id: int) -> int:
    """A ticket sent to this very counter ranks first; then the counter's service order."""
    if ticket.target_counter_id == counter_id:
        return -1
    try:
        return preference.index(ticket.service_id)
    except ValueError:
        return len(preference)


def choose_next(
    waiting: Sequence[Ticket],
    preference: Sequence[int],
    counter_id: int,
    priority_streak: int,
    policy: OrderingPolicy,
) -> Ticket | None:
    """The ticket the counter calls next among `waiting` (already limited to what it serves)."""
    if not waiting:
        return None
    pool = list(waiting)
    if policy.strict:
        first = min(preference_rank(t, preference, counter_id) for t in pool)
        pool = [t for t in pool if preference_rank(t, preference, counter_id) == first]
    priority = [t for t in pool if t.priority]
    ordinary = [t for t in pool if not t.priority]
    # The streak guard: ordinary tickets are never starved by a steady flow of priority ones.
    if priority and (not ordinary or priority_streak < policy.max_priority_streak):
        pool = priority
    elif ordinary:
        pool = ordinary
    return min(pool, key=lambda t: (t.queued_at, preference_rank(t, preference, counter_id), t.id))


def next_streak(chosen: Ticket, priority_streak: int) -> int:
    """The counter's run of priority calls after calling `chosen`."""
    return priority_streak + 1 if chosen.priority else 0


def line_order(waiting: Sequence[Ticket]) -> list[Ticket]:
    """One queue's tickets in the order they are expected to be called: priority, then oldest."""
    return sorted(waiting, key=lambda t: (t.priority is None, t.queued_at, t.id))
