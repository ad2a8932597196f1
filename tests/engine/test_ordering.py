"""Tests of the ordering policy: which waiting ticket a counter calls next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.engine.model import Ticket, TicketStatus
from server.engine.ordering import (
    OrderingPolicy,
    choose_next,
    line_order,
    next_streak,
    preference_rank,
)

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
COUNTER = 5
OTHER_COUNTER = 6
A, B, C = 1, 2, 3
DEFAULT = OrderingPolicy()
STRICT = OrderingPolicy(strict=True)


def ticket(
    ident: int,
    service: int,
    minute: float,
    priority: str | None = None,
    target: int | None = None,
) -> Ticket:
    """A waiting ticket queued `minute` minutes after T0."""
    at = T0 + timedelta(minutes=minute)
    return Ticket(
        id=ident,
        site_id=1,
        day="2026-11-23",
        seq=ident,
        number=f"X{ident:03d}",
        service_id=service,
        origin_service_id=service,
        procedure_id=None,
        priority=priority,
        status=TicketStatus.WAITING,
        lookup_code=f"code{ident}",
        issued_at=at,
        queued_at=at,
        target_counter_id=target,
    )


def pick(
    waiting: list[Ticket],
    preference: tuple[int, ...] = (A, B),
    streak: int = 0,
    policy: OrderingPolicy = DEFAULT,
) -> int | None:
    """The id choose_next picks for COUNTER."""
    chosen = choose_next(waiting, preference, COUNTER, streak, policy)
    return None if chosen is None else chosen.id


def test_nobody_waiting() -> None:
    assert pick([]) is None
    assert pick([], policy=STRICT) is None


def test_oldest_first_across_services() -> None:
    waiting = [ticket(1, A, 10), ticket(2, B, 3), ticket(3, A, 7)]
    assert pick(waiting) == 2
    # The counter's preference does not outrank age outside strict mode.
    assert pick(waiting, preference=(B, A)) == 2
    assert pick([ticket(1, A, 10), ticket(3, A, 7)], preference=(B, A)) == 3


def test_preference_breaks_ties_of_age() -> None:
    waiting = [ticket(1, A, 5), ticket(2, B, 5)]
    assert pick(waiting, preference=(A, B)) == 1
    assert pick(waiting, preference=(B, A)) == 2


def test_id_breaks_ties_of_age_and_preference() -> None:
    assert pick([ticket(9, A, 5), ticket(4, A, 5)]) == 4


def test_strict_takes_first_service_with_anyone_waiting() -> None:
    waiting = [ticket(1, A, 10), ticket(2, B, 3)]
    assert pick(waiting, preference=(A, B), policy=STRICT) == 1
    assert pick(waiting, preference=(B, A), policy=STRICT) == 2
    # When the preferred line is empty, strict falls to the next one.
    assert pick([ticket(2, B, 3), ticket(3, C, 1)], preference=(A, B, C), policy=STRICT) == 2
    # Within the chosen line, oldest first.
    assert pick([ticket(1, A, 10), ticket(4, A, 2)], policy=STRICT) == 4


def test_priority_first() -> None:
    waiting = [ticket(1, A, 1), ticket(2, B, 9, priority="elderly"), ticket(3, A, 5)]
    assert pick(waiting) == 2
    # The oldest priority ticket among several.
    waiting.append(ticket(4, A, 8, priority="pregnant"))
    assert pick(waiting) == 4


def test_priority_within_strict_line_only() -> None:
    # Strict picks the line first; a priority ticket of a later line does not jump it.
    waiting = [ticket(1, A, 5), ticket(2, B, 1, priority="elderly")]
    assert pick(waiting, preference=(A, B), policy=STRICT) == 1
    waiting.append(ticket(3, A, 9, priority="disability"))
    assert pick(waiting, preference=(A, B), policy=STRICT) == 3


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_streak_guard_lets_an_ordinary_ticket_through(limit: int) -> None:
    policy = OrderingPolicy(max_priority_streak=limit)
    waiting = [ticket(1, A, 0), *(ticket(10 + i, A, 1 + i, priority="elderly") for i in range(9))]
    streak, calls = 0, []
    while waiting:
        chosen = choose_next(waiting, (A, B), COUNTER, streak, policy)
        assert chosen is not None
        calls.append(chosen.id)
        streak = next_streak(chosen, streak)
        waiting.remove(chosen)
    # `limit` priority calls, then the ordinary ticket, then the remaining priority ones.
    assert calls.index(1) == limit
    assert calls[:limit] == [10 + i for i in range(limit)]


def test_streak_guard_with_only_priority_waiting() -> None:
    waiting = [ticket(10, A, 1, priority="elderly"), ticket(11, A, 2, priority="elderly")]
    assert pick(waiting, streak=99) == 10


def test_zero_streak_means_no_priority() -> None:
    policy = OrderingPolicy(max_priority_streak=0)
    waiting = [ticket(1, A, 9), ticket(2, A, 1, priority="elderly")]
    assert pick(waiting, policy=policy) == 1
    assert pick([ticket(2, A, 1, priority="elderly")], policy=policy) == 2


def test_next_streak() -> None:
    assert next_streak(ticket(1, A, 0, priority="elderly"), 2) == 3
    assert next_streak(ticket(1, A, 0), 2) == 0


def test_target_counter_ticket_ranks_first_among_equals() -> None:
    sent = ticket(1, C, 5, target=COUNTER)
    assert preference_rank(sent, (A, B), COUNTER) == -1
    assert preference_rank(ticket(2, B, 5), (A, B), COUNTER) == 1
    assert preference_rank(ticket(3, C, 5), (A, B), COUNTER) == 2
    # Sent to another counter: only its service counts.
    assert preference_rank(ticket(4, A, 5, target=OTHER_COUNTER), (A, B), COUNTER) == 0
    # Same age: the ticket sent here wins over the most preferred service.
    assert pick([ticket(2, A, 5), sent]) == 1
    # Older tickets still go first outside strict mode (a transfer keeps its place by age).
    assert pick([ticket(2, A, 4), sent]) == 2


def test_target_counter_ticket_first_in_strict_mode() -> None:
    sent = ticket(1, C, 50, target=COUNTER)
    assert pick([ticket(2, A, 1), sent], policy=STRICT) == 1


def test_priority_still_applies_to_target_counter_tickets() -> None:
    sent = ticket(1, C, 0, target=COUNTER)
    urgent = ticket(2, B, 9, priority="elderly")
    assert pick([sent, urgent]) == 2
    assert pick([sent, urgent], streak=DEFAULT.max_priority_streak) == 1


def test_line_order_priority_then_oldest() -> None:
    waiting = [
        ticket(1, A, 3),
        ticket(2, A, 1),
        ticket(3, A, 5, priority="elderly"),
        ticket(4, A, 4, priority="pregnant"),
        ticket(5, A, 1),
    ]
    assert [t.id for t in line_order(waiting)] == [4, 3, 2, 5, 1]
