"""Tests of event replay: folding a ticket's log back into its state, and refusing nonsense."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.engine.model import Action, TicketEvent, TicketStatus
from server.engine.replay import ReplayedTicket, ReplayError, replay

W, C, S = TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def ev(
    ticket: int,
    action: Action,
    before: TicketStatus | None,
    after: TicketStatus,
    counter: int | None = None,
    service: int | None = 10,
    target: int | None = None,
    minute: int = 0,
) -> TicketEvent:
    """An event as the engine writes it (service, counter and target after the move)."""
    return TicketEvent(
        ticket_id=ticket,
        at=T0 + timedelta(minutes=minute),
        action=action,
        from_status=before,
        to_status=after,
        actor="test",
        counter_id=counter,
        service_id=service,
        target_counter_id=target,
    )


def test_empty_log() -> None:
    assert replay([]) == {}


def test_issue_call_recall_start_finish() -> None:
    log = [
        ev(1, Action.ISSUE, None, W),
        ev(1, Action.CALL, W, C, counter=3, minute=1),
        ev(1, Action.RECALL, C, C, counter=3, minute=2),
        ev(1, Action.START, C, S, counter=3, minute=3),
        ev(1, Action.RECALL, S, S, counter=3, minute=4),
    ]
    assert replay(log) == {1: ReplayedTicket(1, S, 10, 3, 3, None, 5)}
    done = replay([*log, ev(1, Action.FINISH, S, TicketStatus.SERVED, counter=3, minute=5)])
    # Off the counter, but the stored column still names the counter that served it.
    assert done[1] == ReplayedTicket(1, TicketStatus.SERVED, 10, None, 3, None, 6)


def test_tickets_are_independent_and_interleaved() -> None:
    log = [
        ev(1, Action.ISSUE, None, W),
        ev(2, Action.ISSUE, None, W, service=11),
        ev(2, Action.CALL, W, C, counter=4, service=11),
        ev(1, Action.CANCEL, W, TicketStatus.CANCELLED),
        ev(2, Action.SKIP, C, TicketStatus.NO_SHOW, counter=4, service=11),
        ev(2, Action.CALL, TicketStatus.NO_SHOW, C, counter=5, service=11),
    ]
    result = replay(iter(log))
    assert result[1].status == TicketStatus.CANCELLED
    assert result[1].counter_id is None
    assert result[2] == ReplayedTicket(2, C, 11, 5, 5, None, 4)


def test_transfers_to_a_service_and_to_a_counter() -> None:
    log = [
        ev(1, Action.ISSUE, None, W),
        ev(1, Action.CALL, W, C, counter=3),
        ev(1, Action.TRANSFER, C, W, service=12),
    ]
    assert replay(log)[1] == ReplayedTicket(1, W, 12, None, None, None, 3)
    log += [
        ev(1, Action.CALL, W, C, counter=4, service=12),
        ev(1, Action.TRANSFER, C, W, service=12, target=7),
    ]
    assert replay(log)[1] == ReplayedTicket(1, W, 12, None, None, 7, 5)
    log.append(ev(1, Action.CALL, W, C, counter=7, service=12))
    assert replay(log)[1] == ReplayedTicket(1, C, 12, 7, 7, None, 6)


def test_expire_from_each_unfinished_status() -> None:
    log = [
        ev(1, Action.ISSUE, None, W),
        ev(2, Action.ISSUE, None, W),
        ev(2, Action.CALL, W, C, counter=3),
        ev(1, Action.EXPIRE, W, TicketStatus.EXPIRED),
        ev(2, Action.EXPIRE, C, TicketStatus.EXPIRED, counter=3),
    ]
    result = replay(log)
    assert {t.status for t in result.values()} == {TicketStatus.EXPIRED}
    assert result[2].counter_id is None
    assert result[2].last_counter_id == 3


def test_from_status_mismatch_names_ticket_and_event() -> None:
    log = [
        ev(7, Action.ISSUE, None, W),
        ev(7, Action.CALL, W, C, counter=3, minute=1),
        ev(7, Action.FINISH, C, TicketStatus.SERVED, counter=3, minute=2),
        ev(7, Action.CALL, W, C, counter=3, minute=3),
    ]
    with pytest.raises(ReplayError, match=r"ticket 7: event #3 \(call waiting -> called") as info:
        replay(log)
    assert "served" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_event_before_issue_and_issue_twice() -> None:
    with pytest.raises(ReplayError, match=r"ticket 1: event #0.*not issued"):
        replay([ev(1, Action.CALL, W, C, counter=3)])
    with pytest.raises(ReplayError, match="ticket 1: event #1"):
        replay([ev(1, Action.ISSUE, None, W), ev(1, Action.ISSUE, None, W)])


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        (Action.START, S, S),
        (Action.CANCEL, C, TicketStatus.CANCELLED),
        (Action.RECALL, C, S),
        (Action.FINISH, C, TicketStatus.NO_SHOW),
    ],
)
def test_transition_the_engine_never_makes(
    action: Action, before: TicketStatus, after: TicketStatus
) -> None:
    log = [ev(1, Action.ISSUE, None, W), ev(1, Action.CALL, W, C, counter=3)]
    if before == S:
        log.append(ev(1, Action.START, C, S, counter=3))
    with pytest.raises(ReplayError, match="not a transition"):
        replay([*log, ev(1, action, before, after, counter=3)])


def test_recall_at_another_counter() -> None:
    log = [
        ev(1, Action.ISSUE, None, W),
        ev(1, Action.CALL, W, C, counter=3),
        ev(1, Action.RECALL, C, C, counter=4),
    ]
    with pytest.raises(ReplayError, match="recalls at counter 4"):
        replay(log)
    log[-1] = ev(1, Action.RECALL, C, C, counter=None)
    with pytest.raises(ReplayError, match="recalls at counter None"):
        replay(log)


def test_issue_without_service_and_call_without_counter() -> None:
    with pytest.raises(ReplayError, match="without a service"):
        replay([ev(1, Action.ISSUE, None, W, service=None)])
    with pytest.raises(ReplayError, match="without naming it"):
        replay([ev(1, Action.ISSUE, None, W), ev(1, Action.CALL, W, C)])
