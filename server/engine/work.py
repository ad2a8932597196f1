"""The write side's machinery: one transaction of work, its events, and ticket moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from . import errors
from .events import CounterChanged, Event, EventSink, QueueChanged, TicketsChanged
from .model import Action, Counter, Service, Ticket, TicketEvent, TicketStatus
from .ordering import OrderingPolicy
from .ports import Tx
from .queries import Queries
from .views import Snapshot, queue_key


@dataclass
class Work:
    """What one write transaction has learnt: the snapshot clock and events to publish."""

    tx: Tx
    now: datetime
    local: datetime
    day: str
    actor: str
    events: list[Event] = field(default_factory=list)
    changed: list[TicketEvent] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    lines: set[tuple[str, int]] = field(default_factory=set)


class Transactions(Queries):
    """Opens write transactions that expire past days and publish their events after commit."""

    sink: EventSink
    policy: OrderingPolicy
    number_width: int
    _expired_through: str | None

    @contextmanager
    def _write(self, actor: str) -> Iterator[Work]:
        """A write transaction that first closes past days; publishes its events after commit."""
        with self.repo.write(self.site_id) as tx:
            # Read the clock only once the lock is held, so issue times follow number order.
            now = self.clock.now()
            local = now.astimezone(self.zone(tx))
            work = Work(tx, now, local, local.date().isoformat(), actor)
            if self._expired_through != work.day:
                self._expire_past(work)
            yield work
            if work.changed:
                tx.append_events(work.changed)
            if any(e.action != Action.ISSUE for e in work.changed):
                self.eta_cache.clear()  # a call or finish changes durations and open counters
            if any(e.action != Action.RECALL for e in work.changed):
                # Only a signal: the realtime layer counts once per burst, after commit.
                work.events.append(QueueChanged(self.site_id))
                codes = tuple(dict.fromkeys(work.codes))
                if codes or work.lines:
                    lines = tuple(sorted(work.lines))
                    work.events.append(TicketsChanged(self.site_id, codes, lines))
        self._expired_through = work.day
        self.sink.publish(work.events)

    def _expire_past(self, work: Work) -> None:
        """Closes unfinished tickets of earlier days as expired, keeping their history."""
        stale = work.tx.unfinished_before(work.day)
        for ticket in stale:
            self._move(work, ticket, Action.EXPIRE, TicketStatus.EXPIRED, finished_at=work.now)
        stale_ids = {t.id for t in stale}
        for counter in work.tx.counters():
            if counter.current_ticket_id in stale_ids:
                counter.current_ticket_id = None
                work.tx.update_counter(counter)
                work.events.append(CounterChanged(self.site_id, counter.code))

    def _move(
        self,
        work: Work,
        ticket: Ticket,
        action: Action,
        to: TicketStatus,
        data: dict[str, object] | None = None,
        **changes: Any,
    ) -> Ticket:
        """Applies one transition to a ticket, stores it and logs the event (with `data`)."""
        before = ticket.status
        moved = replace(ticket, status=to, **changes)
        work.tx.update_ticket(ticket, moved)
        work.codes.append(ticket.lookup_code)
        for state in (ticket, moved):
            if state.status == TicketStatus.WAITING:
                work.lines.add(queue_key(state))
        work.changed.append(
            TicketEvent(
                ticket_id=ticket.id,
                at=work.now,
                action=action,
                from_status=before,
                to_status=to,
                actor=work.actor,
                counter_id=moved.counter_id,
                service_id=moved.service_id,
                target_counter_id=moved.target_counter_id,
                data=data or {},
            )
        )
        return moved

    # -- lookups inside a transaction ----------------------------------------------------

    @staticmethod
    def service(tx: Tx, code: str) -> Service:
        """A service by code, or not_found."""
        for service in tx.services():
            if service.code == code:
                return service
        raise errors.NotFound(f"Không có lĩnh vực '{code}' (no such service)")

    @staticmethod
    def counter(tx: Tx, code: str) -> Counter:
        """A counter by code, or not_found."""
        for counter in tx.counters():
            if counter.code == code:
                return counter
        raise errors.NotFound(f"Không có quầy '{code}' (no such counter)")

    def _full(self, tx: Tx, work: Work, ticket: Ticket) -> dict[str, Any]:
        """The full view of a ticket as the transaction sees it."""
        return Snapshot(tx, work.day, work.now, self.zone(tx), self.eta_cache).full_ticket(ticket)
