"""QueueEngine: the one object that issues, calls and moves tickets."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import errors, speech
from .clock import Clock
from .events import CounterChanged, Event, EventSink, QueueChanged, TicketCalled, TicketsChanged
from .hours import parse_hours
from .model import AT_COUNTER, Action, Counter, Service, Ticket, TicketEvent, TicketStatus
from .ordering import OrderingPolicy, choose_next, next_streak
from .ports import Repository, Tx
from .queries import Queries
from .views import Snapshot, queue_key

#: How long an Idempotency-Key keeps returning the ticket it created.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
UNSET: Any = object()


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


class QueueEngine(Queries):
    """Queue rules over a repository, a clock and an event sink; knows no web or SQL."""

    def __init__(
        self,
        repo: Repository,
        clock: Clock,
        events: EventSink,
        site_id: int = 1,
        policy: OrderingPolicy | None = None,
        number_width: int = 3,
    ) -> None:
        self.repo, self.clock, self.sink, self.site_id = repo, clock, events, site_id
        self.policy = policy or OrderingPolicy()
        self.number_width = number_width
        self._zones: dict[str, ZoneInfo] = {}
        self._expired_through: str | None = None

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
                counts = tx.waiting_counts(work.day)
                waiting = {s.code: counts.get(s.id, 0) for s in tx.services()}
                work.events.append(QueueChanged(self.site_id, waiting))
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
        self, work: Work, ticket: Ticket, action: Action, to: TicketStatus, **changes: Any
    ) -> Ticket:
        """Applies one transition to a ticket, stores it and logs the event."""
        before = ticket.status
        moved = replace(ticket, status=to, **changes)
        work.tx.update_ticket(moved, expected=before)
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

    # -- issuing -------------------------------------------------------------------------

    def issue(
        self,
        service_code: str,
        procedure_code: str | None = None,
        priority: str | None = None,
        actor: str = "system",
        device: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Issues a ticket; returns its view and False when an idempotency key replayed it."""
        with self._write(actor) as work:
            tx = work.tx
            if device and idempotency_key:
                since = work.now - IDEMPOTENCY_WINDOW
                earlier = tx.idempotent_ticket_id(device, idempotency_key, since)
                if earlier is not None:
                    ticket = tx.ticket(earlier)
                    if ticket is not None:
                        return self._full(tx, work, ticket), False
            service = self.service(tx, service_code)
            procedure_id = self._procedure_id(tx, service, procedure_code)
            if priority is not None and priority not in {p.code for p in tx.priorities()}:
                raise errors.InvalidRequest(f"Unknown priority category '{priority}'")
            self._check_open(service, work.local)
            seq = tx.next_sequence(service.id, work.day)
            if service.daily_limit is not None and seq > service.daily_limit:
                raise errors.DailyLimitReached(
                    f"'{service.name}' đã hết số hôm nay (daily limit {service.daily_limit})"
                )
            ticket = Ticket(
                id=0,
                site_id=self.site_id,
                day=work.day,
                seq=seq,
                number=f"{service.prefix}{seq:0{self.number_width}d}",
                service_id=service.id,
                origin_service_id=service.id,
                procedure_id=procedure_id,
                priority=priority,
                status=TicketStatus.WAITING,
                lookup_code=secrets.token_urlsafe(12),
                issued_at=work.now,
                queued_at=work.now,
                issued_by=actor,
            )
            ticket.id = tx.insert_ticket(ticket)
            work.changed.append(
                TicketEvent(
                    ticket.id,
                    work.now,
                    Action.ISSUE,
                    None,
                    TicketStatus.WAITING,
                    actor,
                    service_id=service.id,
                    data={"priority": priority} if priority else {},
                )
            )
            # Nobody follows a ticket yet at the instant it is issued: no ticket_updated for it.
            if priority:  # a priority ticket steps ahead of the ordinary ones in its line
                work.lines.add(queue_key(ticket))
            if device and idempotency_key:
                tx.remember_idempotency(device, idempotency_key, ticket.id, work.now)
            view = self._full(tx, work, ticket)
        return view, True

    @staticmethod
    def _procedure_id(tx: Tx, service: Service, code: str | None) -> int | None:
        """The procedure's id; it must exist and belong to the service."""
        if code is None:
            return None
        for procedure in tx.procedures():
            if procedure.code == code:
                if procedure.service_id != service.id:
                    raise errors.InvalidRequest(
                        f"Procedure '{code}' does not belong to service '{service.code}'"
                    )
                return procedure.id
        raise errors.NotFound(f"Không có thủ tục '{code}' (no such procedure)")

    @staticmethod
    def _check_open(service: Service, local: datetime) -> None:
        """Refuses a closed service or a time outside its sessions."""
        hours = parse_hours(service.hours)
        if not service.is_open or not hours.is_open(local):
            raise errors.ServiceClosed(
                f"'{service.name}' hiện không cấp số (closed; hours: {service.hours})",
                hours=service.hours,
            )

    def _full(self, tx: Tx, work: Work, ticket: Ticket) -> dict[str, Any]:
        """The full view of a ticket as the transaction sees it."""
        return Snapshot(tx, work.day, work.now, self.zone(tx)).full_ticket(ticket)

    # -- counter actions -----------------------------------------------------------------

    def call_next(self, counter_code: str, actor: str = "system") -> dict[str, Any] | None:
        """Finishes the counter's current ticket and calls the next one (None: nobody waits)."""
        with self._write(actor) as work:
            counter = self.counter(work.tx, counter_code)
            if counter.paused:
                raise errors.CounterPaused(f"{counter.name} đang tạm dừng (counter paused)")
            self._finish_current(work, counter)
            heads = work.tx.line_heads(work.day, counter_id=counter.id)
            for service_id in counter.service_ids:
                heads += work.tx.line_heads(work.day, service_id=service_id)
            chosen = choose_next(
                heads, counter.service_ids, counter.id, counter.priority_streak, self.policy
            )
            if chosen is None:
                work.tx.update_counter(counter)
                work.events.append(CounterChanged(self.site_id, counter.code))
                return None
            counter.priority_streak = next_streak(chosen, counter.priority_streak)
            return self._call(work, counter, chosen)

    def call_number(self, counter_code: str, number: str, actor: str = "system") -> dict[str, Any]:
        """Calls a waiting or no-show ticket of today out of order."""
        if not isinstance(number, str) or not number.strip():
            raise errors.InvalidRequest("'number' must be a ticket number such as A012")
        with self._write(actor) as work:
            counter = self.counter(work.tx, counter_code)
            if counter.paused:
                raise errors.CounterPaused(f"{counter.name} đang tạm dừng (counter paused)")
            ticket = work.tx.ticket_by_number(work.day, number.strip().upper())
            if ticket is None:
                raise errors.NotFound(f"Không có số {number} hôm nay (no such ticket today)")
            if ticket.status not in (TicketStatus.WAITING, TicketStatus.NO_SHOW):
                raise errors.InvalidState(
                    f"Số {ticket.number} đang ở trạng thái {ticket.status.value}",
                    status=ticket.status.value,
                )
            self._finish_current(work, counter)
            return self._call(work, counter, ticket)

    def _finish_current(self, work: Work, counter: Counter) -> None:
        """The counter's current ticket (if any) is served."""
        ticket = self._current(work.tx, counter)
        if ticket is not None:
            self._move(work, ticket, Action.FINISH, TicketStatus.SERVED, finished_at=work.now)
        counter.current_ticket_id = None

    def _call(self, work: Work, counter: Counter, ticket: Ticket) -> dict[str, Any]:
        """Puts a ticket at the counter and announces it."""
        called = self._move(
            work,
            ticket,
            Action.CALL,
            TicketStatus.CALLED,
            counter_id=counter.id,
            target_counter_id=None,
            called_at=work.now,
            started_at=None,
            finished_at=None,
        )
        counter.current_ticket_id = called.id
        work.tx.update_counter(counter)
        self._announce(work, counter, called, work.changed[-1])
        return {"ticket": self._full(work.tx, work, called)}

    def _announce(self, work: Work, counter: Counter, ticket: Ticket, event: TicketEvent) -> None:
        """Queues the `ticket_called` event for displays, the counter and the ticket."""
        snap = Snapshot(work.tx, work.day, work.now, self.zone(work.tx))
        text = speech.announcement(ticket.number, counter.name, recall=event.action == "recall")
        payload = snap.call_payload(event, ticket, text)
        work.events.append(TicketCalled(self.site_id, counter.code, ticket.lookup_code, payload))
        work.events.append(CounterChanged(self.site_id, counter.code))

    @staticmethod
    def _current(tx: Tx, counter: Counter) -> Ticket | None:
        """The ticket at the counter, if it is still there."""
        if counter.current_ticket_id is None:
            return None
        ticket = tx.ticket(counter.current_ticket_id)
        if ticket is None or ticket.status not in AT_COUNTER:
            return None
        return ticket

    def _require_current(self, work: Work, counter_code: str) -> tuple[Counter, Ticket]:
        """The counter and its current ticket, or no_current_ticket."""
        counter = self.counter(work.tx, counter_code)
        ticket = self._current(work.tx, counter)
        if ticket is None:
            raise errors.NoCurrentTicket(f"{counter.name} chưa gọi số nào (no current ticket)")
        return counter, ticket

    def recall(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """Announces the current ticket again."""
        with self._write(actor) as work:
            counter, ticket = self._require_current(work, counter_code)
            event = TicketEvent(
                ticket.id,
                work.now,
                Action.RECALL,
                ticket.status,
                ticket.status,
                actor,
                counter_id=counter.id,
                service_id=ticket.service_id,
            )
            work.changed.append(event)
            self._announce(work, counter, ticket, event)
            return {"ticket": self._full(work.tx, work, ticket)}

    def start(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """The called citizen arrived: called → serving."""
        with self._write(actor) as work:
            counter, ticket = self._require_current(work, counter_code)
            if ticket.status != TicketStatus.CALLED:
                raise errors.InvalidState(f"Số {ticket.number} đang được phục vụ (already serving)")
            moved = self._move(
                work, ticket, Action.START, TicketStatus.SERVING, started_at=work.now
            )
            work.events.append(CounterChanged(self.site_id, counter.code))
            return {"ticket": self._full(work.tx, work, moved)}

    def _leave(
        self, counter_code: str, actor: str, action: Action, to: TicketStatus
    ) -> dict[str, Any]:
        """The current ticket leaves the counter as served or no-show."""
        with self._write(actor) as work:
            counter, ticket = self._require_current(work, counter_code)
            moved = self._move(work, ticket, action, to, finished_at=work.now)
            counter.current_ticket_id = None
            work.tx.update_counter(counter)
            work.events.append(CounterChanged(self.site_id, counter.code))
            return {"ticket": self._full(work.tx, work, moved)}

    def finish(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """The current ticket is served."""
        return self._leave(counter_code, actor, Action.FINISH, TicketStatus.SERVED)

    def skip(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """The current ticket did not come: no-show (it can be called back by number)."""
        return self._leave(counter_code, actor, Action.SKIP, TicketStatus.NO_SHOW)

    def transfer(
        self,
        counter_code: str,
        actor: str = "system",
        service_code: str | None = None,
        to_counter_code: str | None = None,
    ) -> dict[str, Any]:
        """Sends the current ticket to another service or counter, keeping its place in line."""
        if (service_code is None) == (to_counter_code is None):
            raise errors.InvalidRequest("Give exactly one of 'service' or 'counter'")
        with self._write(actor) as work:
            counter, ticket = self._require_current(work, counter_code)
            if service_code is not None:
                service = self.service(work.tx, service_code)
                target = {"service_id": service.id, "target_counter_id": None}
            else:
                to = self.counter(work.tx, str(to_counter_code))
                if to.id == counter.id:
                    raise errors.InvalidRequest("Cannot transfer a ticket to its own counter")
                target = {"target_counter_id": to.id}
            moved = self._move(
                work,
                ticket,
                Action.TRANSFER,
                TicketStatus.WAITING,
                counter_id=None,
                called_at=None,
                started_at=None,
                **target,
            )
            counter.current_ticket_id = None
            work.tx.update_counter(counter)
            work.events.append(CounterChanged(self.site_id, counter.code))
            return {"ticket": self._full(work.tx, work, moved)}

    def set_paused(self, counter_code: str, paused: bool, actor: str = "system") -> dict[str, Any]:
        """Pauses or resumes a counter; its current ticket stays."""
        with self._write(actor) as work:
            counter = self.counter(work.tx, counter_code)
            counter.paused = paused
            work.tx.update_counter(counter)
            work.events.append(CounterChanged(self.site_id, counter.code))
            snap = Snapshot(work.tx, work.day, work.now, self.zone(work.tx))
            current = self._current(work.tx, counter)
            tickets = {current.id: current} if current else {}
            return {"counter": snap.counter_view(counter, tickets)}

    def cancel(self, lookup_code: str, actor: str = "citizen") -> dict[str, Any]:
        """A waiting ticket is cancelled by its holder or staff."""
        with self._write(actor) as work:
            ticket = work.tx.ticket_by_lookup(lookup_code)
            if ticket is None:
                raise errors.NotFound("Không tìm thấy phiếu (no such ticket)")
            if ticket.status != TicketStatus.WAITING:
                raise errors.InvalidState(
                    f"Số {ticket.number} không còn chờ (status {ticket.status.value})",
                    status=ticket.status.value,
                )
            moved = self._move(
                work, ticket, Action.CANCEL, TicketStatus.CANCELLED, finished_at=work.now
            )
            return {"ticket": self._full(work.tx, work, moved)}

    def expire_past_days(self) -> int:
        """Closes every unfinished ticket of an earlier day; returns how many."""
        self._expired_through = None
        with self._write("system") as work:
            return len(work.changed)

    def update_service(
        self,
        code: str,
        hours: str | None = None,
        daily_limit: int | None = UNSET,
        is_open: bool | None = None,
    ) -> Service:
        """Changes a service's hours, daily limit (None removes it) or open flag."""
        if hours is not None:
            hours = parse_hours(hours).spec()
        if daily_limit is not UNSET and daily_limit is not None and daily_limit < 0:
            raise errors.InvalidRequest("daily limit must be a whole number ≥ 0 or none")
        with self._write("admin") as work:
            service = self.service(work.tx, code)
            changes: dict[str, Any] = {}
            if hours is not None:
                changes["hours"] = hours
            if daily_limit is not UNSET:
                changes["daily_limit"] = daily_limit
            if is_open is not None:
                changes["is_open"] = is_open
            updated = replace(service, **changes)
            work.tx.update_service(updated)
        return updated
