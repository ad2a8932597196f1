"""QueueEngine: the one object that issues, calls and moves tickets.

Every command is one write transaction (`_write`); what it answers is read after the commit,
outside the write lock, by `Queries`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from . import errors
from .clock import Clock
from .events import Event, EventSink, Kind
from .hours import parse_hours
from .model import Action, Counter, Service, Ticket, TicketEvent, TicketStatus
from .ordering import OrderingPolicy, choose_next, next_streak
from .ports import Repository
from .queries import Queries
from .views import queue_key
from .work import Work, counter, current, expire_past, move, procedure_id, service

#: How long an Idempotency-Key keeps returning the ticket it created.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
UNSET: Any = object()


class QueueEngine:
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
        self.queries = Queries(repo, clock, site_id)
        self._expired_through: str | None = None  # the day up to which past days are closed

    @contextmanager
    def _write(self, actor: str) -> Iterator[Work]:
        """One write transaction that first closes past days; its events are stored in it
        (the outbox) and published once it is committed."""
        with self.repo.write(self.site_id) as tx:
            # The clock is read once the lock is held, so issue times follow number order.
            now = self.clock.now()
            work = Work(tx, self.site_id, now, self.queries.zone(tx), actor)
            if self._expired_through != work.day:
                expire_past(work)
            yield work
            tx.append_events(work.changed)
            events = work.outbox()
            if events:  # numbered and stored with the command, so none is ever lost
                events = tx.append_outbox(events, work.now)
        self._expired_through = work.day
        self.sink.publish(events)

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
            earlier = None
            if device and idempotency_key:
                since = work.now - IDEMPOTENCY_WINDOW
                earlier = tx.idempotent_ticket_id(device, idempotency_key, since)
            if earlier is None:
                ticket = self._new_ticket(work, service_code, procedure_code, priority)
                if device and idempotency_key:
                    tx.remember_idempotency(device, idempotency_key, ticket.id, work.now)
        if earlier is not None:
            return self.queries.ticket(earlier), False
        return self.queries.answer(ticket), True

    def _new_ticket(
        self, work: Work, service_code: str, procedure_code: str | None, priority: str | None
    ) -> Ticket:
        """Checks the service, takes its next number and stores the ticket."""
        tx = work.tx
        to = service(tx, service_code)
        procedure = procedure_id(tx, to, procedure_code)
        if priority is not None and priority not in {p.code for p in tx.priorities()}:
            raise errors.InvalidRequest(f"Unknown priority category '{priority}'")
        if not to.is_open or not parse_hours(to.hours).is_open(work.local):
            raise errors.ServiceClosed(
                f"'{to.name}' hiện không cấp số (closed; hours: {to.hours})", hours=to.hours
            )
        seq = tx.next_sequence(to.id, work.day)
        if to.daily_limit is not None and seq > to.daily_limit:
            raise errors.DailyLimitReached(
                f"'{to.name}' đã hết số hôm nay (daily limit {to.daily_limit})"
            )
        ticket = Ticket(
            id=0,
            site_id=self.site_id,
            day=work.day,
            seq=seq,
            number=f"{to.prefix}{seq:0{self.number_width}d}",
            service_id=to.id,
            origin_service_id=to.id,
            procedure_id=procedure,
            priority=priority,
            status=TicketStatus.WAITING,
            lookup_code=secrets.token_urlsafe(12),
            issued_at=work.now,
            queued_at=work.now,
            issued_by=work.actor,
        )
        ticket.id = tx.insert_ticket(ticket)
        data: dict[str, object] = {"priority": priority} if priority else {}
        work.changed.append(
            TicketEvent(
                ticket.id,
                work.now,
                Action.ISSUE,
                None,
                TicketStatus.WAITING,
                work.actor,
                service_id=to.id,
                data=data,
            )
        )
        # Nobody follows a ticket at the instant it is issued; a priority one steps ahead of
        # the ordinary tickets of its line, whose places change.
        if priority:
            work.lines.add(queue_key(ticket))
        return ticket

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
            cancelled = move(
                work, ticket, Action.CANCEL, TicketStatus.CANCELLED, finished_at=work.now
            )
        return {"ticket": self.queries.answer(cancelled)}

    def expire_past_days(self) -> int:
        """Closes every unfinished ticket of an earlier day; returns how many."""
        self._expired_through = None
        with self._write("system") as work:
            pass
        return len(work.changed)

    def roll_day(self) -> int:
        """At the first moment of a new local day, expires the old one (else does nothing)."""
        return 0 if self._expired_through == self.queries.today() else self.expire_past_days()

    def prune_outbox(self, keep: timedelta) -> int:
        """Forgets outbox rows older than `keep` (the ticket events keep the history)."""
        with self.repo.write(self.site_id) as tx:
            return tx.prune_outbox(self.clock.now() - keep)

    def update_service(
        self,
        code: str,
        hours: str | None = None,
        daily_limit: int | None = UNSET,
        is_open: bool | None = None,
    ) -> Service:
        """Changes a service's hours, daily limit (None removes it) or open flag."""
        changes: dict[str, Any] = {}
        if hours is not None:
            changes["hours"] = parse_hours(hours).spec()
        if daily_limit is not UNSET:
            if daily_limit is not None and daily_limit < 0:
                raise errors.InvalidRequest("daily limit must be a whole number ≥ 0 or none")
            changes["daily_limit"] = daily_limit
        if is_open is not None:
            changes["is_open"] = is_open
        with self._write("admin") as work:
            updated = replace(service(work.tx, code), **changes)
            work.tx.update_service(updated)
        return updated

    # -- at a counter --------------------------------------------------------------------

    def call_next(self, counter_code: str, actor: str = "system") -> dict[str, Any] | None:
        """Finishes the counter's current ticket and calls the next one (None: nobody waits)."""
        with self._write(actor) as work:
            at = self._working(work, counter_code)
            self._finish_current(work, at)
            heads = work.tx.line_heads(work.day, counter_id=at.id)
            for service_id in at.service_ids:
                heads += work.tx.line_heads(work.day, service_id=service_id)
            streak = self._todays_streak(work, at)
            chosen = choose_next(heads, at.service_ids, at.id, streak, self.policy)
            if chosen is None:
                work.counter_changed(at)
                called = None
            else:
                at.priority_streak = next_streak(chosen, streak)
                called = self._call(work, at, chosen)
        return None if called is None else {"ticket": self.queries.answer(called)}

    def call_number(self, counter_code: str, number: str, actor: str = "system") -> dict[str, Any]:
        """Calls a waiting or no-show ticket of today out of order."""
        if not isinstance(number, str) or not number.strip():
            raise errors.InvalidRequest("'number' must be a ticket number such as A012")
        with self._write(actor) as work:
            at = self._working(work, counter_code)
            ticket = work.tx.ticket_by_number(work.day, number.strip().upper())
            if ticket is None:
                raise errors.NotFound(f"Không có số {number} hôm nay (no such ticket today)")
            if ticket.status not in (TicketStatus.WAITING, TicketStatus.NO_SHOW):
                raise errors.InvalidState(
                    f"Số {ticket.number} đang ở trạng thái {ticket.status.value}",
                    status=ticket.status.value,
                )
            self._finish_current(work, at)
            called = self._call(work, at, ticket)
        return {"ticket": self.queries.answer(called)}

    def recall(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """Announces the current ticket again."""
        with self._write(actor) as work:
            at, ticket = self._with_current(work, counter_code)
            event = TicketEvent(
                ticket.id,
                work.now,
                Action.RECALL,
                ticket.status,
                ticket.status,
                actor,
                counter_id=at.id,
                service_id=ticket.service_id,
            )
            work.changed.append(event)
            self._announce(work, at, ticket, event)
        return {"ticket": self.queries.answer(ticket)}

    def start(self, counter_code: str, actor: str = "system") -> dict[str, Any]:
        """The called citizen arrived: called → serving."""
        with self._write(actor) as work:
            at, ticket = self._with_current(work, counter_code)
            if ticket.status != TicketStatus.CALLED:
                raise errors.InvalidState(f"Số {ticket.number} đang được phục vụ (already serving)")
            started = move(work, ticket, Action.START, TicketStatus.SERVING, started_at=work.now)
            work.counter_changed(at)
        return {"ticket": self.queries.answer(started)}

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
            at, ticket = self._with_current(work, counter_code)
            target: dict[str, int | None]
            if service_code is not None:
                target = {
                    "service_id": service(work.tx, service_code).id,
                    "target_counter_id": None,
                }
            else:
                to = counter(work.tx, str(to_counter_code))
                if to.id == at.id:
                    raise errors.InvalidRequest("Cannot transfer a ticket to its own counter")
                target = {"target_counter_id": to.id}
            moved = move(
                work,
                ticket,
                Action.TRANSFER,
                TicketStatus.WAITING,
                data={"from_counter": at.code},
                counter_id=None,
                called_at=None,
                started_at=None,
                **target,
            )
            at.current_ticket_id = None
            work.counter_changed(at)
        return {"ticket": self.queries.answer(moved)}

    def set_paused(self, counter_code: str, paused: bool, actor: str = "system") -> dict[str, Any]:
        """Pauses or resumes a counter; its current ticket stays."""
        with self._write(actor) as work:
            at = counter(work.tx, counter_code)
            at.paused = paused
            work.counter_changed(at)
        return {"counter": self.queries.counter(counter_code)}

    # -- the steps of the counter actions ------------------------------------------------

    @staticmethod
    def _working(work: Work, code: str) -> Counter:
        """The counter, which must not be paused to call."""
        at = counter(work.tx, code)
        if at.paused:
            raise errors.CounterPaused(f"{at.name} đang tạm dừng (counter paused)")
        return at

    @staticmethod
    def _with_current(work: Work, code: str) -> tuple[Counter, Ticket]:
        """The counter and its current ticket, or no_current_ticket."""
        at = counter(work.tx, code)
        ticket = current(work.tx, at)
        if ticket is None:
            raise errors.NoCurrentTicket(f"{at.name} chưa gọi số nào (no current ticket)")
        return at, ticket

    @staticmethod
    def _todays_streak(work: Work, at: Counter) -> int:
        """The counter's priority calls in a row, if it called anybody today: the first
        calls of a day put priority first again, whatever the last ones of yesterday were."""
        if not at.priority_streak:
            return 0
        midnight = work.local.replace(hour=0, minute=0, second=0, microsecond=0)
        return at.priority_streak if at.id in work.tx.active_counter_ids(midnight) else 0

    @staticmethod
    def _finish_current(work: Work, at: Counter) -> None:
        """The counter's current ticket (if any) is served."""
        ticket = current(work.tx, at)
        if ticket is not None:
            move(work, ticket, Action.FINISH, TicketStatus.SERVED, finished_at=work.now)
        at.current_ticket_id = None

    def _call(self, work: Work, at: Counter, ticket: Ticket) -> Ticket:
        """Puts a ticket at the counter and announces it."""
        called = move(
            work,
            ticket,
            Action.CALL,
            TicketStatus.CALLED,
            counter_id=at.id,
            target_counter_id=None,
            called_at=work.now,
            started_at=None,
            finished_at=None,
        )
        at.current_ticket_id = called.id
        self._announce(work, at, called, work.changed[-1])
        return called

    def _announce(self, work: Work, at: Counter, ticket: Ticket, event: TicketEvent) -> None:
        """Stores the counter and queues `ticket_called` for the hall, the counter and the
        ticket's own page."""
        work.events.append(Event(Kind.TICKET_CALLED, work.snapshot().call_payload(event, ticket)))
        work.counter_changed(at)

    def _leave(
        self, counter_code: str, actor: str, action: Action, to: TicketStatus
    ) -> dict[str, Any]:
        """The current ticket leaves the counter as served or no-show."""
        with self._write(actor) as work:
            at, ticket = self._with_current(work, counter_code)
            moved = move(work, ticket, action, to, finished_at=work.now)
            at.current_ticket_id = None
            work.counter_changed(at)
        return {"ticket": self.queries.answer(moved)}
